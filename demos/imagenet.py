"""ImageNet's conventions, as torchvision's pretrained classifiers expect them: the input pipeline
(``Resize(256)``, ``CenterCrop(224)``, ``ToTensor()``, ``Normalize(MEAN, STD)``), its inverse for
display, the 1000 class names in index order, the top-k classes of a network's logits, and the
networks themselves: ``load_network`` (an architecture of ``layers`` with a checkpoint's weights),
the layer Grad-CAM reads by default, and ``Normalized`` (a network that takes images in [0, 1]).

The names ship as ``demos/data/imagenet_classes.txt``, made by ``make_imagenet_classes.py`` beside
it from torchvision's wheel (nothing is downloaded at run time).
"""
import functools
import os

import numpy as np
from PIL import Image

import layers as L
import minigrad as mg
from minigrad.argument_checks import array, integer

#: Per-channel mean and standard deviation of ImageNet's training images (RGB, in [0, 1]).
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MEAN.flags.writeable = STD.flags.writeable = False  # module constants: a caller's in-place edit must fail

NUM_CLASSES = 1000
_CLASSES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "imagenet_classes.txt")


def _resized_size(height, width, resize):
    """(height, width) with the shorter side ``resize`` and the longer one scaled and truncated,
    exactly as torchvision's ``Resize(int)`` computes it."""
    short, long = min(height, width), max(height, width)
    new_short, new_long = resize, int(resize * long / short)
    return (new_short, new_long) if height <= width else (new_long, new_short)


def _as_planes(image):
    """The image as a list of PIL images and whether their values are bytes (0..255): one RGB
    image (uint8 data), or one 32-bit float image per channel (float data in [0, 1])."""
    if isinstance(image, Image.Image):
        return [image.convert("RGB")], True
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a PIL image or an (H, W, 3) uint8 or float array, "
                        f"got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: expected an (H, W, 3) RGB array, got shape {image.shape}")
    if image.dtype == np.uint8:
        return [Image.fromarray(np.ascontiguousarray(image), "RGB")], True
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"image: expected dtype uint8 (values 0..255) or float (values in [0, 1]), "
                        f"got dtype {image.dtype}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"image: expected float values in [0, 1], got {int(np.sum(~np.isfinite(image)))} NaN or inf")
    if image.min() < 0 or image.max() > 1:
        raise ValueError(f"image: expected float values in [0, 1], got values in [{image.min():g}, {image.max():g}]"
                         f" (a uint8 array is read as 0..255)")
    # Pillow resizes 32-bit float images ("F") with the same filters as RGB, without rounding to 8 bits
    return [Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32)) for c in range(3)], False


def preprocess(image, size=224, resize=256):
    """An image as torchvision's ImageNet classifiers take it: float32 ``(3, size, size)``.

    image: a PIL image (any mode; converted to RGB), or an ``(H, W, 3)`` array, uint8 in 0..255 or
    float in [0, 1]. The shorter side is resized to ``resize`` (Pillow's antialiased bilinear
    filter, the longer side ``int(resize * long / short)``, as ``transforms.Resize(resize)`` on a PIL
    image), the centre ``size x size`` is cropped (``transforms.CenterCrop``: offsets
    ``round((side - size) / 2)``), values are scaled to [0, 1] and each channel is normalised,
    ``(x - MEAN[c]) / STD[c]``. Returns an array of shape (3, size, size).
    """
    size = integer(size, "size", low=1)
    resize = integer(resize, "resize", low=size)
    planes, in_bytes = _as_planes(image)
    width, height = planes[0].size
    new_h, new_w = _resized_size(height, width, resize)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    # Pillow returns an unchanged copy when the size already matches (a 256-pixel side is not filtered)
    crops = [np.asarray(p.resize((new_w, new_h), Image.BILINEAR).crop((left, top, left + size, top + size)),
                        dtype=np.float32) for p in planes]
    x = crops[0].transpose(2, 0, 1) if len(crops) == 1 else np.stack(crops)
    # the same float32 operations as ToTensor (x / 255) then Normalize (x - mean) / std
    x = x / np.float32(255) if in_bytes else x
    return np.ascontiguousarray((x - MEAN[:, None, None]) / STD[:, None, None], dtype=np.float32)


def deprocess(x):
    """The inverse of ``preprocess``'s normalisation, for display: ``x * STD + MEAN`` clipped to
    [0, 1], channels last. x: (3, H, W) -> (H, W, 3), or a batch (N, 3, H, W) -> (N, H, W, 3);
    an array or a Tensor. Returns float32."""
    x = array(x.data if isinstance(x, mg.Tensor) else x, "x", ndim=(3, 4))
    if x.shape[-3] != 3:
        raise ValueError(f"x: expected 3 channels, (3, H, W) or (N, 3, H, W), got shape {x.shape}")
    img = x.astype(np.float32) * STD[:, None, None] + MEAN[:, None, None]
    return np.ascontiguousarray(np.clip(np.moveaxis(img, -3, -1), 0, 1))


@functools.lru_cache(maxsize=1)
def _names():
    with open(_CLASSES_FILE, encoding="utf-8") as f:
        names = tuple(f.read().splitlines())
    if len(names) != NUM_CLASSES:  # a damaged install, not a user's mistake
        raise RuntimeError(f"{_CLASSES_FILE}: expected {NUM_CLASSES} class names, one per line, got {len(names)}; "
                           f"remake it with demos/data/make_imagenet_classes.py")
    return names


