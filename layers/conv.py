"""``Conv2d``: a convolution layer with PyTorch's parameter layout and initialisation."""
import numpy as np

from layers.checks import check_size, layer_input
from layers.init import default_weight_and_bias, model_arguments
from layers.module import Module, Parameter
from minigrad import conv2d
from minigrad.ops.sliding_window import pair


class Conv2d(Module):
    """y = conv2d(x, weight, bias): x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    weight (out_channels, in_channels / groups, kh, kw), bias (out_channels,); initialised as
    PyTorch does (kaiming_uniform with a=sqrt(5)) from ``rng`` (Generator, seed or None).
    Arguments in PyTorch's order: ``dilation`` spaces the kernel's taps, ``groups`` splits the
    channels into independent groups (``groups=in_channels``: depthwise).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, rng=None, dtype=np.float64):
        rng, dtype = model_arguments(rng, dtype, in_channels=in_channels, out_channels=out_channels, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair(kernel_size, "Conv2d kernel_size", 1)
        self.stride = pair(stride, "Conv2d stride", 1)
        self.padding = pair(padding, "Conv2d padding", 0)
        self.dilation = pair(dilation, "Conv2d dilation", 1)
        w, b = default_weight_and_bias((out_channels, in_channels // groups) + self.kernel_size, bias, rng, dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        x = layer_input(self, x, 4, "(N, C, H, W)")
        check_size(self, "input channels", self.in_channels, x.shape[1], x.shape)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        extra = (f", dilation={self.dilation}" if self.dilation != (1, 1) else "") + \
            (f", groups={self.groups}" if self.groups != 1 else "")
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}{extra}")
