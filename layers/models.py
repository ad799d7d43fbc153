"""Ready models: ``MLP``, ``LeNet`` (LeCun et al. 1998), ``GAPNet`` (conv layers, global
average pooling, one linear layer: the shape CAM needs, Zhou et al. 2016) and
``RandomMultiScaleNet`` (random filters for texture and style, Ustyuzhaninov et al. 2017).

Each takes ``seed`` so that the same seed gives the same initial weights.
"""
import numpy as np

from layers.activation import ReLU
from layers.conv import Conv2d
from layers.init import model_arguments
from layers.linear import Flatten, Linear
from layers.module import Module, Sequential
from layers.normalization import BatchNorm2d
from layers.pool import GlobalAvgPool2d, MaxPool2d
from minigrad import concatenate
from minigrad.argument_checks import boolean


class MLP(Sequential):
    """Linear-ReLU stack: sizes (in, h1, ..., out). Input (N, ...) is flattened first.
    Keys as torch's ``nn.Sequential(Flatten(), Linear, ReLU, ..., Linear)``: "1.weight", "3.weight", ..."""

    def __init__(self, sizes, seed=None, dtype=np.float64):
        if isinstance(sizes, str) or not hasattr(sizes, "__len__") or len(sizes) < 2:
            raise ValueError(f"sizes: MLP needs at least (in, out), got {sizes!r}")
        rng, dtype = model_arguments(seed, dtype, "seed", **{f"sizes[{i}]": s for i, s in enumerate(sizes)})
        mods = [Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(Linear(a, b, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                mods.append(ReLU())
        super().__init__(*mods)


class LeNet(Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, for (N, in_channels, S, S).

    features: conv5x5(6, pad 2) - ReLU - maxpool2 - conv5x5(16) - ReLU - maxpool2;
    classifier: 120 - ReLU - 84 - ReLU - num_classes. For 28x28 inputs this is the classic
    16x5x5 = 400 features; for small inputs (S < 16, e.g. 8x8 digits) the second conv is
    padded by 2 as well so that the maps do not vanish.
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=28, seed=None, dtype=np.float64):
        rng, dtype = model_arguments(seed, dtype, "seed", in_channels=in_channels, num_classes=num_classes,
                                     input_size=input_size)
        if input_size < 4:
            raise ValueError(f"input_size: LeNet needs at least 4, got {input_size}")
        pad2 = 2 if input_size < 16 else 0
        side = (input_size // 2 + 2 * pad2 - 4) // 2
        self.features = Sequential(
            Conv2d(in_channels, 6, 5, padding=2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
            Conv2d(6, 16, 5, padding=pad2, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2))
        self.classifier = Sequential(
            Flatten(), Linear(16 * side * side, 120, rng=rng, dtype=dtype), ReLU(),
            Linear(120, 84, rng=rng, dtype=dtype), ReLU(), Linear(84, num_classes, rng=rng, dtype=dtype))

    def forward(self, x):
        return self.classifier(self.features(x))


class GAPNet(Module):
    """A small all-convolutional network for CAM: (N, in_channels, H, W) -> (N, num_classes).

    features: for each width, conv (3x3, padding 1; the first ``first_kernel`` x ``first_kernel``
    with stride ``first_stride``), optionally BatchNorm2d, then ReLU, with a 2x2 max-pool between
    stages (none after a strided first stage: it already halved the maps); then ``gap``
    (GlobalAvgPool2d) and ``fc`` (Linear). ``features[-1]`` is the last ReLU, whose maps CAM and
    Grad-CAM read. The defaults are the original 3x3 network; the gallery's shapes network uses a
    5x5 stride-2 first layer, whose filters are large enough to show edges and colour blobs.
    """

    def __init__(self, in_channels=3, num_classes=6, widths=(16, 32, 64), seed=None, dtype=np.float64,
                 first_kernel=3, first_stride=1, batch_norm=False):
        for name, v in (("first_kernel", first_kernel), ("first_stride", first_stride)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if first_kernel % 2 == 0:
            raise ValueError(f"first_kernel: expected an odd size (the maps keep their size), got {first_kernel}")
        boolean(batch_norm, "batch_norm")
        rng, dtype = model_arguments(seed, dtype, "seed", in_channels=in_channels, num_classes=num_classes,
                                     **{f"widths[{i}]": w for i, w in enumerate(widths)})
        mods, c = [], in_channels
        for i, w in enumerate(widths):
            if i > 1 or (i == 1 and first_stride == 1):
                mods.append(MaxPool2d(2))
            k, s = (first_kernel, first_stride) if i == 0 else (3, 1)
            mods.append(Conv2d(c, w, k, stride=s, padding=k // 2, rng=rng, dtype=dtype))
            if batch_norm:
                mods.append(BatchNorm2d(w, dtype=dtype))
            mods.append(ReLU())
            c = w
        self.features = Sequential(*mods)
        self.gap = GlobalAvgPool2d()
        self.fc = Linear(c, num_classes, rng=rng, dtype=dtype)

    def forward(self, x):
        return self.fc(self.gap(self.features(x)))


class RandomMultiScaleNet(Module):
    """One layer of random filters at several sizes, each followed by ReLU, for texture synthesis
    and style transfer without trained weights (Ustyuzhaninov et al. 2017: a single-layer network
    of random multi-scale filters already captures textures; He et al. 2018 transfer style with
    random weights).

    branches[i] = Sequential(Conv2d(in_channels, width, k_i, padding=k_i // 2), ReLU()), so every
    branch keeps the image size; the output is the branches' maps concatenated over channels,
    (N, width * len(kernel_sizes), H, W). The filters are drawn from N(0, 1 / fan_in) and each made
    zero-mean (as in Ustyuzhaninov et al.) from ``seed``; the biases are zero.
    """

    def __init__(self, in_channels=3, width=32, kernel_sizes=(3, 5, 7, 11), seed=0, dtype=np.float64):
        if not kernel_sizes or any(not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes: expected odd positive ints, got {kernel_sizes!r}")
        rng, dtype = model_arguments(seed, dtype, "seed", in_channels=in_channels, width=width)
        branches = []
        for k in kernel_sizes:
            conv = Conv2d(in_channels, width, int(k), padding=int(k) // 2, rng=rng, dtype=dtype)
            w = rng.standard_normal(conv.weight.shape) / np.sqrt(in_channels * k * k)
            conv.weight.data = (w - w.mean(axis=(1, 2, 3), keepdims=True)).astype(dtype)
            conv.bias.data = np.zeros_like(conv.bias.data)
            branches.append(Sequential(conv, ReLU()))
        self.branches = Sequential(*branches)

    def forward(self, x):
        return concatenate([branch(x) for branch in self.branches], axis=1)
