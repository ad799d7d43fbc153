"""``from_torch(module)``: the minigrad model that computes what a live PyTorch module computes.

The model is rebuilt module by module under the same names, so its ``state_dict()`` keys are the torch
module's and every visualisation method can be pointed at ``model.layer4`` or ``model.features[28]`` as
in PyTorch code. Leaf layers are recognised by their exact ``torch.nn`` class; torchvision's architectures
(AlexNet, VGG, ResNet with BasicBlock / Bottleneck, MobileNetV2 with InvertedResidual /
Conv2dNormActivation) by class name and by the children their forward uses, whatever module defines them.
torch is imported only inside ``from_torch``: nothing else in minigrad needs it.
"""
import numpy as np

from layers.activation import Identity, ReLU, ReLU6, Sigmoid, Tanh
from layers.conv import Conv2d
from layers.dropout import Dropout
from layers.linear import Flatten, Linear
from layers.mobilenet import Conv2dNormActivation, InvertedResidual, MobileNetV2
from layers.module import Module, Sequential
from layers.normalization import BatchNorm1d, BatchNorm2d
from layers.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from layers.resnet import BasicBlock, Bottleneck, ResNet
from layers.vgg import VGG, AlexNet


def from_torch(module):
    """The minigrad equivalent of the ``torch.nn.Module`` ``module``, with its weights and buffers.

    Parameters and buffers are copied (float32 stays float32, float64 stays float64; ``requires_grad`` kept),
    and each module keeps its own train / eval mode. Supported: the torch.nn layers Conv2d (zero padding),
    Linear, BatchNorm1d/2d, ReLU, ReLU6, Sigmoid, Tanh, Identity, Dropout, Flatten (from dimension 1),
    MaxPool2d, AvgPool2d (padding counted, no ceil_mode), AdaptiveAvgPool2d, AdaptiveMaxPool2d and Sequential,
    and torchvision's AlexNet, VGG, ResNet, BasicBlock, Bottleneck, MobileNetV2, InvertedResidual and
    Conv2dNormActivation. A module shared at two places stays shared. Hooks are not carried over.

    Returns the minigrad ``Module``. Raises ``TypeError`` naming the dotted path and class of the first
    submodule it cannot convert (e.g. "features.3 (LSTM)"), or the setting it does not support.
    """
    import torch  # here only: minigrad runs without torch, and this is the one place that reads it

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    return _convert(module, "", {}, torch.nn, np.random.default_rng(0))


def _convert(m, path, memo, nn, rng):
    """The minigrad module for torch module ``m`` found at ``path``; ``memo`` maps id(torch module) -> result.
    ``rng`` fills the layers' initial weights before the copy (a private one: the caller's seeded stream
    is not consumed)."""
    if id(m) in memo:
        return memo[id(m)]
    name = type(m).__name__
    where = f"{path or 'the module itself'} ({name})"
    if name in _LEAVES and getattr(nn, name, None) is type(m):
        try:
            out = _LEAVES[name](m, rng)
            _copy_state(m, out)
        except (TypeError, ValueError) as e:
            raise type(e)(f"from_torch: {where}: {e}") from None
    elif name in _ARCHITECTURES and (name != "Sequential" or type(m) is nn.Sequential):
        out = _assemble(m, path, memo, nn, rng, where, *_ARCHITECTURES[name])
    else:
        supported = ", ".join(sorted(set(_LEAVES) | set(_ARCHITECTURES)))
        raise TypeError(f"from_torch: cannot convert {where}: not a supported module (supported: {supported})")
    out.training = bool(m.training)
    memo[id(m)] = out
    return out


def _assemble(m, path, memo, nn, rng, where, cls, required, optional, attributes):
    """A ``cls`` made of ``m``'s converted children, in ``m``'s order (so the state-dict order is torch's),
    and of the plain ``attributes`` its forward reads. ``required`` None: any children (a Sequential)."""
    # _modules, not named_children(): that skips a module registered under two names, and its second
    # place would go missing; a None entry (an absent downsample) is a child the forward checks for
    children = {k: c for k, c in m._modules.items() if c is not None}
    missing = [c for c in required or () if c not in children] + [a for a in attributes if not hasattr(m, a)]
    extra = [] if required is None else [c for c in children if c not in required + optional]
    extra += [k for k, _ in m.named_parameters(recurse=False)] + [k for k, _ in m.named_buffers(recurse=False)]
    if missing or extra:
        expected = "any children" if required is None else \
            "children " + ", ".join(list(required) + [f"[{c}]" for c in optional])
        raise TypeError(f"from_torch: cannot convert {where}: not the structure its forward needs: expected "
                        f"{expected} and attributes {', '.join(attributes) or '(none)'}; missing {missing}, "
                        f"unexpected {extra}")
    out = cls.__new__(cls)  # filled below with converted parts, not built from hyperparameters
    Module.__init__(out)
    for child_name, child in children.items():
        setattr(out, child_name, _convert(child, f"{path}.{child_name}" if path else child_name, memo, nn, rng))
    for child_name in optional:
        if child_name not in children:
            setattr(out, child_name, None)
    for a in attributes:
        setattr(out, a, getattr(m, a))
    return out


