"""MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov & Chen 2018, "MobileNetV2: inverted residuals and linear
bottlenecks") as torchvision builds it.

The module tree is torchvision's, so ``state_dict()`` keys and shapes are its keys ("features.0.0.weight",
"features.1.conv.0.0.weight", "features.2.conv.1.1.running_mean", ...). What the names are for:

- ``features[0]`` and ``features[-1]`` are ``Conv2dNormActivation``s (Conv2d, BatchNorm2d, ReLU6 as children
  "0", "1", "2"): the 3x3 stride-2 stem and the final 1x1 convolution to 1280 channels. Grad-CAM (Selvaraju
  et al. 2017) reads ``model.features[-1]`` (``features[18]``), 7x7 for a 224x224 image.
- ``features[1]`` .. ``features[17]`` are ``InvertedResidual`` blocks, ``block.conv`` a Sequential of an
  expanding 1x1 Conv2dNormActivation (absent when the expansion is 1), a depthwise 3x3 one (groups = channels)
  and a linear 1x1 projection (Conv2d and BatchNorm2d, no activation: the "linear bottleneck"); a block of
  stride 1 whose channels do not change adds its input back (``x + conv(x)``, an ordinary ``add``).
- ``classifier`` = Sequential(Dropout(0.2), Linear(1280, num_classes)), after global average pooling
  (a function in the forward, not a module, as in torchvision).

Builders take ``num_classes``, ``seed`` (an int, a NumPy Generator, or None: the generator that
``layers.manual_seed`` sets) and ``dtype`` (np.float64, or np.float32 for speed).
"""
import numpy as np

from layers.activation import ReLU, ReLU6
from layers.conv import Conv2d
from layers.dropout import Dropout
from layers.init import generator, model_arguments
from layers.linear import Linear
from layers.module import Module, Sequential
from layers.normalization import BatchNorm2d
from layers.torchvision_init import init_like_torchvision
from minigrad import adaptive_avg_pool2d
from minigrad.argument_checks import size_pair

# Sandler et al.'s Table 2: expansion t, output channels c, repeats n, stride s of the first repeat
_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
            [6, 320, 1, 1]]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), as TensorFlow's MobileNet
    code does so that every layer's channels are a multiple of 8."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v  # never round down by more than 10%


class Conv2dNormActivation(Sequential):
    """Conv2d - norm - activation as one Sequential (children "0", "1", "2", torchvision's keys):
    (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride). ``padding`` None keeps the size
    ((kernel_size - 1) // 2 * dilation); the convolution has a bias only without a norm layer (``bias=None``).
    ``norm_layer`` (called with the channels and ``dtype``) or ``activation_layer`` (called with
    ``inplace=inplace``, or with no argument when ``inplace`` is None, as in torchvision) may be None to
    leave that child out."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=BatchNorm2d, activation_layer=ReLU, dilation=1, inplace=True, bias=None, *, rng=None,
                 dtype=np.float64):
        rng, dtype = model_arguments(rng, dtype)
        if padding is None:  # the sizes are checked (and named) first: the arithmetic below needs ints
            size_pair(kernel_size, "kernel_size"), size_pair(dilation, "dilation")
            padding = (kernel_size - 1) // 2 * dilation
        bias = norm_layer is None if bias is None else bias
        mods = [Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                       groups=groups, bias=bias, rng=rng, dtype=dtype)]
        if norm_layer is not None:
            mods.append(norm_layer(out_channels, dtype=dtype))
        if activation_layer is not None:
            mods.append(activation_layer() if inplace is None else activation_layer(inplace=inplace))
        super().__init__(*mods)
        self.out_channels = out_channels


class InvertedResidual(Module):
    """MobileNetV2's block: expand (1x1, ReLU6), depthwise 3x3 (``stride``, ReLU6), project (1x1, linear):
    (N, inp, H, W) -> (N, oup, H / stride, W / stride), the input added back when stride is 1 and inp == oup
    (``use_res_connect``)."""

    def __init__(self, inp, oup, stride, expand_ratio, *, rng=None, dtype=np.float64):
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride!r}")
        rng, dtype = model_arguments(rng, dtype, inp=inp, oup=oup, expand_ratio=expand_ratio)
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        mods = []
        if expand_ratio != 1:
            mods.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1, activation_layer=ReLU6, rng=rng,
                                             dtype=dtype))
        mods += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                      activation_layer=ReLU6, rng=rng, dtype=dtype),
                 Conv2d(hidden_dim, oup, 1, bias=False, rng=rng, dtype=dtype),
                 BatchNorm2d(oup, dtype=dtype)]
        self.conv = Sequential(*mods)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(Module):
    """MobileNetV2: (N, 3, H, W) -> (N, num_classes), any H, W >= 1.

    ``features``: the stem, the InvertedResidual blocks of ``inverted_residual_setting`` (rows t, c, n, s;
    Sandler et al.'s Table 2 by default) and a 1x1 Conv2dNormActivation to 1280 channels; then global
    average pooling and ``classifier`` = Sequential(Dropout(dropout), Linear(1280, num_classes)).
    ``width_mult`` scales every layer's channels (rounded to multiples of ``round_nearest``). Weights are
    drawn as torchvision draws them (convolutions N(0, 2 / fan_out), BatchNorm 1 and 0, Linear N(0, 0.01^2)).
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None, round_nearest=8,
                 dropout=0.2, *, rng=None, dtype=np.float64):
        setting = _SETTING if inverted_residual_setting is None else inverted_residual_setting
        if len(setting) == 0 or any(len(row) != 4 for row in setting):
            raise ValueError(f"MobileNetV2: inverted_residual_setting must be a non-empty list of rows "
                             f"[t, c, n, s], got {inverted_residual_setting!r}")
        rng, dtype = model_arguments(rng, dtype, num_classes=num_classes, round_nearest=round_nearest)
        c_in = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, c_in, stride=2, activation_layer=ReLU6, rng=rng, dtype=dtype)]
        for t, c, n, s in setting:
            c_out = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t, rng=rng, dtype=dtype))
                c_in = c_out
        features.append(Conv2dNormActivation(c_in, self.last_channel, kernel_size=1, activation_layer=ReLU6,
                                             rng=rng, dtype=dtype))
        self.features = Sequential(*features)
        self.classifier = Sequential(Dropout(dropout, rng=rng),
                                     Linear(self.last_channel, num_classes, rng=rng, dtype=dtype))
        init_like_torchvision(self, rng)

    def forward(self, x):
        x = adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.reshape(x.shape[0], -1))


def mobilenet_v2(num_classes=1000, *, seed=None, dtype=np.float64):
    """MobileNetV2 untrained (width 1.0), weights drawn from ``seed`` as torchvision draws them."""
    return MobileNetV2(num_classes, rng=generator(seed, "seed"), dtype=dtype)
