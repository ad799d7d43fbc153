"""The reference kernels: convolution and pooling as plain loops over output positions, written
to be read (in the manner of cs231n's naive layers), not to be fast.

Every loop visits one output position (n, channel, i, j) at a time and the window of input taps
it reads. Along one axis, output position i of a window of k taps with stride s, padding p and
dilation d reads the input rows i*s - p + t*d for t = 0..k-1; taps that fall in the padding are
skipped (zero padding adds nothing to a sum, and -inf padding is never a maximum). The fast
kernels (``conv.py``, ``im2col.py``, ``winograd.py``, ``weight_gradient.py``, ``depthwise.py``,
``pool.py``) must give the same numbers: tests/test_kernels.py holds each of them to these.
Run a block with them: ``with minigrad.kernels("reference"): ...``.
"""
import numpy as np


def _taps(i, k, s, p, d, n):
    """(input indices, kernel indices) of the taps of window i along an axis of n entries that
    fall inside the input."""
    inside = [(i * s - p + t * d, t) for t in range(k) if 0 <= i * s - p + t * d < n]
    return [a for a, _ in inside], [t for _, t in inside]


def _windows(out_shape, in_hw, kernel, stride, padding, dilation):
    """For every output position (n, c, i, j): the position, and the rows, columns (of the input)
    and kernel rows, kernel columns its window reads."""
    for n, c, i, j in np.ndindex(*out_shape):
        rows, krows = _taps(i, kernel[0], stride[0], padding[0], dilation[0], in_hw[0])
        cols, kcols = _taps(j, kernel[1], stride[1], padding[1], dilation[1], in_hw[1])
        yield (n, c, i, j), rows, cols, krows, kcols


def _group_channels(o, in_per_group, out_per_group):
    """The input channels output channel o reads: those of its group."""
    first = (o // out_per_group) * in_per_group
    return np.arange(first, first + in_per_group)


# --- convolution: out[n, o, i, j] = b[o] + sum over (c, taps) of x[n, c, tap] * w[o, c, tap] ----

def conv2d_forward(x, w, b, stride, padding, size, dilation=(1, 1), groups=1):
    """x (N, C, H, W), w (O, C / groups, kh, kw), b (O,) or None -> (N, O, Ho, Wo)."""
    O, per_group = w.shape[:2]
    out = np.zeros((x.shape[0], O) + tuple(size), x.dtype)
    for (n, o, i, j), rows, cols, krows, kcols in _windows(out.shape, x.shape[2:], w.shape[2:], stride, padding,
                                                           dilation):
        channels = _group_channels(o, per_group, O // groups)
        patch = x[n][np.ix_(channels, rows, cols)]
        out[n, o, i, j] = np.sum(patch * w[o][np.ix_(range(per_group), krows, kcols)])
        if b is not None:
            out[n, o, i, j] += b[o]
    return out


def conv2d_parameter_grads(g, x, w_shape, has_bias, need_weight, need_bias, stride, padding, size,
                           dilation=(1, 1), groups=1):
    """(dL/dw, dL/db) from g (N, O, Ho, Wo): each output position adds g times the patch it read
    to its filter's gradient, and g to its bias's."""
    O, per_group = w_shape[:2]
    gw = np.zeros(w_shape, g.dtype)
    for (n, o, i, j), rows, cols, krows, kcols in _windows(g.shape, x.shape[2:], w_shape[2:], stride, padding,
                                                           dilation):
        channels = _group_channels(o, per_group, O // groups)
        gw[o][np.ix_(range(per_group), krows, kcols)] += g[n, o, i, j] * x[n][np.ix_(channels, rows, cols)]
    gb = g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None
    return (gw if need_weight else None), gb


def conv2d_input_grad(g, x_shape, w, stride, padding, size, dilation=(1, 1), groups=1):
    """dL/dx from g (N, O, Ho, Wo): each output position adds g times its filter back onto the
    patch it read."""
    O, per_group = w.shape[:2]
    dx = np.zeros(x_shape, g.dtype)
    for (n, o, i, j), rows, cols, krows, kcols in _windows(g.shape, x_shape[2:], w.shape[2:], stride, padding,
                                                           dilation):
        channels = _group_channels(o, per_group, O // groups)
        dx[n][np.ix_(channels, rows, cols)] += g[n, o, i, j] * w[o][np.ix_(range(per_group), krows, kcols)]
    return dx


# --- max pooling: out = the largest tap; its flat index h * W + w is kept for the backward pass -

def max_pool_forward(x, kernel, stride, padding, out_size, dilation=(1, 1)):
    """-> (out (N, C, Ho, Wo), argmax): the first maximum in row-major order wins (a NaN wins its
    window: the last NaN), as PyTorch's CPU kernel; a window with no tap inside gives -inf, -1."""
    W = x.shape[3]
    out = np.empty(x.shape[:2] + tuple(out_size), x.dtype)
    argmax = np.empty(out.shape, np.int64)
    for (n, c, i, j), rows, cols, _, _ in _windows(out.shape, x.shape[2:], kernel, stride, padding, dilation):
        if not rows or not cols:
            out[n, c, i, j], argmax[n, c, i, j] = -np.inf, -1
            continue
        values = x[n, c][np.ix_(rows, cols)].ravel()
        nan = np.flatnonzero(np.isnan(values))
        k = nan[-1] if nan.size else np.argmax(values)
        out[n, c, i, j] = values[k]
        argmax[n, c, i, j] = rows[k // len(cols)] * W + cols[k % len(cols)]
    return out, argmax


def max_pool_backward(g, argmax, x_shape):
    """Each window's g goes to the tap that was its maximum."""
    dx = np.zeros(x_shape, g.dtype)
    W = x_shape[3]
    for n, c, i, j in np.ndindex(*g.shape):
        if argmax[n, c, i, j] >= 0:
            dx[n, c, argmax[n, c, i, j] // W, argmax[n, c, i, j] % W] += g[n, c, i, j]
    return dx


# --- average pooling: out = the sum of the taps / (kh * kw), padding counted as zeros -----------

def avg_pool_forward(x, kernel, stride, padding, out_size):
    """(N, C, H, W) -> (N, C, Ho, Wo)."""
    out = np.empty(x.shape[:2] + tuple(out_size), x.dtype)
    for (n, c, i, j), rows, cols, _, _ in _windows(out.shape, x.shape[2:], kernel, stride, padding, (1, 1)):
        out[n, c, i, j] = x[n, c][np.ix_(rows, cols)].sum() / (kernel[0] * kernel[1])
    return out


def avg_pool_backward(g, x_shape, kernel_size, stride, padding):
    """Each window's g / (kh * kw) goes to every tap inside the input."""
    dx = np.zeros(x_shape, g.dtype)
    for (n, c, i, j), rows, cols, _, _ in _windows(g.shape, x_shape[2:], kernel_size, stride, padding, (1, 1)):
        dx[n, c][np.ix_(rows, cols)] += g[n, c, i, j] / (kernel_size[0] * kernel_size[1])
    return dx
