"""Class activation maps: CAM (Zhou et al. 2016), Grad-CAM (Selvaraju et al. 2017) and Guided
Grad-CAM. Maps are computed at the layer's resolution, the ReLU applied there, and only then
resized to the input, as Captum and the Grad-CAM paper do. The resize is ``interpolate_mode``:
"bilinear" (half-pixel centres; the paper's, the default), "nearest" (Captum's default for
``LayerAttribution.interpolate`` and ``GuidedGradCam``) or "bicubic", each as PyTorch's
``interpolate(align_corners=False)`` (see ``methods.upsample``).

Each method takes ``additional_forward_args``: extra arguments of the model's forward, passed after
x as they are (Captum's; see ``methods.inputs_and_targets``). Grad-CAM, Grad-CAM++ and Guided Grad-CAM
also take x as Captum's tuple of inputs: the Grad-CAM maps are resized to the first input's height and width,
Guided Grad-CAM multiplies each input's guided gradient by the map resized to that input.
"""
import numpy as np

import minigrad
from layers import AdaptiveAvgPool2d, GlobalAvgPool2d, Linear
from methods.inputs_and_targets import Inputs, as_batch, check_layer, layer_tensor, run_model, scores, unbatch
from methods.upsample import INTERPOLATE_MODES, resize
from minigrad import Tensor
from minigrad.argument_checks import boolean, one_of

_LAYER_SHAPES = {4: "(N, K, h, w)", 2: "(N, K)"}  # a layer output's rank -> its shape, for errors


def _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args, ranks=(4,),
                   attribute_to_layer_input=False):
    """One forward pass: (``Inputs`` of x, the input tensors, scores, A = the layer's output, or its
    input with ``attribute_to_layer_input``), after checking every argument. ``ranks``: the ranks of
    layer tensor the method accepts."""
    one_of(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)  # before the forward pass
    boolean(attribute_to_layer_input, "attribute_to_layer_input")
    check_layer(model, layer)
    inputs = Inputs(x)
    xts = inputs.tensors()
    with minigrad.capture(layer) as acts:
        s = scores(run_model(model, xts, additional_forward_args), target)
    A = layer_tensor(acts, layer, attribute_to_layer_input)
    if A.ndim not in ranks:
        which = "inputs" if attribute_to_layer_input else "outputs"
        raise ValueError(f"layer: expected a layer with {' or '.join(_LAYER_SHAPES[r] for r in ranks)} "
                         f"{which}, got {A.shape}")
    return inputs, xts, s, A


def _image_size(inputs):
    """(H, W) of the (first) input, the size the maps are resized to."""
    a = inputs.arrays[0]
    if a.ndim != 4:
        raise ValueError(f"upsample: resizing the map needs an image batch (N, C, H, W) as the first input, got "
                         f"{a.shape}; use upsample=False")
    return a.shape[2:]


def _weighted_maps(weights, A, size, relu, upsample, interpolate_mode, summed=True):
    """sum_k weights[n, k] A[n, k, ...], (N, h, w) (or (N,) for (N, K) outputs), the ReLU applied at
    the layer's resolution and only then resized to the input (as Captum and the Grad-CAM paper do).
    A map without spatial axes has nothing to resize: it is one value per sample.
    ``summed=False`` keeps the channels: weights[n, k] A[n, k, ...], (N, K, h, w) (or (N, K)), the
    ReLU applied to each channel's map (Captum's ``attr_dim_summation=False``)."""
    maps = np.einsum("nk,nk...->n...", weights, A) if summed else np.einsum("nk,nk...->nk...", weights, A)
    if relu:
        maps = np.maximum(maps, 0)
    spatial = A.ndim == 4  # maps of an (N, K) layer have no height and width to resize
    return resize(maps, size(), interpolate_mode) if upsample and spatial else maps


