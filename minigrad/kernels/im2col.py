"""im2col / col2im: unfold image patches into the columns of one big GEMM and back.

Layout: ``cols[(c*kh + i)*kw + j, (n*Ho + oh)*Wo + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]``
(zero outside the image; (dh, dw) the dilation, 1 for an ordinary convolution), i.e.
``(C*kh*kw, N*Ho*Wo)``. With it a convolution is ``W.reshape(O, -1) @ cols``.

im2col first copies x into a zero-framed buffer (``_pad``), so that every output row is one
plain copy of ``Wo`` elements with no border to test. Both kernels move those rows between 1-D
views of the flat arrays, indexed from 0 (``_copy_row``, ``_add_row``): indexed that way Numba
can prove every index non-negative, drops its negative-index wraparound test and vectorises the
loop, which the same loop indexed ``x[n, c, h, ow + off]`` did not (docs/performance.md).
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels.parallel_launch import parallel_kernel
from minigrad.kernels.scratch import scratch


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
def _im2col(xp, kh, kw, sh, sw, dh, dw, Ho, Wo, cols):
    """cols from the already padded input xp: every output row is one (strided) copy."""
    N, C, Hp, Wp = xp.shape
    src = xp.reshape(-1)
    dst = cols.reshape(-1)
    L = cols.shape[1]
    for r in prange(C * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for n in range(N):
            for oh in range(Ho):
                first = ((n * C + c) * Hp + oh * sh + i * dh) * Wp + j * dw
                row = r * L + (n * Ho + oh) * Wo
                if sw == 1:  # a contiguous view: the copy vectorises
                    _copy_row(dst[row:row + Wo], src[first:first + Wo])
                else:
                    _copy_row(dst[row:row + Wo], src[first:first + (Wo - 1) * sw + 1:sw])


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
    _im2col(zero_pad(x, padding), kh, kw, sh, sw, *dilation, Ho, Wo, cols)
    return cols


def col2im(cols, x_shape, kernel, stride, padding, out_size, out=None, dilation=(1, 1)):
    """The adjoint of ``im2col``: scatter-add columns back into an (N, C, H, W) array (``out``,
    C-contiguous, if given; it is overwritten)."""
    (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = kernel, stride, padding, out_size
    if out is None:
        dx = np.zeros(x_shape, dtype=cols.dtype)
    elif not out.flags.c_contiguous or out.shape != tuple(x_shape):
        raise ValueError(f"col2im: out must be C-contiguous of shape {tuple(x_shape)}, got {out.shape}")
    else:
        dx = out
        dx[...] = 0
    _col2im(np.ascontiguousarray(cols), *x_shape, kh, kw, sh, sw, *dilation, ph, pw, Ho, Wo, dx)
    return dx