def _copy_state(m, out):
    """Copy ``m``'s own parameters and buffers into ``out`` (same names) and their ``requires_grad``."""
    state = {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()}
    out.load_state_dict(state)
    for k, p in m.named_parameters(recurse=False):
        getattr(out, k).requires_grad = bool(p.requires_grad)


def _dtype(m):
    """The NumPy dtype of ``m``'s floating parameters and buffers (float64 if it has none)."""
    tensors = [t for t in list(m.parameters(recurse=False)) + list(m.buffers(recurse=False)) if t.is_floating_point()]
    if not tensors:
        return np.float64
    name = str(tensors[0].dtype).removeprefix("torch.")
    if name not in ("float32", "float64"):
        raise TypeError(f"weights of dtype float32 or float64 expected, got {name}")
    return np.dtype(name)


def _require(ok, setting):
    if not ok:
        raise TypeError(f"unsupported setting {setting}")


def _conv_padding(m):
    """Conv2d's padding as a pair, "valid" and a symmetric "same" made explicit (an asymmetric one refused)."""
    if m.padding == "valid":
        return (0, 0)
    if m.padding == "same":
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        _require(all(t % 2 == 0 for t in total), "padding='same' with an even kernel (asymmetric padding)")
        return tuple(t // 2 for t in total)
    return m.padding


def _conv2d(m, rng):
    _require(m.padding_mode == "zeros", f"padding_mode={m.padding_mode!r}")
    return Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=_conv_padding(m),
                  dilation=m.dilation, groups=m.groups, bias=m.bias is not None, rng=rng, dtype=_dtype(m))


def _batch_norm(cls):
    return lambda m, rng: cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, dtype=_dtype(m))


def _max_pool(m, rng):
    _require(not m.return_indices, "return_indices=True")
    return MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


def _avg_pool(m, rng):
    _require(m.count_include_pad and not m.ceil_mode and m.divisor_override is None,
             f"count_include_pad={m.count_include_pad}, ceil_mode={m.ceil_mode}, "
             f"divisor_override={m.divisor_override} (expected True, False, None)")
    return AvgPool2d(m.kernel_size, m.stride, m.padding)


def _adaptive_max_pool(m, rng):
    _require(not m.return_indices, "return_indices=True")
    return AdaptiveMaxPool2d(m.output_size)


def _flatten(m, rng):
    _require(m.start_dim == 1 and m.end_dim == -1, f"start_dim={m.start_dim}, end_dim={m.end_dim} (expected 1, -1)")
    return Flatten()


# torch.nn class name -> (torch module, rng) -> the minigrad layer, before its weights are copied
_LEAVES = {
    "Conv2d": _conv2d,
    "Linear": lambda m, rng: Linear(m.in_features, m.out_features, bias=m.bias is not None, rng=rng, dtype=_dtype(m)),
    "BatchNorm1d": _batch_norm(BatchNorm1d),
    "BatchNorm2d": _batch_norm(BatchNorm2d),
    "ReLU": lambda m, rng: ReLU(inplace=bool(m.inplace)),
    "ReLU6": lambda m, rng: ReLU6(inplace=bool(m.inplace)),
    "Sigmoid": lambda m, rng: Sigmoid(),
    "Tanh": lambda m, rng: Tanh(),
    "Identity": lambda m, rng: Identity(),
    "Dropout": lambda m, rng: Dropout(m.p, rng=rng),
    "Flatten": _flatten,
    "MaxPool2d": _max_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": lambda m, rng: AdaptiveAvgPool2d(m.output_size),
    "AdaptiveMaxPool2d": _adaptive_max_pool,
}

# class name -> (minigrad class, the children its forward calls, optional children (None when absent),
# plain attributes its forward reads); None as children: a Sequential, whose children are any modules
_ARCHITECTURES = {
    "Sequential": (Sequential, None, (), ()),
    "Conv2dNormActivation": (Conv2dNormActivation, None, (), ("out_channels",)),
    "AlexNet": (AlexNet, ("features", "avgpool", "classifier"), (), ()),
    "VGG": (VGG, ("features", "avgpool", "classifier"), (), ()),
    "ResNet": (ResNet, ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"),
               (), ()),
    "BasicBlock": (BasicBlock, ("conv1", "bn1", "relu", "conv2", "bn2"), ("downsample",), ("stride",)),
    "Bottleneck": (Bottleneck, ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu"), ("downsample",), ("stride",)),
    "MobileNetV2": (MobileNetV2, ("features", "classifier"), (), ("last_channel",)),
    "InvertedResidual": (InvertedResidual, ("conv",), (), ("stride", "use_res_connect", "out_channels")),
}
