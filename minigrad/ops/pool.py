"""Max and average pooling as single ops; the loops are in ``minigrad/kernels/pool.py``."""
from minigrad.graph import Op
from minigrad.kernels.pool import (avg_pool_backward, avg_pool_forward, max_pool_backward,
                                   max_pool_forward)
from minigrad.ops.sliding_window import check_4d, output_size, pair
from minigrad.tensor import as_tensor


class MaxPool2d(Op):
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
    name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        size = output_size(x.shape[2:], kernel_size, stride, padding, "avg_pool2d")
        return avg_pool_forward(x, kernel_size, stride, padding, size)

    @staticmethod
    def backward(ctx, g):
        return (avg_pool_backward(g, ctx.arrays[0].shape, **ctx.kwargs),)


def _pool_args(x, kernel_size, stride, padding, what):
    x = as_tensor(x)
    check_4d(x, what)
    k = pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p = pair(padding, "padding", 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{what}: padding should be at most half the kernel size, got padding {p} "
                         f"for kernel {k}")
    return x, dict(kernel_size=k, stride=s, padding=p)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """The maximum of each window: x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to
    kernel_size; padding counts as -inf. Backward: each window's g goes to its first maximum in
    row-major order (PyTorch's rule when entries tie)."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    return MaxPool2d.apply(x, **kw)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """The mean of each window, zero padding counted (PyTorch's default): x (N, C, H, W) ->
    (N, C, Ho, Wo); stride defaults to kernel_size. Backward: g / (kh kw) to every window entry."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2d.apply(x, **kw)
