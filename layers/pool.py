"""Pooling layers: max, average, and the global average pooling that CAM relies on."""
from layers.checks import layer_input
from layers.module import Module
from minigrad import avg_pool2d, max_pool2d
from minigrad.ops.sliding_window import pair


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = pair(kernel_size, f"{type(self).__name__} kernel_size", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, f"{type(self).__name__} stride", 1)
        self.padding = pair(padding, f"{type(self).__name__} padding", 0)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over kernel_size windows (stride defaults to kernel_size; padding counts as -inf).
    (N, C, H, W) -> (N, C, Ho, Wo). Ties send the gradient to the first maximum (row-major)."""

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


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
