"""SGD's update (momentum, weight decay, Nesterov; torch.optim.SGD's rule) as one compiled pass.

Written with NumPy, a momentum step with weight decay takes five passes over each parameter array,
each with a temporary of its size. Here each element of p, g and the velocity v is read and written
once, with the same arithmetic in the same order as the NumPy expressions (the parameter's dtype
throughout), so the numbers are the same (tests/test_training.py).
"""
import numpy as np
from numba import prange

from minigrad.kernels.parallel_launch import parallel_kernel


@parallel_kernel()
def _sgd(p, g, v, lr, mu, wd, first, nesterov):
    """p, g, v: flat (1-D) views (v unused when mu == 0); the scalars in p's dtype."""
    for i in prange(p.size):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]
        if mu != 0:
            vi = gi if first else mu * v[i] + gi
            v[i] = vi
            gi = gi + mu * vi if nesterov else vi
        p[i] -= lr * gi


def sgd_step(p, g, v, lr, momentum, weight_decay, nesterov, first):
    """One SGD step in place: with g <- g + weight_decay p, and with momentum mu > 0
    v <- g on the first step, else mu v + g;  g <- g + mu v (Nesterov) or v;  then p <- p - lr g.
    p, v: C-contiguous arrays of one float dtype (v may be empty when momentum is 0); g: p's shape."""
    d = p.dtype.type
    flat = [a.reshape(-1) for a in (p, np.ascontiguousarray(g, dtype=p.dtype), v)]
    _sgd(*flat, d(lr), d(momentum), d(weight_decay), bool(first), bool(nesterov))
