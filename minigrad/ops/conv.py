"""2-D convolution and pooling as single ops, so that a backward rule acts on a whole layer.

All take NCHW arrays. Sizes follow PyTorch: Ho = (H + 2 ph - kh) // sh + 1.
"""
import numpy as np

from minigrad.graph import Op
from minigrad.kernels.im2col import col2im, im2col
from minigrad.kernels.pool import (avg_pool_backward, avg_pool_forward, max_pool_backward,
                                   max_pool_forward)
from minigrad.kernels.scratch import scratch


def pair(value, name, minimum):
    """An int or a pair of ints -> a pair of ints >= minimum, else a ValueError naming ``name``."""
    v = (value, value) if np.isscalar(value) else tuple(value)
    if len(v) != 2 or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in v):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(v) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return int(v[0]), int(v[1])


def output_size(in_hw, kernel, stride, padding, what):
    """(Ho, Wo) of a sliding window, with a ValueError when the kernel exceeds the padded input."""
    H, W = in_hw
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(f"{what}: kernel {kh}x{kw} is larger than the padded input "
                         f"{H + 2 * ph}x{W + 2 * pw} (input {H}x{W}, padding {ph}x{pw})")
    return (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def _check_4d(x, what):
    if x.ndim != 4:
        raise ValueError(f"{what}: expected input of shape (N, C, H, W), got shape {x.shape}")


class Conv2d(Op):
    """out[n, o] = sum_c x[n, c] (cross-correlated with) w[o, c] + b[o], via im2col and GEMM.

    x (N, C, H, W), w (O, C, kh, kw), b (O,) or absent -> (N, O, Ho, Wo).
    """

    name = "conv2d"

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        N = x.shape[0]
        O, _, kh, kw = w.shape
        K = w[0].size
        size = output_size(x.shape[2:], (kh, kw), stride, padding, "conv2d")
        # the bias trick: with a bias the columns get a row of ones and the weight matrix b as one
        # more column, so no separate pass adds b (or, backward, sums g): 2% of a VGG-like step
        shape = (K + (b is not None), N * size[0] * size[1])
        # the columns are kept for the weight gradient, or else built in reusable scratch space
        cols = np.empty(shape, x.dtype) if ctx.recorded else scratch(shape, x.dtype)
        im2col(x, (kh, kw), stride, padding, size, out=cols[:K])
        weights = w.reshape(O, K)
        if b is not None:
            cols[K] = 1
            weights = np.concatenate([weights, b[:, None].astype(w.dtype, copy=False)], axis=1)
        ctx.cols, ctx.size = (cols if ctx.recorded else None), size
        return _matmul_to_nchw(weights, cols, N, size)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.arrays[:2]
        need = ctx.needs_input_grad
        has_bias = len(ctx.arrays) == 3
        gx = _input_grad(g, x.shape, w, ctx.kwargs, ctx.size) if need[0] else None
        if not need[1]:
            gw, gb = None, (g.sum(axis=(0, 2, 3)) if has_bias and need[2] else None)
        else:  # (O, K) or, with the row of ones, (O, K + 1) whose last column is sum g
            both = _matmul_nchw_cols_t(g, ctx.cols)
            gw, gb = both[:, :w[0].size].reshape(w.shape), (both[:, -1] if has_bias and need[2] else None)
        return (gx, gw, gb) if has_bias else (gx, gw)


# The GEMMs of a convolution pair a weight matrix with im2col columns (K, N*Ho*Wo), whose
# column index runs over (n, oh, ow), while activations and gradients are NCHW. Viewed as
# (N, K, Ho*Wo), the columns let one GEMM per sample read and write NCHW directly (BLAS takes
# the strided view as it is), 1.2-3x faster than one large GEMM and a transposing copy, as
# long as each sample's (m x k) @ (k x Ho*Wo) product has >= 2^20 multiply-adds to pay for its
# call (all of the VGG-like net's layers); smaller ones (LeNet's) keep the one large GEMM.
def _per_sample(m, k, size):
    return m * k * size[0] * size[1] >= 1 << 20


def _by_sample(cols, N):
    """cols (K, N*P) -> the (N, K, P) view of the same memory."""
    return cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)


def _rows(g):
    """g (N, O, Ho, Wo) -> (O, N*Ho*Wo), in the column order of im2col (a transposing copy)."""
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(g.shape[1], -1)


