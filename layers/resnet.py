"""ResNet (He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition") as torchvision builds it.

torchvision's ResNet is "v1.5": a Bottleneck strides on its 3x3 convolution (``conv2``), not on the first 1x1
as in the paper. The module tree is torchvision's, so ``state_dict()`` keys and shapes are its keys
("layer3.1.bn2.running_var", "fc.weight", ...) and its checkpoints load as they are. What the names are for:

- ``conv1``, ``bn1``, ``relu``, ``maxpool``: the stem (7x7 stride-2 convolution, 3x3 stride-2 max-pool).
- ``layer1`` .. ``layer4``: Sequentials of residual blocks at strides 4, 8, 16, 32. Grad-CAM (Selvaraju et al.
  2017) reads ``model.layer4`` (its output: the last block's rectified sum, 7x7 for a 224x224 image);
  ``model.layer4[-1].conv2`` or ``model.layer3`` give finer maps.
- In a block, ``downsample`` (1x1 convolution and BatchNorm2d, or None) maps the input to the residual's shape;
  the sum ``out + identity`` is an ordinary ``add`` in the graph, so every backward rule sees it. One ``relu``
  module is applied twice in a block, as in torchvision (``capture`` records its last call).
- ``avgpool`` (AdaptiveAvgPool2d((1, 1))) and ``fc``: global average pooling and one linear layer, the shape
  CAM (Zhou et al. 2016) needs: CAM's weights are ``fc.weight``.

Builders take ``num_classes``, ``seed`` (an int, a NumPy Generator, or None: the generator that
``layers.manual_seed`` sets) and ``dtype`` (np.float64, or np.float32 for speed).
"""
import numpy as np

from layers.activation import ReLU
from layers.conv import Conv2d
from layers.init import generator, model_arguments
from layers.linear import Linear
from layers.module import Module, Sequential
from layers.normalization import BatchNorm2d
from layers.pool import AdaptiveAvgPool2d, MaxPool2d
from layers.torchvision_init import init_like_torchvision


def _conv3x3(cin, cout, stride=1, groups=1, dilation=1, *, rng, dtype):
    return Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups, bias=False,
                  rng=rng, dtype=dtype)


def _conv1x1(cin, cout, stride=1, *, rng, dtype):
    return Conv2d(cin, cout, 1, stride=stride, bias=False, rng=rng, dtype=dtype)


def _check_downsample(block, downsample):
    if downsample is not None and not isinstance(downsample, Module):
        raise TypeError(f"{block}: downsample must be a Module or None, got {type(downsample).__name__}")


