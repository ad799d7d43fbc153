"""Convolutions with few filters (8 float32 or 4 float64 output channels; 16 on long rows) as direct loops.

im2col copies the input kh*kw times over, and with few filters the GEMM that reads the copy does
almost nothing per entry (OpenBLAS ran an (8 x 1025) @ (1025 x 6300) product at a third of its
speed): a 7x7 stride-2 convolution from 8 to 2 channels at batch 55 took 9.0 ms forward and
9.8 ms for the input gradient against PyTorch's 1.8 and 1.4. Here the input is split once into its
stride phases (plane (a, b) holds rows a, a + sh, ... and columns b, b + sw, ...), so every tap
(i, j) reads one phase plane from an offset with stride 1. Output rows are kept as wide as the
phase planes: a tap is then one contiguous loop over Ho x Wq values, long enough to vectorise
(rows of 15 outputs are shorter than one AVX-512 vector, and ran as scalar code), and the extra
columns are cut at the end.

Each pass over a row adds eight taps (``_add_taps``): one tap per pass loads and stores the
output once per product, and ran at a third of the speed (41 -> 8 channels 5x5 at batch 28:
4.3 -> 1.7 ms forward, torch 1.1). The input gradient is the same sum as a gather: each phase
plane of dx reads g (rows Wq wide after a margin of zeros) at every tap that writes into it, eight
at a time. The weight gradient, used where its loops are long (``weight_grad_applies``), takes
eight dot products of g's wide rows with the phase planes per pass.

One task per (sample, filter) forward, per (sample, input channel) for the input gradient, per
group of eight taps for the weight gradient, each summing in one fixed order: the result does not
depend on the thread count. Sums run in another order than BLAS's, so the results differ from the
im2col path in the last bits (tested against the reference loops, float64 1e-10 and float32 1e-5
relative, and by gradcheck).
"""
import functools

import numpy as np
from numba import njit, prange

from minigrad.kernels.im2col import zero_pad
from minigrad.kernels.parallel_launch import parallel_kernel
from minigrad.kernels.stride_phases import (join_phases, phase_shape, reads_every_phase, split_phases,
                                           tap_starts)


_GROUP = 8  # taps summed per pass over a row (the weight gradient pads its tap list to a multiple)


@njit(cache=True, inline="always")
def _add_taps(dst, src, offs, wt, g, L):
    """dst[k] += sum of the 8 taps g..g+7: wt[t] times src read from offs[t] + k, for k < L. Eight
    taps per pass load and store dst once for eight products: one tap per pass (a load, a
    multiply-add and a store per product) ran at a third of the speed."""
    s0, s1, s2, s3 = src[offs[g]:], src[offs[g + 1]:], src[offs[g + 2]:], src[offs[g + 3]:]
    s4, s5, s6, s7 = src[offs[g + 4]:], src[offs[g + 5]:], src[offs[g + 6]:], src[offs[g + 7]:]
    v0, v1, v2, v3, v4, v5, v6, v7 = wt[g], wt[g + 1], wt[g + 2], wt[g + 3], wt[g + 4], wt[g + 5], wt[g + 6], wt[g + 7]
    for k in range(L):
        dst[k] += ((v0 * s0[k] + v1 * s1[k]) + (v2 * s2[k] + v3 * s3[k])) + \
                  ((v4 * s4[k] + v5 * s5[k]) + (v6 * s6[k] + v7 * s7[k]))


@njit(cache=True, inline="always")
def _sum_taps(dst, src, offs, wt, count, L):
    """dst[k] = sum over taps t < count of wt[t] times src read from offs[t] + k, for k < L: eight
    taps per pass, then the last count % 8 one at a time (padded with zero weights they cost a
    full pass each: a 1x1 convolution of one channel has one tap)."""
    dst[:L] = 0
    full = count - count % _GROUP
    for g in range(0, full, _GROUP):
        _add_taps(dst, src, offs, wt, g, L)
    for t in range(full, count):
        s = src[offs[t]:]
        v = wt[t]
        for k in range(L):
            dst[k] += v * s[k]


@parallel_kernel()
def _forward_wide(xq, offs, count, wt, L, acc):
    """acc[n, o] (Ho * Wq) = sum over the first ``count`` taps t of wt[o, t] times sample n's flattened phase planes
    read from offs[t] (``_tap_offsets``): rows Wq wide, so one long contiguous loop per group of taps."""
    N, O = acc.shape[0], acc.shape[1]
    for t in prange(N * O):
        n = t // O
        o = t % O
        _sum_taps(acc[n, o], xq[n].reshape(-1), offs, wt[o], count, L)