def _matmul_to_nchw(a, cols, N, size):
    """a (M, K) @ cols (K, N*Ho*Wo) -> (N, M, Ho, Wo)."""
    if _per_sample(*a.shape, size):
        return np.matmul(a, _by_sample(cols, N)).reshape(N, a.shape[0], *size)
    return np.ascontiguousarray((a @ cols).reshape(a.shape[0], N, *size).transpose(1, 0, 2, 3))


def _matmul_nchw_cols_t(g, cols):
    """sum_n g[n] (O, Ho*Wo) @ cols_n^T (Ho*Wo, K) -> (O, K): the weight gradient."""
    N, O = g.shape[:2]
    if _per_sample(O, cols.shape[0], g.shape[2:]):
        return np.matmul(g.reshape(N, O, -1), _by_sample(cols, N).transpose(0, 2, 1)).sum(axis=0)
    return _rows(g) @ cols.T


def _matmul_nchw_to_cols(a, g, out):
    """a (K, O) @ g (N, O, Ho, Wo) -> out (K, N*Ho*Wo), in the column layout of im2col."""
    N, O = g.shape[:2]
    if _per_sample(*a.shape, g.shape[2:]):
        np.matmul(a, g.reshape(N, O, -1), out=_by_sample(out, N))
    else:
        np.matmul(a, _rows(g), out=out)
    return out


def _flipped_correlation_applies(w_shape, kwargs):
    O, C, kh, kw = w_shape
    ph, pw = kwargs["padding"]
    return kwargs["stride"] == (1, 1) and O <= C and ph < kh and pw < kw


def _input_grad(g, x_shape, w, kwargs, size):
    """dL/dx of a convolution from g (N, O, Ho, Wo).

    In general: scatter the columns W^T g back with col2im. With stride 1 and no more output than
    input channels it is cheaper to correlate g with the flipped kernel (padding k - 1 - p): a
    gather of O*kh*kw rows instead of a scatter-add of C*kh*kw rows, measured 15-30% faster.
    """
    O, C, kh, kw = w.shape
    ph, pw = kwargs["padding"]
    if _flipped_correlation_applies(w.shape, kwargs):
        N, _, H, W = x_shape
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)
        cols = im2col(g, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw), (H, W),
                      out=scratch((O * kh * kw, N * H * W), g.dtype))
        return _matmul_to_nchw(flipped, cols, N, (H, W))
    N, _, Ho, Wo = g.shape
    cols = _matmul_nchw_to_cols(w.reshape(O, -1).T, g, scratch((C * kh * kw, N * Ho * Wo), g.dtype))
    return col2im(cols, x_shape, (kh, kw), kwargs["stride"], kwargs["padding"], size)


class MaxPool2d(Op):
    """Max over each window; padding counts as -inf; the gradient of a window goes to its
    first maximum in row-major order (PyTorch's rule when several entries tie)."""

    name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        size = output_size(x.shape[2:], kernel_size, stride, padding, "max_pool2d")
        out, ctx.argmax = max_pool_forward(x, kernel_size, stride, padding, size)
        return out

    @staticmethod
    def backward(ctx, g):
        return (max_pool_backward(g, ctx.argmax, ctx.arrays[0].shape),)


class AvgPool2d(Op):
    """Mean over each window, zero padding included in the count (PyTorch's default)."""

    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        size = output_size(x.shape[2:], kernel_size, stride, padding, "avg_pool2d")
        return avg_pool_forward(x, kernel_size, stride, padding, size)

    @staticmethod
    def backward(ctx, g):
        k = ctx.kwargs
        return (avg_pool_backward(g, ctx.arrays[0].shape, k["kernel_size"], k["stride"], k["padding"]),)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> (N, O, Ho, Wo)."""
    from minigrad.tensor import as_tensor

    x, weight = as_tensor(x), as_tensor(weight)
    _check_4d(x, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (O, C, kh, kw), got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but weight expects {weight.shape[1]}")
    kw = dict(stride=pair(stride, "stride", 1), padding=pair(padding, "padding", 0))
    args = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*args, **kw)


def _pool_args(x, kernel_size, stride, padding, what):
    from minigrad.tensor import as_tensor

    x = as_tensor(x)
    _check_4d(x, what)
    k = pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p = pair(padding, "padding", 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{what}: padding should be at most half the kernel size, got padding {p} "
                         f"for kernel {k}")
    return x, dict(kernel_size=k, stride=s, padding=p)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    return MaxPool2d.apply(x, **kw)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2d.apply(x, **kw)