def class_names():
    """The 1000 ImageNet class names in index order (torchvision's ``_IMAGENET_CATEGORIES``):
    ``class_names()[0] == 'tench'``, ``[281] == 'tabby'``. Returns a new list of str."""
    return list(_names())


def top_k(logits, k=5):
    """The ``k`` most probable classes under the softmax of ``logits``.

    logits: (1000,) for one image or (N, 1000) for a batch; an array or a Tensor. Returns a list of
    (index, name, probability) tuples, most probable first, for one image; a list of such lists,
    one per sample, for a batch. Probabilities are float, of the softmax over all 1000 classes.
    """
    z = array(logits.data if isinstance(logits, mg.Tensor) else logits, "logits", ndim=(1, 2))
    single = z.ndim == 1
    if z.shape[-1] != NUM_CLASSES:
        raise ValueError(f"logits: expected {NUM_CLASSES} ImageNet classes on the last axis, got shape {z.shape}")
    k = integer(k, "k", low=1, high=NUM_CLASSES)
    z = np.atleast_2d(z).astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))  # shifted by the max: no overflow, same softmax
    p /= p.sum(axis=1, keepdims=True)
    names = _names()
    # a stable sort on -p: tied classes keep index order, so the listing is reproducible
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    rows = [[(int(c), names[c], float(p[i, c])) for c in order[i]] for i in range(len(p))]
    return rows[0] if single else rows


#: The architectures ``load_network`` builds: ``layers``' builders, with torchvision's module names.
ARCHITECTURES = ("alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
                 "resnet18", "resnet34", "resnet50", "mobilenet_v2")


def _mismatch(model, state):
    """What differs between the model's state-dict keys and a checkpoint's, in one line ('' if nothing)."""
    own = [k for k, _ in model.named_parameters()] + [k for k, _ in model.named_buffers()]
    # PyTorch < 0.4.1 wrote no BatchNorm batch counter; load_state_dict accepts checkpoints without it
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    known = set(own)
    unexpected = [k for k in state if k not in known]
    parts = [f"{len(keys)} {what} key(s), e.g. {', '.join(keys[:3])}"
             for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
    return "; ".join(parts)


def load_network(arch, weights):
    """``arch`` (one of ``ARCHITECTURES``) with the weights of the checkpoint at ``weights``, float32,
    in eval mode.

    weights: a path to a PyTorch ``.pth`` (the zip ``torch.save`` writes; torchvision's downloads are
    such files), safetensors or ``.npz`` state dict, read by ``layers.load_checkpoint`` without
    torch and without running anything from the file; a ``module.`` prefix (``DataParallel``) is
    removed. Raises ValueError naming ``arch`` (unknown) or ``weights`` (unreadable, or not this
    architecture's keys and shapes). Returns the model; it expects ``preprocess``'s inputs.
    """
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ValueError(f"arch: expected one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    try:
        state = L.load_checkpoint(weights, strip_prefix="module.")
    except (ValueError, TypeError) as e:
        raise ValueError(f"weights: {e}") from None
    model = getattr(L, arch)(seed=0, dtype=np.float32)  # load_state_dict casts the weights to float32
    try:
        model.load_state_dict(state)
    except (ValueError, TypeError) as e:
        raise ValueError(f"weights: {os.fspath(weights)} does not hold {arch} weights: "
                         f"{_mismatch(model, state) or e}") from None
    return model.eval()


def default_layer(model):
    """The dotted name of the layer whose maps Grad-CAM reads by default in a torchvision ImageNet
    network, the last convolutional stage's output: ``layer4`` in ResNet, the last ReLU of
    ``features`` in VGG and AlexNet (``features.29`` in VGG16), ``features.18`` (the final 1x1
    convolution block, 1280 channels) in MobileNetV2. Returns a str for ``dict(model.named_modules())``."""
    if isinstance(model, L.ResNet):
        return "layer4"
    if isinstance(model, L.MobileNetV2):
        return f"features.{len(model.features) - 1}"
    if isinstance(model, (L.VGG, L.AlexNet)):
        return f"features.{[i for i, m in enumerate(model.features) if isinstance(m, L.ReLU)][-1]}"
    raise TypeError(f"model: expected a ResNet, VGG, AlexNet or MobileNetV2, got {type(model).__name__}")


def first_conv(model):
    """The network's first Conv2d (``conv1`` in ResNet, ``features[0]`` in VGG, AlexNet and GAPNet):
    the layer whose filters are pictures and where LRP uses its gamma rule."""
    conv = next((m for m in model.modules() if isinstance(m, L.Conv2d)), None)
    if conv is None:
        raise ValueError(f"model: expected a network with a Conv2d layer, got {type(model).__name__} without one")
    return conv


class Normalized(L.Module):
    """``model`` behind ImageNet's normalisation, as one network that takes images in [0, 1]:
    forward(x) = model((x - MEAN) / STD) for x (N, 3, H, W). Methods that optimise an image (class
    models, style transfer) then work in the [0, 1] range their priors assume; ``model``'s layers
    are captured and targeted as they are (this module only adds the first step)."""

    def __init__(self, model):
        if not isinstance(model, L.Module):
            raise TypeError(f"model: expected a layers.Module, got {type(model).__name__}")
        self.model = model

    def forward(self, x):
        dtype = x.dtype
        return self.model((x - mg.Tensor(MEAN[:, None, None].astype(dtype)))
                          * mg.Tensor((1 / STD)[:, None, None].astype(dtype)))