def _gradcam_maps(s, A, size, relu, upsample, interpolate_mode, summed=True):
    """Grad-CAM's maps from the scores s and the layer tensor A of one forward pass. A layer the
    scores do not depend on has gradient 0 (``minigrad.grad``'s zeros, Captum's with
    ``materialize_grads``), so its map is 0."""
    gA, = minigrad.grad(s, [A])
    weights = gA.mean(axis=tuple(range(2, gA.ndim)))  # over no axis at all for (N, K) outputs
    return _weighted_maps(weights, A.data, size, relu, upsample, interpolate_mode, summed)


def gradcam(model, x, target, layer, relu=True, upsample=True, interpolate_mode="bilinear",
            additional_forward_args=None, attr_dim_summation=True, attribute_to_layer_input=False):
    """Grad-CAM (Selvaraju et al. 2017, eqs. 1-2): w_k = mean_ij dy_c/dA^k_ij,
    map = ReLU(sum_k w_k A^k).

    x (N, C, H, W) or (C, H, W); ``layer`` a module of ``model`` with (N, K, h, w) outputs, or
    (N, K) outputs (a Linear layer; Captum's ``LayerGradCam`` generalisation: w_k = dy_c/dA^k, so
    the map is ReLU(sum_k g_k A_k), one value per sample). Returns (N, H, W), or (N, h, w) with
    ``upsample=False``, or (N,) at an (N, K) layer (Captum's (N, 1) without its channel axis, as
    the (N, 1, h, w) maps lose it here); no batch axis for a single image. ``interpolate_mode``:
    "bilinear" (the paper's), "nearest" or "bicubic" (see the module docstring).

    attr_dim_summation : False keeps one map per channel, ReLU(w_k A^k) each, (N, K, H, W) (or
        (N, K, h, w), or (N, K) at an (N, K) layer): Captum's ``LayerGradCam(attr_dim_summation=False)``,
        whose ReLU (``relu_attributions``) also acts on each channel's map before any sum. Summing
        them is not the summed map: ReLU(sum_k) != sum_k ReLU.
    attribute_to_layer_input : True uses what entered ``layer`` (its first argument) and the gradient
        there instead of its output, as Captum's ``attribute_to_layer_input``.
    """
    boolean(attr_dim_summation, "attr_dim_summation")
    inputs, _, s, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args,
                                     ranks=(4, 2), attribute_to_layer_input=attribute_to_layer_input)
    maps = _gradcam_maps(s, A, lambda: _image_size(inputs), relu, upsample, interpolate_mode, attr_dim_summation)
    return unbatch(maps, inputs.single)


def gradcam_plus_plus(model, x, target, layer, upsample=True, interpolate_mode="bilinear",
                      additional_forward_args=None):
    """Grad-CAM++ (Chattopadhay et al. 2018, eqs. 10 and 19, with the exponential of the score so
    that higher derivatives are powers of the first): with g = dy_c/dA^k_ij,
    alpha^k_ij = g^2 / (2 g^2 + sum_ab A^k_ab g^3) (0 where that is 0/0),
    w_k = sum_ij alpha^k_ij relu(g), map = ReLU(sum_k w_k A^k). -> (N, H, W).
    ``interpolate_mode``: "bilinear" (the default), "nearest" or "bicubic"."""
    inputs, _, s, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    g, = minigrad.grad(s, [A])
    a = A.data
    denom = 2 * g ** 2 + a.sum(axis=(2, 3), keepdims=True) * g ** 3
    alpha = np.divide(g ** 2, denom, out=np.zeros_like(g), where=denom != 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(2, 3))
    return unbatch(_weighted_maps(weights, a, lambda: _image_size(inputs), True, upsample, interpolate_mode),
                   inputs.single)


