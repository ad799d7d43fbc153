"""Max and average pooling, fixed-window and adaptive, as single ops; the loops are in
``minigrad/kernels/pool.py`` (and, inside ``minigrad.kernels("reference")``, the fixed windows'
readable loops in ``minigrad/kernels/reference.py``)."""
from minigrad.graph import Op
from minigrad.kernels import pool as fast, reference
from minigrad.kernels.choice import current
from minigrad.kernels.pool import adaptive_avg_pool_backward, adaptive_avg_pool_forward, adaptive_max_pool_forward
from minigrad.ops.sliding_window import check_4d, output_size, pair
from minigrad.argument_checks import size_pair_or_none
from minigrad.tensor import as_tensor


def _kernels():
    """The module whose pooling loops run now (both name their functions alike)."""
    return reference if current().reference else fast


class MaxPool2d(Op):
    name = "max_pool2d"

    def forward(ctx, x, kernel_size, stride, padding, dilation=(1, 1), ceil_mode=False):
        size = output_size(x.shape[2:], kernel_size, stride, padding, "max_pool2d", dilation, ceil_mode)
        out, ctx.argmax = _kernels().max_pool_forward(x, kernel_size, stride, padding, size, dilation)
        return out

    def backward(ctx, g):
        return (_kernels().max_pool_backward(g, ctx.argmax, ctx.arrays[0].shape),)


class AvgPool2d(Op):
    name = "avg_pool2d"

    def forward(ctx, x, kernel_size, stride, padding):
        size = output_size(x.shape[2:], kernel_size, stride, padding, "avg_pool2d")
        return _kernels().avg_pool_forward(x, kernel_size, stride, padding, size)

    def backward(ctx, g):
        return (_kernels().avg_pool_backward(g, ctx.arrays[0].shape, **ctx.kwargs),)


class AdaptiveMaxPool2d(Op):
    name = "adaptive_max_pool2d"

    def forward(ctx, x, output_size):
        out, ctx.argmax = adaptive_max_pool_forward(x, output_size)
        return out

    backward = MaxPool2d.backward


class AdaptiveAvgPool2d(Op):
    name = "adaptive_avg_pool2d"

    def forward(ctx, x, output_size):
        return adaptive_avg_pool_forward(x, output_size)

    def backward(ctx, g):
        return (adaptive_avg_pool_backward(g, ctx.arrays[0].shape),)


def _pool_args(x, kernel_size, stride, padding, what):
    x = as_tensor(x, f"{what}: argument x")
    check_4d(x, what)
    k = pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p = pair(padding, "padding", 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{what}: padding should be at most half the kernel size, got padding {p} "
                         f"for kernel {k}")
    return x, dict(kernel_size=k, stride=s, padding=p)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each window: x (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to
    kernel_size; padding counts as -inf; ``dilation`` spaces the window's taps; ``ceil_mode``
    keeps a last partial window (PyTorch's output size). Backward: each window's g goes to its
    first maximum in row-major order (PyTorch's rule when entries tie)."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    return MaxPool2d.apply(x, **kw, dilation=pair(dilation, "dilation", 1), ceil_mode=bool(ceil_mode))


def _adaptive_args(x, output_size, what):
    x = as_tensor(x, f"{what}: argument x")
    check_4d(x, what)
    size = size_pair_or_none(output_size, f"{what}: output_size")
    size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(size))  # None keeps the input's size
    return x, pair(size, "output_size", 1)


def adaptive_max_pool2d(x, output_size):
    """The maximum of each of PyTorch's adaptive bins: x (N, C, H, W) -> (N, C, Ho, Wo), where bin
    (i, j) spans rows floor(i H / Ho) to ceil((i + 1) H / Ho) and the columns alike (``output_size``
    an int, a pair, None entries keeping the input's size; larger than the input repeats entries).
    Backward: each bin's g to its first maximum."""
    x, size = _adaptive_args(x, output_size, "adaptive_max_pool2d")
    return AdaptiveMaxPool2d.apply(x, output_size=size)


def adaptive_avg_pool2d(x, output_size):
    """The mean of each adaptive bin (bins as in ``adaptive_max_pool2d``): (N, C, H, W) ->
    (N, C, Ho, Wo). Backward: each bin's g shared equally over its entries."""
    x, size = _adaptive_args(x, output_size, "adaptive_avg_pool2d")
    return AdaptiveAvgPool2d.apply(x, output_size=size)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """The mean of each window, zero padding counted (PyTorch's default): x (N, C, H, W) ->
    (N, C, Ho, Wo); stride defaults to kernel_size. Backward: g / (kh kw) to every window entry."""
    x, kw = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2d.apply(x, **kw)
