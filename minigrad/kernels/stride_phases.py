"""A strided convolution's input split into its stride phases, and put back.

Phase plane (a, b) of a padded input holds its rows a, a + sh, a + 2 sh, ... and columns b, b + sw,
...: tap (i, j) of a convolution with stride (sh, sw) and dilation (dh, dw) then reads one plane,
(i dh % sh, j dw % sw), from row i dh // sh and column j dw // sw, with stride 1. One pass over the
input turns every strided read of the taps into a contiguous one, which vectorises. The few-filter
loops (``few_filters.py``) and im2col / col2im of strided convolutions (``im2col.py``) read and
write through these planes.
"""
import numpy as np
from numba import prange

from minigrad.kernels.parallel_launch import parallel_kernel


def phase_shape(padded, stride):
    """(sh, sw, Hq, Wq): the phase planes' count per axis and their size, for a padded input of
    ``padded`` (Hp, Wp) pixels: Hq = ceil(Hp / sh), Wq = ceil(Wp / sw)."""
    (Hp, Wp), (sh, sw) = padded, stride
    return sh, sw, -(-Hp // sh), -(-Wp // sw)


def reads_every_phase(kernel, stride, dilation):
    """Whether the taps of a kernel (kh, kw) read every phase plane. A kernel narrower than its
    stride does not (a 1x1 stride-2 convolution reads one plane in four): splitting all of them
    costs more than the strided reads it saves."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    return len({i * dh % sh for i in range(kh)}) == sh and len({j * dw % sw for j in range(kw)}) == sw


def tap_starts(kernel, stride, dilation, Hq, Wq):
    """(kh kw,) int64: where tap (i, j) starts reading in one channel's flattened phase planes
    (sh, sw, Hq, Wq): plane (i dh % sh, j dw % sw), row i dh // sh, column j dw // sw."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    i, j = np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij")
    return ((((i % sh) * sw + j % sw) * Hq + i // sh) * Wq + j // sw).reshape(-1).astype(np.int64)


@parallel_kernel()
def split_phases(xp, sh, sw, xq):
    """xq[n, c, a, b] (Hq', Wq) = xp[n, c, a::sh, b::sw] (N, C, Hp, Wp), padded with zeros to the
    planes' size (Hq' >= Hq rows: callers may ask for spare rows of zeros)."""
    N, C, Hp, Wp = xp.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        for a in range(sh):
            for b in range(sw):
                plane = xq[n, c, a, b]
                plane[:, :] = 0
                for r in range((Hp - a + sh - 1) // sh):
                    src, dst = xp[n, c, a + r * sh, b:], plane[r]
                    for k in range((Wp - b + sw - 1) // sw):
                        dst[k] = src[k * sw]


@parallel_kernel()
def join_phases(dxq, sh, sw, ph, pw, dx):
    """dx[n, c] (H, W) = the phase planes dxq[n, c] (sh, sw, Hq, Wq) put back in place, without
    the padding (ph, pw): row h from phase row (h + ph) % sh, and in it columns x0, x0 + sw, ...
    from phase column (x0 + pw) % sw, read in a row (no division per value: with one, Numba's zero
    test kept the loop from vectorising)."""
    N, C, H, W = dx.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        for h in range(H):
            a, r = (h + ph) % sh, (h + ph) // sh
            dst = dx[n, c, h]
            for b in range(sw):
                x0 = (b - pw) % sw
                src = dxq[n, c, a, b, r, (x0 + pw) // sw:]
                for m in range((W - x0 + sw - 1) // sw):
                    dst[x0 + m * sw] = src[m]
