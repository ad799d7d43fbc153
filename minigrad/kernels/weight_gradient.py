"""The weight gradient of a convolution with few filters and a small kernel, as one compiled pass.

dW (M, K) = sum over n and p of g[n, m, p] cols[k, n*P + p]: M filters (rows of the GEMM), K
patch entries (C*kh*kw, plus the bias's row of ones), and a summed dimension N*P of every
position of every sample (50,176 for LeNet's first layer at batch 64). BLAS splits such a
product badly: its threads divide the tiny M x K output, not the long sum, and it packs both
operands first.

Here the positions are cut into blocks of ``_BLOCK`` (per sample), and the blocks into ``_PARTS``
contiguous parts; each part sums its blocks, holding a 2 x 2 tile of the output in registers while
it streams two rows of g and two of cols (vectorised: ``fastmath`` lets the sums be reassociated),
and the parts are added at the end in part order. The parts are fixed by the shape alone, never by
the thread count (the threads share the parts out), so the result is bit-identical for any
NUMBA_NUM_THREADS. Used when M * K <= ``_SMALL_OUTPUT`` (``conv.py``; above it BLAS is faster;
``minigrad.kernels(small_weight_gradient=...)`` forces either; docs/performance.md).
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels.parallel_launch import parallel_kernel

_SMALL_OUTPUT = 512  # the largest M * K the per-shape rule gives this kernel
_BLOCK = 1024  # positions per block: 2 + 2 rows of this many stay in the L1/L2 cache
_PARTS = 24  # partial sums, whatever the thread count: 1, 2, 3, 4, 6, 8, 12 threads get equal shares


@njit(cache=True, inline="always")
def _tile(a0, a1, b0, b1, zero):
    """The four dot products of rows a0, a1 with rows b0, b1 (all of one length)."""
    s00 = zero
    s01 = zero
    s10 = zero
    s11 = zero
    for j in range(a0.size):
        s00 += a0[j] * b0[j]
        s01 += a0[j] * b1[j]
        s10 += a1[j] * b0[j]
        s11 += a1[j] * b1[j]
    return s00, s01, s10, s11


@parallel_kernel(fastmath=True)
def _weight_gradient(g, cols, zero):
    N, M, P = g.shape
    K = cols.shape[0]
    blocks = (P + _BLOCK - 1) // _BLOCK  # per sample
    items = N * blocks
    n_parts = min(_PARTS, items)  # a function of the shape only
    parts = np.zeros((n_parts, M, K), g.dtype)
    for t in prange(n_parts):
        out = parts[t]
        for item in range(items * t // n_parts, items * (t + 1) // n_parts):
            n = item // blocks
            lo = (item % blocks) * _BLOCK
            hi = min(P, lo + _BLOCK)
            for m0 in range(0, M, 2):
                m1 = min(m0 + 1, M - 1)  # an odd last row is paired with itself, and kept once
                a0 = g[n, m0, lo:hi]
                a1 = g[n, m1, lo:hi]
                for k0 in range(0, K, 2):
                    k1 = min(k0 + 1, K - 1)
                    s00, s01, s10, s11 = _tile(a0, a1, cols[k0, n * P + lo:n * P + hi],
                                               cols[k1, n * P + lo:n * P + hi], zero)
                    out[m0, k0] += s00
                    if k1 != k0:
                        out[m0, k1] += s01
                    if m1 != m0:
                        out[m1, k0] += s10
                        if k1 != k0:
                            out[m1, k1] += s11
    return parts


def applies(m, k):
    """Whether ``weight_gradient`` takes an (m, k) weight gradient rather than BLAS."""
    return m * k <= _SMALL_OUTPUT


def weight_gradient(g, cols):
    """g (N, M, P) (an NCHW gradient viewed with P = Ho*Wo), cols (K, N*P) -> g_n cols_n^T
    summed over n: (M, K), of g's dtype."""
    g = np.ascontiguousarray(g)
    cols = np.ascontiguousarray(cols)
    parts = _weight_gradient(g, cols, g.dtype.type(0))
    return parts.sum(axis=0)  # row after row, in part order
