"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and VGG (Simonyan & Zisserman 2015) as torchvision builds them.

The module tree is torchvision's, so ``state_dict()`` keys and shapes are torchvision's ("features.0.weight",
"classifier.6.bias", ...) and its checkpoints load as they are (``layers.load_checkpoint``). The names are
what the visualisation methods are pointed at:

- ``features`` is a Sequential of Conv2d, [BatchNorm2d,] ReLU and MaxPool2d: ``model.features[i]`` is any
  layer for activations, filters or a unit to maximise. Grad-CAM (Selvaraju et al. 2017) reads the last
  convolution's rectified maps: ``features[29]`` (the ReLU after ``features[28]``, the last Conv2d) in
  VGG16, ``features[11]`` in AlexNet; ``features[-2]`` in every VGG (the last ReLU, before the last pool).
- ``avgpool`` is AdaptiveAvgPool2d((7, 7)) in VGG and ((6, 6)) in AlexNet, so any input the
  convolutions accept gives the classifier its 512*7*7 (256*6*6) features; a map smaller than 7x7 has its
  entries repeated, as in PyTorch.
- ``classifier`` is the fully connected part (with Dropout as in torchvision: before each of AlexNet's
  first two Linear layers, after each of VGG's first two ReLUs).

Every ReLU is ``ReLU(inplace=True)``, as torchvision's: its result overwrites the convolution's output
array where nothing else reads it, so a recorded graph keeps one array per convolution and ReLU. A
captured layer (``minigrad.capture``) keeps its own values.

``init_like_torchvision`` (``layers/torchvision_init.py``) is the weight initialisation torchvision gives
VGG, ResNet and MobileNetV2.

Builders take ``num_classes``, ``seed`` (an int, a NumPy Generator, or None: the generator that
``layers.manual_seed`` sets) and ``dtype`` (np.float64, or np.float32 for speed).
"""

import numpy as np

from layers.activation import ReLU
from layers.conv import Conv2d
from layers.dropout import Dropout
from layers.init import generator, model_arguments
from layers.linear import Linear
from layers.module import Module, Sequential
from layers.normalization import BatchNorm2d
from layers.pool import AdaptiveAvgPool2d, MaxPool2d
from layers.torchvision_init import init_like_torchvision

# Configurations A, B, D, E of Simonyan & Zisserman's Table 1 (VGG11, 13, 16, 19): output channels of each
# 3x3 convolution, "M" a 2x2 max-pool.
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _flatten(x):
    return x.reshape(x.shape[0], -1)


class AlexNet(Module):
    """AlexNet (Krizhevsky et al. 2012) in torchvision's one-tower form: (N, 3, H, W) -> (N, num_classes),
    for H, W >= 63. Five convolutions (11x11 stride 4, 5x5, three 3x3) with three 3x3 stride-2 max-pools,
    ``avgpool`` to 6x6, then Dropout-Linear(9216, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-Linear.
    Weights keep PyTorch's default initialisation, as torchvision's do; ``rng`` draws them and the
    dropout masks."""

    def __init__(self, num_classes=1000, dropout=0.5, *, rng=None, dtype=np.float64):
        rng, dtype = model_arguments(rng, dtype, num_classes=num_classes)

        def conv(cin, cout, k, **kw):
            return Conv2d(cin, cout, k, **kw, rng=rng, dtype=dtype)

        self.features = Sequential(
            conv(3, 64, 11, stride=4, padding=2), ReLU(inplace=True), MaxPool2d(3, stride=2),
            conv(64, 192, 5, padding=2), ReLU(inplace=True), MaxPool2d(3, stride=2),
            conv(192, 384, 3, padding=1), ReLU(inplace=True),
            conv(384, 256, 3, padding=1), ReLU(inplace=True),
            conv(256, 256, 3, padding=1), ReLU(inplace=True), MaxPool2d(3, stride=2))
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(
            Dropout(dropout, rng=rng), Linear(256 * 6 * 6, 4096, rng=rng, dtype=dtype), ReLU(inplace=True),
            Dropout(dropout, rng=rng), Linear(4096, 4096, rng=rng, dtype=dtype), ReLU(inplace=True),
            Linear(4096, num_classes, rng=rng, dtype=dtype))

    def forward(self, x):
        return self.classifier(_flatten(self.avgpool(self.features(x))))


def make_layers(cfg, batch_norm=False, *, rng=None, dtype=np.float64):
    """VGG's ``features`` from a configuration (a list of output channels and "M"s, e.g. ``CFGS["D"]``):
    Conv2d(3x3, padding 1) [-BatchNorm2d] -ReLU per number, MaxPool2d(2, 2) per "M"; 3 input channels."""
    mods, c = [], 3
    for i, v in enumerate(cfg):
        if v == "M":
            mods.append(MaxPool2d(2, stride=2))
            continue
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"make_layers: cfg[{i}] must be a positive int (channels) or 'M', got {v!r}")
        mods.append(Conv2d(c, int(v), 3, padding=1, rng=rng, dtype=dtype))
        if batch_norm:
            mods.append(BatchNorm2d(int(v), dtype=dtype))
        mods.append(ReLU(inplace=True))
        c = int(v)
    return Sequential(*mods)


class VGG(Module):
    """VGG (Simonyan & Zisserman 2015): (N, 3, H, W) -> (N, num_classes), for H, W >= 32.

    ``features`` (from ``make_layers``, ending in 512 channels), ``avgpool`` = AdaptiveAvgPool2d((7, 7)), and
    ``classifier`` = Linear(25088, 4096)-ReLU-Dropout-Linear(4096, 4096)-ReLU-Dropout-Linear(4096, num_classes).
    With ``init_weights`` the weights are drawn as torchvision draws them (``init_like_torchvision``).
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5, *, rng=None,
                 dtype=np.float64):
        if not isinstance(features, Module):
            raise TypeError(f"VGG: features must be a Module (e.g. make_layers(CFGS['D'])), "
                            f"got {type(features).__name__}")
        rng, dtype = model_arguments(rng, dtype, num_classes=num_classes)
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, 4096, rng=rng, dtype=dtype), ReLU(inplace=True), Dropout(dropout, rng=rng),
            Linear(4096, 4096, rng=rng, dtype=dtype), ReLU(inplace=True), Dropout(dropout, rng=rng),
            Linear(4096, num_classes, rng=rng, dtype=dtype))
        if init_weights:
            init_like_torchvision(self, rng)

    def forward(self, x):
        return self.classifier(_flatten(self.avgpool(self.features(x))))


