"""Convolutions with few filters (at most 8 output channels in float32, 4 in float64) as direct loops.

im2col copies the input kh*kw times over, and with few filters the GEMM that reads the copy does
almost nothing per entry (OpenBLAS ran an (8 x 1025) @ (1025 x 6300) product at a third of its
speed): a 7x7 stride-2 convolution from 8 to 2 channels at batch 55 took 9.0 ms forward and
9.8 ms for the input gradient against PyTorch's 1.8 and 1.4. Here the input is split once into its
stride phases (plane (a, b) holds rows a, a + sh, ... and columns b, b + sw, ...), so every tap
(i, j) reads one phase plane from an offset with stride 1. Output rows are kept as wide as the
phase planes: a tap is then one contiguous loop over Ho x Wq values, long enough to vectorise
(rows of 15 outputs are shorter than one AVX-512 vector, and ran as scalar code), and the extra
columns are cut at the end. The input gradient runs the same loops transposed, g's rows widened
with zeros, into phase planes that are put back in place.

One task per (sample, filter) forward, per (sample, input channel) for the input gradient, each
summing in one fixed order: the result does not depend on the thread count. Sums run in another
order than BLAS's, so the results differ from the im2col path in the last bits (tested against
the reference loops, float64 1e-10 and float32 1e-5 relative, and by gradcheck).
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels.im2col import zero_pad
from minigrad.kernels.parallel_launch import parallel_kernel


@njit(cache=True, inline="always")
def _tap_start(di, dj, sh, sw, Hq, Wq):
    """Where tap (i, j), at offsets di = i dh, dj = j dw, starts reading in a sample's flattened
    phase planes (sh, sw, Hq, Wq): phase (di % sh, dj % sw), row di // sh, column dj // sw."""
    return (((di % sh) * sw + dj % sw) * Hq + di // sh) * Wq + dj // sw


@parallel_kernel()
def _split_phases(xp, sh, sw, xq):
    """xq[n, c, a, b] (Hq, Wq) = xp[n, c, a::sh, b::sw] padded with zeros: the stride's phases."""
    N, C, Hp, Wp = xp.shape
    Hq, Wq = xq.shape[4], xq.shape[5]
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
def _forward_wide(xq, w, sh, sw, dh, dw, Ho, acc):
    """acc[n, o] (Ho * Wq + slack) = sum over c, i, j of w[o, c, i, j] times the phase plane of tap
    (i, j) read from its offset: rows Wq wide, so one long contiguous loop per tap."""
    N, C, Hq, Wq = xq.shape[0], xq.shape[1], xq.shape[4], xq.shape[5]
    O, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    L = Ho * Wq
    for t in prange(N * O):
        n = t // O
        o = t % O
        dst = acc[n, o]
        dst[:] = 0
        for c in range(C):
            flat = xq[n, c].reshape(-1)
            for i in range(kh):
                for j in range(kw):
                    start = _tap_start(i * dh, j * dw, sh, sw, Hq, Wq)
                    src = flat[start:]
                    v = w[o, c, i, j]
                    for k in range(L):
                        dst[k] += v * src[k]


@parallel_kernel()
def _input_grad_wide(gw, w, sh, sw, dh, dw, dxq):
    """dxq[n, c] (phase planes, flattened, + slack) = sum over o, i, j of w[o, c, i, j] times g's
    wide rows (gw: g in rows Wq wide, zeros beyond Wo), added at tap (i, j)'s offset."""
    N, O, L = gw.shape
    C, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Hq, Wq = dxq.shape[4], dxq.shape[5]
    for t in prange(N * C):
        n = t // C
        c = t % C
        flat = dxq[n, c].reshape(-1)
        flat[:] = 0
        for o in range(O):
            src = gw[n, o]
            for i in range(kh):
                for j in range(kw):
                    start = _tap_start(i * dh, j * dw, sh, sw, Hq, Wq)
                    dst = flat[start:]
                    v = w[o, c, i, j]
                    for k in range(L):
                        dst[k] += v * src[k]


@parallel_kernel()
def _join_phases(dxq, sh, sw, ph, pw, dx):
    """dx[n, c] = the phase planes put back in place, without the padding."""
    N, C, H, W = dx.shape
    for t in prange(N * C):
        n = t // C
        c = t % C
        for h in range(H):
            a, r = (h + ph) % sh, (h + ph) // sh
            dst = dx[n, c, h]
            for x in range(W):
                dst[x] = dxq[n, c, a, (x + pw) % sw, r, (x + pw) // sw]


def _phase_shape(padded, stride):
    (Hp, Wp), (sh, sw) = padded, stride
    return sh, sw, -(-Hp // sh), -(-Wp // sw)


def applies(out_channels, dtype):
    """Whether an (ungrouped) convolution takes these loops: at most 32 bytes of filters per
    position, 8 float32 filters or 4 float64 (a vector register's worth: with more, im2col's GEMM
    is as fast; measured at 8 float64 filters 0.9-1.25x im2col's time, float32 0.4-1.0x)."""
    return out_channels * np.dtype(dtype).itemsize <= 32


def forward(x, w, b, stride, padding, dilation, size):
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> out (N, O, Ho, Wo)."""
    xp = zero_pad(x, padding)
    N, C = x.shape[:2]
    O, (Ho, Wo) = w.shape[0], size
    sh, sw, Hq, Wq = _phase_shape(xp.shape[2:], stride)
    # one spare row: a tap's long loop runs past its plane's last row into columns that are cut
    xq = np.empty((N, C, sh, sw, Hq + 1, Wq), x.dtype)
    _split_phases(xp, *stride, xq)
    xq[:, :, :, :, Hq] = 0
    acc = np.empty((N, O, Ho * Wq), x.dtype)
    _forward_wide(xq, np.ascontiguousarray(w, x.dtype), *stride, *dilation, Ho, acc)
    out = np.ascontiguousarray(acc.reshape(N, O, Ho, Wq)[:, :, :, :Wo])
    if b is not None:
        out += b.astype(out.dtype, copy=False).reshape(1, -1, 1, 1)
    return out


def input_grad(g, x_shape, w, stride, padding, dilation):
    """dL/dx (N, C, H, W) from g (N, O, Ho, Wo): each tap's weight times g, added back where it read."""
    (ph, pw), (N, C, H, W) = padding, x_shape
    O, Ho, Wo = g.shape[1:]
    sh, sw, Hq, Wq = _phase_shape((H + 2 * ph, W + 2 * pw), stride)
    gw = np.zeros((N, O, Ho, Wq), g.dtype)
    gw[:, :, :, :Wo] = g
    dxq = np.empty((N, C, sh, sw, Hq + 1, Wq), g.dtype)
    _input_grad_wide(gw.reshape(N, O, -1), np.ascontiguousarray(w, g.dtype), *stride, *dilation, dxq)
    dx = np.empty(x_shape, g.dtype)
    _join_phases(dxq, *stride, ph, pw, dx)
    return dx
