"""y[n, c, ...] = x[n, c, ...] * scale[c] + shift[c] as one parallel pass: batch normalisation
with running statistics (a fixed affine map per channel), and its input gradient g * scale.

NumPy's ``x * scale + shift`` makes two passes on one thread and a temporary as large as x;
MobileNetV2 has 52 such layers. The kernel multiplies, then adds, each rounded, as NumPy does (no
fused multiply-add), so the results are the same bits (tests/test_kernels.py).
"""
import numpy as np
from numba import prange

from minigrad.kernels.parallel_launch import parallel_kernel

_FLOATS = (np.float32, np.float64)


@parallel_kernel()
def _affine(x, scale, shift, out):
    N, C, P = x.shape
    for t in prange(N * C):
        c = t % C
        s, b = scale[c], shift[c]
        row, dst = x[t // C, c], out[t // C, c]
        for p in range(P):
            dst[p] = row[p] * s + b


def channel_affine(x, scale, shift=None):
    """x (N, C, ...) * scale (C,) + shift (C,) per channel (axis 1), in x's dtype; shift None adds
    nothing. Mixed dtypes take NumPy's expression (computed in the wider type, returned in x's)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    same = x.dtype in _FLOATS and scale.dtype == x.dtype and (shift is None or shift.dtype == x.dtype)
    if not same:
        y = x * scale.reshape(shape)
        return (y if shift is None else y + shift.reshape(shape)).astype(x.dtype, copy=False)
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    shift = np.zeros_like(scale) if shift is None else shift
    _affine(x.reshape(x.shape[0], x.shape[1], -1), np.ascontiguousarray(scale), np.ascontiguousarray(shift),
            out.reshape(x.shape[0], x.shape[1], -1))
    return out
