"""ReLU forward and backward as one parallel pass each.

NumPy runs ``np.maximum(x, 0)`` on one thread, and ``g * (x > 0)`` on one thread with a
temporary mask (docs/performance.md: 1.7-2x faster here). Other dtypes, or arrays of different
shapes, take the NumPy expressions.
"""
import numpy as np
from numba import prange

from minigrad.kernels.parallel_launch import parallel_kernel

_FLOATS = (np.float32, np.float64)


@parallel_kernel()
def _relu(x, out):
    for i in prange(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v  # 'v <= 0', not 'v > 0': NaN passes through, as in np.maximum


@parallel_kernel()
def _relu_backward(g, x, out):
    for i in prange(x.size):
        out[i] = g[i] if x[i] > 0 else 0


def relu_forward(x):
    """max(x, 0), elementwise; same shape and dtype."""
    if x.dtype not in _FLOATS:
        return np.maximum(x, 0)
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _relu(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(g, x):
    """g * 1[x > 0], elementwise (0 where x <= 0, whatever g holds there)."""
    if g.dtype not in _FLOATS or g.dtype != x.dtype or g.shape != x.shape:
        return g * (x > 0)
    g, x = np.ascontiguousarray(g), np.ascontiguousarray(x)
    out = np.empty_like(g)
    _relu_backward(g.reshape(-1), x.reshape(-1), out.reshape(-1))
    return out