def guided_gradcam(model, x, target, layer, upsample=True, interpolate_mode="bilinear",
                   additional_forward_args=None, attribute_to_layer_input=False):
    """Guided Grad-CAM (Selvaraju et al. 2017, sec. 3): guided backprop * upsampled Grad-CAM, from
    one forward pass and two reverse passes with different rule tables. -> x's shape.

    ``upsample=False`` multiplies by the Grad-CAM map at the layer's own resolution, which the
    pixel-wise product allows only for a layer whose output has the input's height and width
    (another layer raises a ValueError). Captum has no such option: it always interpolates, which
    for such a layer leaves the map as it is, so both agree there.

    ``interpolate_mode``: "bilinear" (the paper's, our default), "nearest" (Captum's
    ``GuidedGradCam`` default) or "bicubic". The layer must have (N, K, h, w) outputs.

    For a tuple of inputs (Captum's form) each input, an image batch (N, C, H, W), gets its guided
    gradient times the map resized to its own height and width; the result is a tuple.
    ``attribute_to_layer_input``: the Grad-CAM map from what entered ``layer``, as in ``gradcam``."""
    inputs, xts, s, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args,
                                       attribute_to_layer_input=attribute_to_layer_input)
    for i, a in enumerate(inputs.arrays):
        name = f"x[{i}]" if inputs.is_tuple else "x"
        if a.ndim != 4:
            raise ValueError(f"{name}: Guided Grad-CAM multiplies an image's guided gradient by the map, so every "
                             f"input must be an image batch (N, C, H, W), got {a.shape}")
        if not upsample and A.shape[2:] != a.shape[2:]:
            raise ValueError(f"upsample: upsample=False needs a layer whose output has the input's size "
                             f"{a.shape[2]}x{a.shape[3]} (guided backprop is multiplied pixel by pixel), got a "
                             f"{A.shape[2]}x{A.shape[3]} output from {type(layer).__name__}; use upsample=True")
    maps = _gradcam_maps(s, A, None, True, False, interpolate_mode)  # at the layer's resolution
    with minigrad.rules(relu="guided", relu6="guided"):
        grads = minigrad.grad(s, xts)
    return inputs.restore([g * (resize(maps, g.shape[2:], interpolate_mode) if upsample else maps)[:, None]
                           for g in grads])


def _is_global_average(m):
    """GlobalAvgPool2d, or PyTorch's spelling of it, AdaptiveAvgPool2d(1) (ResNet, MobileNetV2)."""
    return isinstance(m, GlobalAvgPool2d) or (isinstance(m, AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)))


def _gap_head(model):
    """(the global average pooling, the Linear after it) of a network ending GAP -> Linear."""
    mods = model.modules()
    gaps = [i for i, m in enumerate(mods) if _is_global_average(m)]
    linears = [i for i, m in enumerate(mods) if isinstance(m, Linear)]
    if not gaps or not linears or linears[-1] < gaps[-1] or len([i for i in linears if i > gaps[-1]]) != 1:
        raise ValueError("cam: the model must end in GlobalAvgPool2d (or AdaptiveAvgPool2d(1)) followed by one "
                         "Linear layer (Zhou et al. 2016); use gradcam for other networks")
    return mods[gaps[-1]], mods[linears[-1]]


def cam(model, x, target, upsample=True, interpolate_mode="bilinear", additional_forward_args=None):
    """CAM (Zhou et al. 2016, eq. 2): M_c(i, j) = sum_k w^c_k f_k(i, j), with f_k the maps that
    enter the global average pooling and w^c the final Linear layer's weights of class c.
    ``target``: class index or one per sample. Returns (N, H, W) (no ReLU, as in the paper).
    ``interpolate_mode``: "bilinear" (the default), "nearest" or "bicubic"."""
    one_of(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)
    gap, fc = _gap_head(model)
    if callable(target):
        raise ValueError("target: cam weights the maps by the final layer's row of a class, so it needs "
                         "class indices; use gradcam for other targets")
    xb, single = as_batch(x)
    with minigrad.capture(gap) as acts:
        out = run_model(model, Tensor(xb, requires_grad=True), additional_forward_args)
    scores(out, target)  # validates the target
    A = acts.inputs[gap].data  # the maps that entered the pooling: (N, K, h, w)
    idx = np.broadcast_to(np.asarray(target), (len(xb),))
    return unbatch(_weighted_maps(fc.weight.data[idx], A, lambda: xb.shape[2:], False, upsample, interpolate_mode),
                   single)
