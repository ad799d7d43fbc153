"""Max and average pooling kernels over (N, C, H, W), one (n, c) plane per parallel task.

The general max-pool kernel handles any window, stride and padding. The 2x2 stride-2 unpadded
window of most networks has its own kernel with the four comparisons written out as selects:
~10x faster on a 128x16x32x32 float32 map (12 -> 1.0-1.3 ms), because loops of runtime length
over a 2x2 window, and data-dependent branches, do not vectorise. A plane holding a NaN is redone
in order. Same results bit for bit, ties and NaN included (tests/test_kernels.py); set
``FAST_2X2 = False`` to use the general kernel everywhere.
"""
import numpy as np
from numba import njit, prange

FAST_2X2 = True


@njit(parallel=True, cache=True)
def _max_pool_forward(x, kh, kw, sh, sw, ph, pw, out, argmax):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            h0 = oh * sh - ph
            # padding counts as -inf, never the maximum: clip the window to the image once
            i_lo, i_hi = max(0, -h0), min(kh, H - h0)
            for ow in range(Wo):
                w0 = ow * sw - pw
                j_lo, j_hi = max(0, -w0), min(kw, W - w0)
                best = x[n, c, h0 + i_lo, w0 + j_lo]
                where = (h0 + i_lo) * W + w0 + j_lo
                if i_lo == 0 and j_lo == 0 and i_hi == kh and j_hi == kw:
                    # the window lies inside: fixed trip counts, 2x faster than the clipped loops
                    for i in range(kh):
                        for j in range(kw):
                            v = x[n, c, h0 + i, w0 + j]
                            # strict '>': the first maximum in row-major order wins; a NaN wins its
                            # window (the last NaN takes the gradient), as PyTorch's CPU kernel
                            if v > best or v != v:
                                best = v
                                where = (h0 + i) * W + w0 + j
                else:
                    for i in range(i_lo, i_hi):
                        for j in range(j_lo, j_hi):
                            v = x[n, c, h0 + i, w0 + j]
                            if v > best or v != v:
                                best = v
                                where = (h0 + i) * W + w0 + j
                out[n, c, oh, ow] = best
                argmax[n, c, oh, ow] = where


@njit(inline="always")
def _take_if_larger(v, best, where, k):
    # strict '>': the first maximum in row-major order wins; a NaN wins (the last one), as PyTorch
    if v > best or v != v:
        return v, k
    return best, where


@njit(parallel=True, cache=True)
def _max_pool_2x2(x, out, argmax):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        has_nan = False
        for oh in range(Ho):
            h = 2 * oh
            for ow in range(Wo):
                w = 2 * ow
                a, b = x[n, c, h, w], x[n, c, h, w + 1]
                d, e = x[n, c, h + 1, w], x[n, c, h + 1, w + 1]
                # selects, not branches, so the loop vectorises (4x faster on random data): each
                # row's winner, then the rows'; ties keep the earlier element in row-major order
                top, bottom = max(a, b), max(d, e)
                k_top = h * W + w + (1 if b > a else 0)
                k_bottom = (h + 1) * W + w + (1 if e > d else 0)
                out[n, c, oh, ow] = max(top, bottom)
                argmax[n, c, oh, ow] = k_bottom if bottom > top else k_top
                has_nan |= (a != a) | (b != b) | (d != d) | (e != e)
        if has_nan:  # rare: redo the plane in order, so a NaN wins its window (the last one)
            for oh in range(Ho):
                h = 2 * oh
                for ow in range(Wo):
                    w = 2 * ow
                    best, where = x[n, c, h, w], h * W + w
                    best, where = _take_if_larger(x[n, c, h, w + 1], best, where, h * W + w + 1)
                    best, where = _take_if_larger(x[n, c, h + 1, w], best, where, (h + 1) * W + w)
                    best, where = _take_if_larger(x[n, c, h + 1, w + 1], best, where, (h + 1) * W + w + 1)
                    out[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = where


@njit(parallel=True, cache=True)
def _max_pool_backward(g, argmax, dx):
    N, C, Ho, Wo = g.shape
    W = dx.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            for ow in range(Wo):
                k = argmax[n, c, oh, ow]
                dx[n, c, k // W, k % W] += g[n, c, oh, ow]


@njit(parallel=True, cache=True)
def _avg_pool(x, kh, kw, sh, sw, ph, pw, out):
    # divisor is kh*kw, padding included (PyTorch's count_include_pad=True default)
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    scale = 1.0 / (kh * kw)
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            for ow in range(Wo):
                s = 0.0
                for i in range(kh):
                    h = oh * sh - ph + i
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        w = ow * sw - pw + j
                        if 0 <= w < W:
                            s += x[n, c, h, w]
                out[n, c, oh, ow] = s * scale


@njit(parallel=True, cache=True)
def _avg_pool_backward(g, kh, kw, sh, sw, ph, pw, dx):
    N, C, H, W = dx.shape
    Ho, Wo = g.shape[2], g.shape[3]
    scale = 1.0 / (kh * kw)
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            for ow in range(Wo):
                v = g[n, c, oh, ow] * scale
                for i in range(kh):
                    h = oh * sh - ph + i
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        w = ow * sw - pw + j
                        if 0 <= w < W:
                            dx[n, c, h, w] += v


def max_pool_forward(x, kernel, stride, padding, out_size):
    """-> (out (N, C, Ho, Wo), argmax: flat h*W + w index of each window's first maximum).

    argmax is int32 (int64 only for planes of 2^31 or more entries): it is kept until backward,
    where it takes half the memory of PyTorch's int64 indices (3 of GAPNet's 84 MiB at batch 128)."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_size), dtype=x.dtype)
    index = np.int32 if x.shape[2] * x.shape[3] < 2**31 else np.int64
    argmax = np.empty((N, C) + tuple(out_size), dtype=index)
    if FAST_2X2 and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0):
        _max_pool_2x2(np.ascontiguousarray(x), out, argmax)
    else:
        _max_pool_forward(np.ascontiguousarray(x), *kernel, *stride, *padding, out, argmax)
    return out, argmax


def max_pool_backward(g, argmax, x_shape):
    """g (N, C, Ho, Wo) added into zeros of ``x_shape`` at each window's argmax."""
    dx = np.zeros(x_shape, dtype=g.dtype)
    _max_pool_backward(np.ascontiguousarray(g), argmax, dx)
    return dx


def avg_pool_forward(x, kernel, stride, padding, out_size):
    """(N, C, H, W) -> (N, C, Ho, Wo): each window's sum / (kh*kw), padding counted as zeros."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_size), dtype=x.dtype)
    _avg_pool(np.ascontiguousarray(x), *kernel, *stride, *padding, out)
    return out


def avg_pool_backward(g, x_shape, kernel_size, stride, padding):
    """g (N, C, Ho, Wo) / (kh*kw) added to every entry of its window, in zeros of ``x_shape``."""
    dx = np.zeros(x_shape, dtype=g.dtype)
    _avg_pool_backward(np.ascontiguousarray(g), *kernel_size, *stride, *padding, dx)
    return dx