@parallel_kernel()
def _input_grad_wide(gm, offs, counts, wt, plane, spans, dxq):
    """dxq[n, c]'s phase plane p (flattened, ``plane`` values), between spans[p, 0] and spans[p, 1]
    (the rows that land inside dx), = sum over its counts[p] taps t of wt[c, p, t] times sample n's
    g read from offs[p, t] (``input_grad``): the transposed convolution as a gather, so that each
    plane is written once per group of taps."""
    N, C = dxq.shape[0], dxq.shape[1]
    for t in prange(N * C):
        n = t // C
        c = t % C
        flat = dxq[n, c].reshape(-1)
        src = gm[n].reshape(-1)
        for p in range(offs.shape[0]):
            lo, hi = spans[p, 0], spans[p, 1]
            _sum_taps(flat[p * plane + lo:p * plane + hi], src[lo:], offs[p], wt[c, p], counts[p], hi - lo)


@parallel_kernel(fastmath={"reassoc", "contract", "nsz"})
def _weight_grad_wide(xq, gm, offs, L, out):
    """out[o, t] = sum over n and k < L of gm[n, o, k] times sample n's flattened phase planes read
    from offs[t] + k: the weight gradient, eight taps at a time (one load of g for eight products;
    ``fastmath`` reassociates the eight sums so that they vectorise). One task per group of eight
    taps, each summing over n, then k, in a fixed order: no dependence on the thread count."""
    N, O = gm.shape[0], gm.shape[1]
    for q in prange(offs.size // _GROUP):
        g0 = q * _GROUP
        for o in range(O):
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = out.dtype.type(0)
            for n in range(N):
                src = xq[n].reshape(-1)
                gr = gm[n, o]
                s0, s1, s2, s3 = src[offs[g0]:], src[offs[g0 + 1]:], src[offs[g0 + 2]:], src[offs[g0 + 3]:]
                s4, s5, s6, s7 = src[offs[g0 + 4]:], src[offs[g0 + 5]:], src[offs[g0 + 6]:], src[offs[g0 + 7]:]
                for k in range(L):
                    v = gr[k]
                    a0 += v * s0[k]
                    a1 += v * s1[k]
                    a2 += v * s2[k]
                    a3 += v * s3[k]
                    a4 += v * s4[k]
                    a5 += v * s5[k]
                    a6 += v * s6[k]
                    a7 += v * s7[k]
            out[o, g0], out[o, g0 + 1], out[o, g0 + 2], out[o, g0 + 3] = a0, a1, a2, a3
            out[o, g0 + 4], out[o, g0 + 5], out[o, g0 + 6], out[o, g0 + 7] = a4, a5, a6, a7


_MORE_FILTERS = 16  # filters the loops take in either dtype when their rows are long (``applies``)
_LONG_ROWS = 128  # outputs in a wide row block (Ho x Wq) from which they do


def applies(w_shape, stride, dilation, dtype, size, padded_width):
    """Whether an (ungrouped) convolution takes these loops: taps that read every stride phase (a
    kernel narrower than its stride, a 1x1 stride-2 convolution, reads one phase in four: splitting
    all four cost more than the work, 120 -> 2 channels 1x1 stride 2 at 33 px, float64: 0.72 ms
    forward against im2col's 0.25), and few filters: at most 32 bytes of them per position (8
    float32 filters or 4 float64), or up to 16 filters of either dtype when a wide row block
    (``size`` Ho x Wq, Wq = ``padded_width`` / stride) holds at least 128 outputs.

    Why the filters and the rows: these loops cost one pass over a row block per filter and eight
    taps, im2col + GEMM a copy of every tap's row and a GEMM whose few rows OpenBLAS runs slowly.
    Measured against im2col on 13 shapes at 8-48 filters (docs/performance.md): at up to 16
    filters the loops won on the shapes whose row blocks held 143-1088 outputs, forward, input
    gradient and (where ``weight_grad_applies``) weight gradient, in both dtypes (0.4-0.95x
    im2col's time; one exception, a float64 forward at 1.12x), and lost by up to 1.8x on 7-8 px
    maps of 128-256 channels (63-80 outputs per row block), whose short loops pay a pass's
    overhead for little work."""
    (kh, kw), (sh, sw), (dh, dw) = w_shape[2:], stride, dilation
    filters = w_shape[0]
    few = filters * np.dtype(dtype).itemsize <= 32 or (
        filters <= _MORE_FILTERS and size[0] * -(-padded_width // sw) >= _LONG_ROWS)
    return few and reads_every_phase((kh, kw), stride, dilation)


def _padded(n):
    return -(-n // _GROUP) * _GROUP


@functools.lru_cache(maxsize=256)
def _tap_offsets(C, kh, kw, stride, dilation, Hq, Wq):
    """(T,): tap (c, i, j)'s start in a sample's flattened phase planes (C, sh, sw, Hq + 1, Wq),
    T = C kh kw padded to a multiple of 8 with taps at 0 (given zero weight, or cut from dw). Kept
    per shape, as ``_gather_plan``."""
    tap = tap_starts((kh, kw), stride, dilation, Hq + 1, Wq)
    offs = np.zeros(_padded(C * kh * kw), np.int64)
    offs[:C * kh * kw] = (np.arange(C)[:, None] * (stride[0] * stride[1] * (Hq + 1) * Wq) + tap).reshape(-1)
    offs.flags.writeable = False
    return offs


def _phases_of(x, padding, stride):
    """x (N, C, H, W) zero-padded and split into its stride phases: (xq (N, C, sh, sw, Hq + 1, Wq), Hq, Wq),
    with one spare row of zeros: a tap's long loop runs past its plane's last row into columns
    that are cut."""
    xp = zero_pad(x, padding)
    sh, sw, Hq, Wq = phase_shape(xp.shape[2:], stride)
    xq = np.empty(x.shape[:2] + (sh, sw, Hq + 1, Wq), x.dtype)
    split_phases(xp, *stride, xq)
    xq[:, :, :, :, Hq] = 0
    return xq, Hq, Wq


def forward(x, w, b, stride, padding, dilation, size):
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> out (N, O, Ho, Wo)."""
    N, C = x.shape[:2]
    O, (Ho, Wo) = w.shape[0], size
    xq, Hq, Wq = _phases_of(x, padding, stride)
    offs = _tap_offsets(C, *w.shape[2:], tuple(stride), tuple(dilation), Hq, Wq)
    wt = np.zeros((O, offs.size), x.dtype)
    wt[:, :C * w.shape[2] * w.shape[3]] = w.reshape(O, -1)
    acc = np.empty((N, O, Ho * Wq), x.dtype)
    _forward_wide(xq, offs, C * w.shape[2] * w.shape[3], wt, Ho * Wq, acc)
    out = np.ascontiguousarray(acc.reshape(N, O, Ho, Wq)[:, :, :, :Wo])
    if b is not None:
        out += b.astype(out.dtype, copy=False).reshape(1, -1, 1, 1)
    return out


def weight_grad_applies(w_shape, size, padded_width, stride, dilation, dtype):
    """Whether the weight gradient takes ``weight_grad``: few filters (``applies``), and both its
    loops long enough to pay for the phase split, at least 128 taps (C kh kw) and 128 positions in
    a wide row block (Ho x Wq). Measured against im2col + BLAS (float32, 6 shapes): 41 -> 8 5x5 at
    15 px 3.8 against 6.5 ms, 207 -> 5 5x5 5.9 against 9.9, 8 -> 2 7x7 stride 2 at batch 55 3.0
    against 12.3; slower with 27 taps (3 -> 8 3x3: 2.9 against 1.9) or 24 positions (69 -> 8 5x5
    stride 2 at 12 px: 1.0 against 0.7)."""
    O, C, kh, kw = w_shape
    wide = size[0] * -(-padded_width // stride[1])
    return applies(w_shape, stride, dilation, dtype, size, padded_width) and C * kh * kw >= 128 and wide >= 128


def weight_grad(g, x, w_shape, stride, padding, dilation):
    """dL/dw (O, C, kh, kw) from g (N, O, Ho, Wo) and the input x (N, C, H, W): each tap's
    products of g with the phase plane it read, summed over samples and positions."""
    (N, C), (O, _, kh, kw), (Ho, Wo) = x.shape[:2], w_shape, g.shape[2:]
    xq, Hq, Wq = _phases_of(x, padding, stride)
    offs = _tap_offsets(C, kh, kw, tuple(stride), tuple(dilation), Hq, Wq)
    gm = np.zeros((N, O, Ho, Wq), g.dtype)  # zeros beyond Wo: the wide rows' extra columns add nothing
    gm[:, :, :, :Wo] = g
    out = np.empty((O, offs.size), g.dtype)
    _weight_grad_wide(xq, gm.reshape(N, O, -1), offs, Ho * Wq, out)
    return np.ascontiguousarray(out[:, :C * kh * kw]).reshape(w_shape)


@functools.lru_cache(maxsize=256)
def _gather_plan(O, kh, kw, stride, dilation, Wq, margin, block):
    """The input gradient's taps, per phase plane p = a sw + b (those (i, j) with i dh % sh = a and
    j dw % sw = b), filter by filter: (offs (P, T), counts (P,), filter_of (P, T), tap_of (P, T)).
    Tap t of plane p reads g's block of filter filter_of[p, t] from offs[p, t] (``margin`` less its
    row and column offset), with the weight of tap tap_of[p, t] = i kw + j (kh kw for padding).
    Depends on the shapes alone: kept, since a network asks for the same few again and again."""
    (sh, sw), (dh, dw) = stride, dilation
    di, dj = (a.reshape(-1) for a in np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij"))
    plane_of, start = (di % sh) * sw + dj % sw, margin - (di // sh) * Wq - dj // sw
    taps = [np.flatnonzero(plane_of == p) for p in range(sh * sw)]
    counts = np.array([len(t) * O for t in taps], np.int64)
    offs = np.zeros((sh * sw, counts.max()), np.int64)
    filter_of = np.zeros((sh * sw, counts.max()), np.int64)
    tap_of = np.full((sh * sw, counts.max()), kh * kw, np.int64)
    for p, t in enumerate(taps):
        offs[p, :len(t) * O] = (np.arange(O)[:, None] * block + start[t][None, :]).reshape(-1)
        filter_of[p, :len(t) * O] = np.repeat(np.arange(O), len(t))
        tap_of[p, :len(t) * O] = np.tile(t, O)
    for a in (offs, counts, filter_of, tap_of):
        a.flags.writeable = False
    return offs, counts, filter_of, tap_of


@functools.lru_cache(maxsize=256)
def _rows_inside(H, ph, sh, sw, Hq, Wq):
    """(sh sw, 2): per phase plane p = a sw + b, the flattened span [r0 Wq, r1 Wq) of its rows r
    whose padded row a + r sh lies inside the image (ph <= a + r sh < ph + H). Only those reach dx,
    so the gather skips the padding's rows: 5 of 19 rows a plane at 14 px with padding 2."""
    spans = np.zeros((sh * sw, 2), np.int64)
    for a in range(sh):
        r0 = max(0, -(-(ph - a) // sh))
        r1 = max(r0, min(Hq + 1, (ph + H - 1 - a) // sh + 1))
        spans[a * sw:(a + 1) * sw] = r0 * Wq, r1 * Wq
    spans.flags.writeable = False
    return spans


def input_grad(g, x_shape, w, stride, padding, dilation):
    """dL/dx (N, C, H, W) from g (N, O, Ho, Wo): each tap's weight times g, gathered into the phase
    planes of dx, which are then put back in place."""
    (ph, pw), (N, C, H, W) = padding, x_shape
    O, Ho, Wo = g.shape[1:]
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = w.shape[2:]
    Hq, Wq = phase_shape((H + 2 * ph, W + 2 * pw), stride)[2:]
    plane = (Hq + 1) * Wq
    # g in rows Wq wide (zeros beyond Wo: a read that runs off a row's start lands on them), after
    # ``margin`` zeros so that every tap's read starts at or after 0
    margin = ((kh - 1) * dh // sh) * Wq + (kw - 1) * dw // sw
    block = margin + plane
    gm = np.zeros((N, O, block), g.dtype)
    gm[:, :, margin:margin + Ho * Wq].reshape(N, O, Ho, Wq)[:, :, :, :Wo] = g  # a split axis: a view
    offs, counts, filter_of, tap_of = _gather_plan(O, kh, kw, tuple(stride), tuple(dilation), Wq, margin, block)
    # wt[c, p, t] = w[filter_of[p, t], c, tap_of[p, t]]; padding taps read the appended zero
    w_ext = np.zeros((O, C, kh * kw + 1), g.dtype)
    w_ext[:, :, :-1] = w.reshape(O, C, -1)
    wt = np.ascontiguousarray(w_ext[filter_of, :, tap_of].transpose(2, 0, 1))
    dxq = np.empty((N, C, sh, sw, Hq + 1, Wq), g.dtype)
    _input_grad_wide(gm, offs, counts, wt, plane, _rows_inside(H, ph, sh, sw, Hq, Wq), dxq)
    dx = np.empty(x_shape, g.dtype)
    join_phases(dxq, sh, sw, ph, pw, dx)
    return dx