class BasicBlock(Module):
    """Two 3x3 convolutions and a shortcut: relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), where identity is
    x or ``downsample(x)``. (N, inplanes, H, W) -> (N, planes, H / stride, W / stride). ResNet-18 and -34."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, *,
                 rng=None, dtype=np.float64):
        rng, dtype = model_arguments(rng, dtype, inplanes=inplanes, planes=planes, stride=stride, groups=groups,
                                     base_width=base_width, dilation=dilation)
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock: groups and base_width must be 1 and 64, got {groups!r} and {base_width!r}")
        if dilation != 1:
            raise ValueError(f"BasicBlock: dilation must be 1, got {dilation!r}")
        _check_downsample("BasicBlock", downsample)
        self.conv1 = _conv3x3(inplanes, planes, stride, rng=rng, dtype=dtype)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.relu = ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, rng=rng, dtype=dtype)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(Module):
    """1x1 (reduce), 3x3 (stride, groups, dilation), 1x1 (expand by 4) convolutions and a shortcut:
    relu(bn3(conv3(...)) + identity). (N, inplanes, H, W) -> (N, 4 planes, H / stride, W / stride), with
    width = planes * base_width / 64 * groups channels inside (ResNeXt and wide ResNets vary these).
    ResNet-50, -101, -152."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, *,
                 rng=None, dtype=np.float64):
        _check_downsample("Bottleneck", downsample)
        rng, dtype = model_arguments(rng, dtype, inplanes=inplanes, planes=planes, stride=stride, groups=groups,
                                     base_width=base_width, dilation=dilation)
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = _conv1x1(inplanes, width, rng=rng, dtype=dtype)
        self.bn1 = BatchNorm2d(width, dtype=dtype)
        self.conv2 = _conv3x3(width, width, stride, groups, dilation, rng=rng, dtype=dtype)
        self.bn2 = BatchNorm2d(width, dtype=dtype)
        self.conv3 = _conv1x1(width, planes * self.expansion, rng=rng, dtype=dtype)
        self.bn3 = BatchNorm2d(planes * self.expansion, dtype=dtype)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(Module):
    """ResNet: (N, 3, H, W) -> (N, num_classes), any H, W >= 1.

    ``block`` is BasicBlock or Bottleneck, ``layers`` the number of blocks in each of the four stages
    ([2, 2, 2, 2] is ResNet-18, [3, 4, 6, 3] with Bottleneck ResNet-50). ``groups`` and ``width_per_group`` widen
    or group Bottleneck's 3x3 convolution (ResNeXt, wide ResNet); ``replace_stride_with_dilation`` (three
    bools, for layer2..layer4) keeps the resolution and dilates instead. Weights are drawn as torchvision draws
    them (convolutions N(0, 2 / fan_out), BatchNorm 1 and 0, ``fc`` PyTorch's default); ``zero_init_residual``
    zeroes each block's last BatchNorm weight, so every block starts as the identity (Goyal et al. 2017).
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None, *, rng=None, dtype=np.float64):
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"ResNet: block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != 4 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in layers):
            raise ValueError(f"ResNet: layers must be 4 positive ints (blocks per stage), got {layers!r}")
        dilate = [False] * 3 if replace_stride_with_dilation is None else list(replace_stride_with_dilation)
        if len(dilate) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation must be None or 3 bools, "
                             f"got {replace_stride_with_dilation!r}")
        rng, dtype = model_arguments(rng, dtype, num_classes=num_classes, groups=groups,
                                     width_per_group=width_per_group)
        self.conv1 = Conv2d(3, 64, 7, stride=2, padding=3, bias=False, rng=rng, dtype=dtype)
        self.bn1 = BatchNorm2d(64, dtype=dtype)
        self.relu = ReLU(inplace=True)
        self.maxpool = MaxPool2d(3, stride=2, padding=1)
        # what the stages pass on to each other: channels out, and the dilation reached so far
        state = {"inplanes": 64, "dilation": 1}

        def make_layer(planes, blocks, stride=1, dilate=False):
            previous_dilation = state["dilation"]
            if dilate:
                state["dilation"] *= stride
                stride = 1
            downsample = None
            out = planes * block.expansion
            if stride != 1 or state["inplanes"] != out:
                downsample = Sequential(_conv1x1(state["inplanes"], out, stride, rng=rng, dtype=dtype),
                                        BatchNorm2d(out, dtype=dtype))
            mods = [block(state["inplanes"], planes, stride, downsample, groups, width_per_group, previous_dilation,
                          rng=rng, dtype=dtype)]
            state["inplanes"] = out
            mods += [block(out, planes, groups=groups, base_width=width_per_group, dilation=state["dilation"],
                           rng=rng, dtype=dtype) for _ in range(1, blocks)]
            return Sequential(*mods)

        self.layer1 = make_layer(64, layers[0])
        self.layer2 = make_layer(128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = make_layer(256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = make_layer(512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes, rng=rng, dtype=dtype)
        init_like_torchvision(self, rng, linear_std=None)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                    last.weight.data = np.zeros_like(last.weight.data)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.avgpool(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.fc(x.reshape(x.shape[0], -1))


def resnet18(num_classes=1000, *, seed=None, dtype=np.float64):
    """ResNet-18 untrained: BasicBlocks [2, 2, 2, 2], weights drawn from ``seed`` as torchvision draws them."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, rng=generator(seed, "seed"), dtype=dtype)


def resnet34(num_classes=1000, *, seed=None, dtype=np.float64):
    """ResNet-34 untrained: BasicBlocks [3, 4, 6, 3], weights drawn from ``seed`` as torchvision draws them."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, rng=generator(seed, "seed"), dtype=dtype)


def resnet50(num_classes=1000, *, seed=None, dtype=np.float64):
    """ResNet-50 (v1.5) untrained: Bottlenecks [3, 4, 6, 3], weights drawn from ``seed`` as torchvision does."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, rng=generator(seed, "seed"), dtype=dtype)
