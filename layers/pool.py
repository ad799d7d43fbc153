"""Pooling layers: max, average, adaptive, and the global average pooling that CAM relies on."""
from layers.checks import layer_input
from layers.module import Module
from minigrad import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from minigrad.argument_checks import size_pair_or_none
from minigrad.ops.sliding_window import pair


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = pair(kernel_size, f"{type(self).__name__} kernel_size", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, f"{type(self).__name__} stride", 1)
        self.padding = pair(padding, f"{type(self).__name__} padding", 0)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over kernel_size windows (stride defaults to kernel_size; padding counts as -inf;
    ``dilation`` spaces the taps; ``ceil_mode`` keeps a last partial window, as PyTorch).
    (N, C, H, W) -> (N, C, Ho, Wo). Ties send the gradient to the first maximum (row-major)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride, padding)
        self.dilation = pair(dilation, "MaxPool2d dilation", 1)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return super().extra_repr() + f", dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """Mean over kernel_size windows, zero padding counted (PyTorch's default).
    (N, C, H, W) -> (N, C, Ho, Wo)."""

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class GlobalAvgPool2d(Module):
    """Mean over all positions: (N, C, H, W) -> (N, C) (Lin et al. 2014; the layer CAM needs).
    Equals PyTorch's ``AdaptiveAvgPool2d(1)`` followed by ``Flatten()``."""

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        return x.mean(axis=(2, 3))


class _AdaptivePool2d(Module):
    def __init__(self, output_size):
        size_pair_or_none(output_size, f"{type(self).__name__} output_size")  # checked when built, not at first use
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean over PyTorch's adaptive bins, whatever the input size: (N, C, H, W) -> (N, C, *output_size).
    ``output_size`` an int or a pair (None keeps that side's size); VGG's (7, 7), ResNet's 1."""

    def forward(self, x):
        return adaptive_avg_pool2d(layer_input(self, x, 4, "(N, C, H, W)"), self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max over PyTorch's adaptive bins: (N, C, H, W) -> (N, C, *output_size)."""

    def forward(self, x):
        return adaptive_max_pool2d(layer_input(self, x, 4, "(N, C, H, W)"), self.output_size)
