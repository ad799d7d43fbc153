"""Max and average pooling kernels over (N, C, H, W), one (n, c) plane per parallel task.

The general max-pool kernel handles any window, stride, padding and dilation; the adaptive
kernels take PyTorch's bins. The 2x2 stride-2 unpadded
window of most networks has its own kernel with the four comparisons written out as selects,
because loops of runtime length over a 2x2 window, and data-dependent branches, do not vectorise
(docs/performance.md: ~10x faster). A plane holding a NaN is redone
in order. Same results bit for bit, ties and NaN included (tests/test_kernels.py);
``minigrad.kernels(fast_2x2=False)`` takes the general kernel everywhere.
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels.choice import current
from minigrad.kernels.parallel_launch import parallel_kernel


@njit(cache=True, inline="always")
def _taps_inside(start, k, d, n):
    """The taps [lo, hi) of a window whose tap i reads start + i d that fall inside [0, n). Divides
    only at the borders: a division per window cost the general kernel ~25% of its time."""
    lo = 0 if start >= 0 else (d - 1 - start) // d
    hi = k if start + (k - 1) * d < n else max(0, (n - 1 - start) // d + 1)
    return lo, min(hi, k)


@njit(cache=True, inline="always")
def _max_window(x, n, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """One window's maximum and its flat index, in order (the borders, and any window of a row
    that reaches the padding)."""
    H, W = x.shape[2], x.shape[3]
    h0, w0 = oh * sh - ph, ow * sw - pw
    # padding counts as -inf, never the maximum: clip the window's taps to the image once
    i_lo, i_hi = _taps_inside(h0, kh, dh, H)
    j_lo, j_hi = _taps_inside(w0, kw, dw, W)
    if i_lo >= i_hi or j_lo >= j_hi:  # a dilated window whose taps all fall in the padding
        out[n, c, oh, ow] = -np.inf
        argmax[n, c, oh, ow] = -1
        return
    best = x[n, c, h0 + i_lo * dh, w0 + j_lo * dw]
    where = (h0 + i_lo * dh) * W + w0 + j_lo * dw
    for i in range(i_lo, i_hi):
        for j in range(j_lo, j_hi):
            v = x[n, c, h0 + i * dh, w0 + j * dw]
            # strict '>': the first maximum in row-major order wins; a NaN wins its window (the
            # last NaN takes the gradient), as PyTorch's CPU kernel
            if v > best or v != v:
                best = v
                where = (h0 + i * dh) * W + w0 + j * dw
    out[n, c, oh, ow] = best
    argmax[n, c, oh, ow] = where


@parallel_kernel()
def _max_pool_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    # the windows of a row that lie inside the image: output columns [a, b)
    a = min(Wo, -(-pw // sw))
    b = max(a, min(Wo, (W - 1 - (kw - 1) * dw + pw) // sw + 1))
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            h0 = oh * sh - ph
            if h0 < 0 or h0 + (kh - 1) * dh >= H or a == b:
                for ow in range(Wo):
                    _max_window(x, n, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax)
                continue
            for ow in range(a):
                _max_window(x, n, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax)
            for ow in range(b, Wo):
                _max_window(x, n, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax)
            # inside: tap by tap over the whole row, with selects instead of branches, so the
            # loop over windows vectorises (the taps in the same row-major order: the same result)
            best, where = out[n, c, oh, a:b], argmax[n, c, oh, a:b]
            first = x[n, c, h0, a * sw - pw:]
            for k in range(b - a):
                best[k] = first[k * sw]
                where[k] = h0 * W + a * sw - pw + k * sw
            for i in range(kh):
                h = h0 + i * dh
                for j in range(kw):
                    start = a * sw - pw + j * dw
                    row = x[n, c, h, start:]
                    for k in range(b - a):
                        v = row[k * sw]
                        take = v > best[k] or v != v
                        best[k] = v if take else best[k]
                        where[k] = h * W + start + k * sw if take else where[k]


@njit(cache=True, inline="always")
def _bin(i, n_in, n_out):
    """PyTorch's adaptive bin i of n_out over n_in entries: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out)),
    so neighbouring bins may overlap, or repeat an entry when n_out > n_in."""
    return (i * n_in) // n_out, ((i + 1) * n_in + n_out - 1) // n_out


@parallel_kernel()
def _adaptive_max_pool(x, out, argmax):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            h0, h1 = _bin(oh, H, Ho)
            for ow in range(Wo):
                w0, w1 = _bin(ow, W, Wo)
                best, where = x[n, c, h0, w0], h0 * W + w0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = x[n, c, h, w]
                        if v > best or v != v:
                            best, where = v, h * W + w
                out[n, c, oh, ow] = best
                argmax[n, c, oh, ow] = where


@parallel_kernel()
def _adaptive_avg_pool(x, out):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            h0, h1 = _bin(oh, H, Ho)
            for ow in range(Wo):
                w0, w1 = _bin(ow, W, Wo)
                s = 0.0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        s += x[n, c, h, w]
                out[n, c, oh, ow] = s / ((h1 - h0) * (w1 - w0))


@parallel_kernel()
def _adaptive_avg_pool_backward(g, dx):
    N, C, H, W = dx.shape
    Ho, Wo = g.shape[2], g.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            h0, h1 = _bin(oh, H, Ho)
            for ow in range(Wo):
                w0, w1 = _bin(ow, W, Wo)
                v = g[n, c, oh, ow] / ((h1 - h0) * (w1 - w0))
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        dx[n, c, h, w] += v


@njit(inline="always")
def _take_if_larger(v, best, where, k):
    # strict '>': the first maximum in row-major order wins; a NaN wins (the last one), as PyTorch
    if v > best or v != v:
        return v, k
    return best, where


@parallel_kernel()
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


@parallel_kernel()
def _max_pool_backward(g, argmax, dx):
    N, C, Ho, Wo = g.shape
    W = dx.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        for oh in range(Ho):
            for ow in range(Wo):
                k = argmax[n, c, oh, ow]
                if k >= 0:  # -1: a window with no tap inside the image
                    dx[n, c, k // W, k % W] += g[n, c, oh, ow]


@parallel_kernel()
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


@parallel_kernel()
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


def max_pool_forward(x, kernel, stride, padding, out_size, dilation=(1, 1)):
    """-> (out (N, C, Ho, Wo), argmax: flat h*W + w index of each window's first maximum).

    argmax is int32 (int64 only for planes of 2^31 or more entries): it is kept until backward,
    where it takes half the memory of PyTorch's int64 indices (3 of GAPNet's 84 MiB at batch 128)."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_size), dtype=x.dtype)
    argmax = np.empty((N, C) + tuple(out_size), dtype=_index_dtype(x))
    if (current().fast_2x2 and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and x.shape[2] >= 2 * out_size[0] and x.shape[3] >= 2 * out_size[1]):
        _max_pool_2x2(np.ascontiguousarray(x), out, argmax)
    else:
        _max_pool_forward(np.ascontiguousarray(x), *kernel, *stride, *padding, *dilation, out, argmax)
    return out, argmax


