"""Adam's update as one compiled pass over the parameters (Kingma & Ba 2015, Algorithm 1).

Written with NumPy, the update took about a dozen passes over each parameter array, each with a
temporary of its size: on a network with a 6,250 x 4,096 fully connected layer that was 136 of a
233 ms training step (on two loaded cores). Here each element of p, g, m and v is read and written
once, with the same arithmetic in the same order as the NumPy expressions it replaces (the
parameter's dtype throughout), so the numbers are the same.
"""
import numpy as np
from numba import prange

from minigrad.kernels.parallel_launch import parallel_kernel


@parallel_kernel()
def _adam(p, g, m, v, lr, b1, c1, b2, c2, bc1, bc2, eps, wd):
    """p, g, m, v: flat (1-D) views; the scalars in p's dtype."""
    for i in prange(p.size):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]
        m[i] = b1 * m[i] + c1 * gi
        v[i] = b2 * v[i] + c2 * gi * gi
        p[i] -= lr * (m[i] / bc1) / (np.sqrt(v[i] / bc2) + eps)


def adam_step(p, g, m, v, lr, betas, eps, weight_decay, t):
    """One Adam step in place: with g <- g + weight_decay p,
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
    p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
    p, m, v: C-contiguous arrays of one float dtype (m and v zeros before the first step); g: p's shape."""
    b1, b2 = betas
    d = p.dtype.type
    # flat views made here: the same reshapes inside the parallel kernel (p, g, m, v = p.reshape(-1), ...)
    # made Numba 0.68 drop the stores to v and p
    flat = [a.reshape(-1) for a in (p, np.ascontiguousarray(g, dtype=p.dtype), m, v)]
    _adam(*flat, d(lr), d(b1), d(1 - b1), d(b2), d(1 - b2),
          d(1 - b1 ** t), d(1 - b2 ** t), d(eps), d(weight_decay))
