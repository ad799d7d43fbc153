"""im2col / col2im: unfold image patches into the columns of one big GEMM and back.

Layout: ``cols[(c*kh + i)*kw + j, (n*Ho + oh)*Wo + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]``
(zero outside the image; (dh, dw) the dilation, 1 for an ordinary convolution), i.e.
``(C*kh*kw, N*Ho*Wo)``. With it a convolution is ``W.reshape(O, -1) @ cols``.

im2col first copies x into a zero-framed buffer (``_pad``), so that every output row is one
plain copy of ``Wo`` elements with no border to test. Both kernels move those rows between 1-D
views of the flat arrays, indexed from 0 (``_copy_row``, ``_add_row``): indexed that way Numba
can prove every index non-negative, drops its negative-index wraparound test and vectorises the
loop, which the same loop indexed ``x[n, c, h, ow + off]`` did not (docs/performance.md).

A strided convolution's rows are strided reads (every sw-th value), copied one value at a time.
Where each input value fills many columns (``_through_phases``: 5x5 and 7x7 kernels at stride 2),
im2col first splits the padded input into its stride phases (``stride_phases.py``), in which every
tap's row is contiguous, and col2im adds into the phase planes of dx and joins them.
"""
import functools

import numpy as np
from numba import njit, prange

from minigrad.kernels.parallel_launch import parallel_kernel
from minigrad.kernels.scratch import scratch
from minigrad.kernels.stride_phases import join_phases, phase_shape, reads_every_phase, split_phases, tap_starts