def _index_dtype(x):
    return np.int32 if x.shape[2] * x.shape[3] < 2**31 else np.int64


def adaptive_max_pool_forward(x, out_size):
    """(N, C, H, W) -> (out (N, C, Ho, Wo), argmax as in ``max_pool_forward``): the maximum of each
    of PyTorch's adaptive bins, rows floor(i H / Ho) to ceil((i + 1) H / Ho) (columns alike)."""
    out = np.empty(x.shape[:2] + tuple(out_size), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=_index_dtype(x))
    _adaptive_max_pool(np.ascontiguousarray(x), out, argmax)
    return out, argmax


def adaptive_avg_pool_forward(x, out_size):
    """(N, C, H, W) -> (N, C, Ho, Wo): the mean of each adaptive bin (bins as above)."""
    out = np.empty(x.shape[:2] + tuple(out_size), dtype=x.dtype)
    _adaptive_avg_pool(np.ascontiguousarray(x), out)
    return out


def adaptive_avg_pool_backward(g, x_shape):
    """g (N, C, Ho, Wo) shared equally over each bin's entries, in zeros of ``x_shape``."""
    dx = np.zeros(x_shape, dtype=g.dtype)
    _adaptive_avg_pool_backward(np.ascontiguousarray(g), dx)
    return dx


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