def alexnet(num_classes=1000, *, seed=None, dtype=np.float64):
    """torchvision's ``alexnet()`` untrained: an ``AlexNet`` with weights drawn from ``seed``."""
    return AlexNet(num_classes, rng=generator(seed, "seed"), dtype=dtype)


def _vgg(cfg, batch_norm, num_classes, seed, dtype):
    rng, dtype = model_arguments(seed, dtype, "seed", num_classes=num_classes)
    return VGG(make_layers(CFGS[cfg], batch_norm, rng=rng, dtype=dtype), num_classes, rng=rng, dtype=dtype)


def vgg11(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG11 (configuration A) untrained, weights drawn from ``seed`` as torchvision draws them."""
    return _vgg("A", False, num_classes, seed, dtype)


def vgg11_bn(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG11 (configuration A) with BatchNorm2d after each convolution, untrained."""
    return _vgg("A", True, num_classes, seed, dtype)


def vgg13(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG13 (configuration B) untrained, weights drawn from ``seed`` as torchvision draws them."""
    return _vgg("B", False, num_classes, seed, dtype)


def vgg13_bn(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG13 (configuration B) with BatchNorm2d after each convolution, untrained."""
    return _vgg("B", True, num_classes, seed, dtype)


def vgg16(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG16 (configuration D) untrained; Grad-CAM's layer is ``features[29]``, the last conv's ReLU."""
    return _vgg("D", False, num_classes, seed, dtype)


def vgg16_bn(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG16 (configuration D) with BatchNorm2d after each convolution, untrained."""
    return _vgg("D", True, num_classes, seed, dtype)


def vgg19(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG19 (configuration E) untrained, weights drawn from ``seed`` as torchvision draws them."""
    return _vgg("E", False, num_classes, seed, dtype)


def vgg19_bn(num_classes=1000, *, seed=None, dtype=np.float64):
    """VGG19 (configuration E) with BatchNorm2d after each convolution, untrained."""
    return _vgg("E", True, num_classes, seed, dtype)