@njit(cache=True, inline="always")
def _valid_range(Wo, W, sw, pw, j):
    """The output columns ow whose input column ow*sw - pw + j lies inside [0, W) (j: the
    kernel column's offset, j*dw when dilated)."""
    lo = max(0, (pw - j + sw - 1) // sw)
    hi = min(Wo, (W - 1 + pw - j) // sw + 1)
    return lo, max(lo, hi)


@njit(cache=True, inline="always")
def _copy_row(dst, src):
    for k in range(dst.size):
        dst[k] = src[k]


@njit(cache=True, inline="always")
def _add_row(dst, src):
    for k in range(dst.size):
        dst[k] += src[k]


@njit(cache=True, inline="always")
def _zero_row(dst):
    for k in range(dst.size):
        dst[k] = 0


@parallel_kernel()
def _pad(x, ph, pw, out):
    """out (N, C, H + 2 ph, W + 2 pw) = x (N, C, H, W) framed by zeros."""
    N, C, H, W = x.shape
    Hp, Wp = out.shape[2:]
    src = x.reshape(-1)
    dst = out.reshape(-1)
    for t in prange(N * C):
        plane = t * Hp * Wp
        _zero_row(dst[plane:plane + ph * Wp])  # the rows above
        for h in range(H):
            row = plane + (h + ph) * Wp
            _zero_row(dst[row:row + pw])
            _copy_row(dst[row + pw:row + pw + W], src[(t * H + h) * W:(t * H + h + 1) * W])
            _zero_row(dst[row + pw + W:row + Wp])
        _zero_row(dst[plane + (H + ph) * Wp:plane + Hp * Wp])  # the rows below


@parallel_kernel()
def _im2col(src, offs, row_step, col_step, Ho, Wo, cols):
    """cols[r, (n Ho + oh) Wo + ow] = src[n, offs[r] + oh row_step + ow col_step]: every output
    row is one copy, contiguous when col_step is 1 (then it vectorises)."""
    N = src.shape[0]
    dst = cols.reshape(-1)
    L = cols.shape[1]
    for r in prange(offs.size):
        for n in range(N):
            sample = src[n]
            for oh in range(Ho):
                first = offs[r] + oh * row_step
                row = r * L + (n * Ho + oh) * Wo
                if col_step == 1:
                    _copy_row(dst[row:row + Wo], sample[first:first + Wo])
                else:
                    _copy_row(dst[row:row + Wo], sample[first:first + (Wo - 1) * col_step + 1:col_step])


@parallel_kernel()
def _col2im(cols, N, C, H, W, kh, kw, sh, sw, dh, dw, ph, pw, Ho, Wo, dx):
    src = cols.reshape(-1)
    dst = dx.reshape(-1)
    L = cols.shape[1]
    # one (n, c) image plane per task: no two tasks write the same element
    for t in prange(N * C):
        n = t // C
        c = t % C
        plane = t * H * W
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                lo, hi = _valid_range(Wo, W, sw, pw, j * dw)
                if hi == lo:
                    continue
                for oh in range(Ho):
                    h = oh * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    row = r * L + (n * Ho + oh) * Wo
                    first = plane + h * W + lo * sw - pw + j * dw
                    if sw == 1:
                        _add_row(dst[first:first + hi - lo], src[row + lo:row + hi])
                    else:
                        _add_row(dst[first:first + (hi - lo - 1) * sw + 1:sw], src[row + lo:row + hi])


@parallel_kernel()
def _col2im_phases(cols, taps, C, Ho, Wo, row_step, dxq):
    """dxq[n C + c] (a sample's channel c, its phase planes flattened) = the sum over c's taps q of
    column row c T + q (T = taps.size), each output row added at taps[q] + oh row_step: one
    contiguous add per row. Each plane is one task's, its taps added in the order of col2im's."""
    src = cols.reshape(-1)
    L = cols.shape[1]
    T = taps.size
    for t in prange(dxq.shape[0]):
        n = t // C
        c = t % C
        plane = dxq[t]
        _zero_row(plane)
        for q in range(T):
            r = c * T + q
            for oh in range(Ho):
                first = taps[q] + oh * row_step
                row = r * L + (n * Ho + oh) * Wo
                _add_row(plane[first:first + Wo], src[row:row + Wo])


@functools.lru_cache(maxsize=256)
def _reads(C, kernel, stride, dilation, padded, phases):
    """(offs (C kh kw,), row_step, col_step, shape of the read array per sample): where im2col's
    row r = (c, i, j) starts reading in a sample of the padded input (``phases`` False: row steps
    of sh Wp, column steps of sw) or of its stride phases (True: the planes (sh, sw, Hq, Wq) of
    ``stride_phases``, row steps of Wq, column steps of 1). Depends on the shapes alone: kept."""
    (kh, kw), (sh, sw), (dh, dw), (Hp, Wp) = kernel, stride, dilation, padded
    if phases:
        _, _, Hq, Wq = phase_shape(padded, stride)
        offs = np.arange(C)[:, None] * (sh * sw * Hq * Wq) + tap_starts(kernel, stride, dilation, Hq, Wq)
        reads = offs.reshape(-1), Wq, 1, (C, sh, sw, Hq, Wq)
    else:
        i, j = np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij")
        offs = np.arange(C)[:, None] * (Hp * Wp) + (i * Wp + j).reshape(1, -1)
        reads = offs.reshape(-1), sh * Wp, sw, (C, Hp, Wp)
    reads[0].flags.writeable = False
    return reads


def _through_phases(kernel, stride, dilation):
    """Whether im2col and col2im go through the stride phases (``stride_phases``): a strided
    convolution whose taps read every phase and copy each input value into at least 2.5 columns on
    average (kh kw >= 2.5 sh sw). Its rows are then copied contiguously, where strided they were
    copied one value at a time, at the cost of one strided pass over the input to split it (and
    one to join dx). Measured against the strided copies in one process (24 shapes, batch 1-57,
    float32 and float64, docs/performance.md): 7x7 stride 2 (12 columns a value) 0.40-0.79x the
    time, 5x5 stride 2 0.66-0.94x, 4x4 and 6x6 at strides 2 and 3 (4) 0.63-0.81x, 5x5 stride 3
    (2.8) 0.75-0.96x; 3x3 stride 2 (2.25) 0.72-1.18x, no gain; 2x2 stride 2 and 3x3 stride 3 (1)
    1.28-1.52x. The results are the same bits either way: copies, and each dx entry's terms added
    in the same order."""
    (kh, kw), (sh, sw) = kernel, stride
    return tuple(stride) != (1, 1) and 2 * kh * kw >= 5 * sh * sw and reads_every_phase(kernel, stride, dilation)


def zero_pad(x, padding):
    """x (N, C, H, W) framed by ``padding`` (ph, pw) zeros, in scratch slot 2 (x itself, made
    contiguous, when there is no padding): -> (N, C, H + 2 ph, W + 2 pw)."""
    (ph, pw), x = padding, np.ascontiguousarray(x)
    if not (ph or pw):
        return x
    N, C, H, W = x.shape
    xp = scratch((N, C, H + 2 * ph, W + 2 * pw), x.dtype, slot=2)
    _pad(x, ph, pw, xp)
    return xp


def im2col(x, kernel, stride, padding, out_size, out=None, dilation=(1, 1)):
    """x (N, C, H, W) -> cols (C*kh*kw, N*Ho*Wo) of x's dtype, written into ``out`` if given.
    (Callers that take the columns a few samples at a time pad once, and pass padding (0, 0).)"""
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, stride, out_size
    N, C = x.shape[:2]
    cols = np.empty((C * kh * kw, N * Ho * Wo), dtype=x.dtype) if out is None else out
    if not cols.flags.c_contiguous:
        raise ValueError(f"im2col: out must be C-contiguous, got strides {cols.strides}")
    xp = zero_pad(x, padding)
    phases = _through_phases(kernel, stride, dilation)
    offs, row_step, col_step, per_sample = _reads(C, tuple(kernel), tuple(stride), tuple(dilation), xp.shape[2:],
                                                  phases)
    if phases:
        src = scratch((N,) + per_sample, x.dtype, slot=3)
        split_phases(xp, sh, sw, src)
    else:
        src = xp
    _im2col(src.reshape(N, -1), offs, row_step, col_step, Ho, Wo, cols)
    return cols


def col2im(cols, x_shape, kernel, stride, padding, out_size, out=None, dilation=(1, 1)):
    """The adjoint of ``im2col``: scatter-add columns back into an (N, C, H, W) array (``out``,
    C-contiguous, if given; it is overwritten)."""
    (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = kernel, stride, padding, out_size
    if out is None:
        dx = np.empty(x_shape, dtype=cols.dtype)
    elif not out.flags.c_contiguous or out.shape != tuple(x_shape):
        raise ValueError(f"col2im: out must be C-contiguous of shape {tuple(x_shape)}, got {out.shape}")
    else:
        dx = out
    N, C, H, W = x_shape
    cols = np.ascontiguousarray(cols)
    if _through_phases(kernel, stride, dilation):
        offs, row_step, _, per_sample = _reads(C, tuple(kernel), tuple(stride), tuple(dilation),
                                               (H + 2 * ph, W + 2 * pw), True)
        dxq = scratch((N,) + per_sample, cols.dtype, slot=3)
        _col2im_phases(cols, offs[:kh * kw], C, Ho, Wo, row_step, dxq.reshape(N * C, -1))  # channel 0's taps
        join_phases(dxq, sh, sw, ph, pw, dx)
    else:
        dx[...] = 0
        _col2im(cols, *x_shape, kh, kw, sh, sw, *dilation, ph, pw, Ho, Wo, dx)
    return dx
