"""``Conv2d``: a convolution layer with PyTorch's parameter layout and initialisation."""
import numpy as np

from layers.checks import check_size, layer_input
from layers.init import default_weight_and_bias
from layers.module import Module, Parameter
from minigrad import conv2d
from minigrad.ops.sliding_window import pair


class Conv2d(Module):
    """y = conv2d(x, weight, bias): x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    weight (out_channels, in_channels, kh, kw), bias (out_channels,); initialised as PyTorch
    does (kaiming_uniform with a=sqrt(5)) from ``rng`` (Generator, seed or None).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 rng=None, dtype=np.float64):
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {v!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d kernel_size", 1)
        self.stride = pair(stride, "Conv2d stride", 1)
        self.padding = pair(padding, "Conv2d padding", 0)
        w, b = default_weight_and_bias((out_channels, in_channels) + self.kernel_size, bias, rng, dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        check_size(self, "input channels", self.in_channels, x.shape[1], x.shape)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
