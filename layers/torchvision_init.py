"""The weights torchvision draws for VGG, ResNet and MobileNetV2 (its ``_initialize_weights`` / ``__init__``
loops), so that a network built here starts where torchvision's would: He et al. (2015) normal init in
"fan_out" mode for convolutions, BatchNorm at 1 and 0, small normal linear weights."""
import math

import numpy as np

from layers.conv import Conv2d
from layers.init import fan_in_and_out, generator
from layers.linear import Linear


def init_like_torchvision(model, rng=None, linear_std=0.01):
    """Draw ``model``'s weights as torchvision's VGG, ResNet and MobileNetV2 do, in place; returns ``model``.

    Every Conv2d weight from N(0, 2 / fan_out) (He et al. 2015, mode "fan_out", fan_out = out_channels * kh * kw)
    and its bias 0; BatchNorm keeps weight 1, bias 0 (its own default); every Linear weight from
    N(0, linear_std^2) with bias 0, or, with ``linear_std=None``, PyTorch's default Linear init kept (ResNet's
    ``fc``). ``rng``: a numpy Generator, an int seed or None (the generator ``manual_seed`` sets).
    """
    rng = generator(rng)
    for m in model.modules():
        if isinstance(m, Conv2d):
            std = math.sqrt(2.0 / fan_in_and_out(m.weight.shape)[1])
            _redraw(m, rng, std)
        elif isinstance(m, Linear) and linear_std is not None:
            _redraw(m, rng, linear_std)
    return model


def _redraw(layer, rng, std):
    """weight ~ N(0, std^2), bias 0. Drawn into the weight's own array: VGG's first Linear holds 10^8 entries,
    and a fresh array of that size costs seconds of page faults here."""
    w = layer.weight.data
    rng.standard_normal(dtype=w.dtype, out=w)
    w *= std
    if layer.bias is not None:
        layer.bias.data = np.zeros_like(layer.bias.data)
