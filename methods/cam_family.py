"""The rest of the CAM family read from one forward and one reverse pass (issue #29): HiResCAM,
XGrad-CAM, LayerCAM, Eigen-CAM, Eigen-Grad-CAM and a random-weights baseline. The maps scored by
perturbing the input or the layer (Score-CAM, Ablation-CAM) are in ``methods.cam_scored``, FullGrad
in ``methods.fullgrad``.

Every method here is ``method(model, x, target, layer, ...) -> (N, H, W)`` as ``methods.gradcam``:
x (N, C, H, W) or one (C, H, W) image (returned without the batch axis), ``layer`` a module of the
model with (N, K, h, w) outputs A, whose gradient g = dy_c/dA the maps are built from. The map is
computed at the layer's resolution, ``relu=True`` applies the ReLU there, and only then is it
resized to x's height and width (``upsample``, ``interpolate_mode`` as in ``methods.cam``).

Where a paper leaves a choice, pytorch-grad-cam's is taken (named in each docstring), with two
exceptions kept from this repo's Grad-CAM: maps are not min-max rescaled to [0, 1] at the end
(pytorch-grad-cam's ``scale_cam_image``), and the resize is ``methods.upsample.resize`` (PyTorch's
``interpolate``; its bilinear mode is OpenCV's ``resize``, which pytorch-grad-cam calls, for
upsampling).
"""
import numpy as np

import minigrad
from methods.cam import _gradcam_parts, _image_size
from methods.inputs_and_targets import unbatch
from methods.upsample import resize
from minigrad.argument_checks import boolean, one_of, rng


def _finished(maps, inputs, relu, upsample, interpolate_mode):
    """(N, h, w) maps at the layer's resolution -> the ReLU there (``relu``), then resized to x's
    (H, W) (``upsample``), without the batch axis for a single image."""
    if boolean(relu, "relu"):
        maps = np.maximum(maps, 0)
    if boolean(upsample, "upsample"):
        maps = resize(maps, _image_size(inputs), interpolate_mode)
    return unbatch(maps, inputs.single)


def _channel_weighted(weights, a, inputs, relu, upsample, interpolate_mode):
    """``_finished`` of sum_k weights[n, k] a[n, k]: weights (N, K), a (N, K, h, w)."""
    return _finished(np.einsum("nk,nkhw->nhw", weights, a), inputs, relu, upsample, interpolate_mode)


def _activations_and_gradient(model, x, target, layer, interpolate_mode, additional_forward_args):
    """One forward and one reverse pass: (``Inputs`` of x, A (N, K, h, w), g = dy/dA, same shape)."""
    inputs, _, s, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    g, = minigrad.grad(s, [A])
    return inputs, A.data, g


def hirescam(model, x, target, layer, relu=True, upsample=True, interpolate_mode="bilinear",
             additional_forward_args=None):
    """HiResCAM (Draelos & Carin 2020): map = sum_k g_k * A_k, the gradient multiplied by the
    activation element by element, then summed over the K channels. -> (N, H, W).

    Where the gradient is constant over each channel's map (a layer followed only by global average
    pooling and linear layers) it is Grad-CAM's map. ``relu=True`` (the default) keeps the positive
    part, as pytorch-grad-cam does for every CAM; ``relu=False`` gives the signed sum, which is
    Captum's ``LayerGradientXActivation`` summed over channels."""
    inputs, a, g = _activations_and_gradient(model, x, target, layer, interpolate_mode, additional_forward_args)
    return _finished((g * a).sum(axis=1), inputs, relu, upsample, interpolate_mode)


def xgradcam(model, x, target, layer, relu=True, upsample=True, interpolate_mode="bilinear",
             additional_forward_args=None):
    """XGrad-CAM (Fu et al. 2020): w_k = sum_ij (A^k_ij / sum_ab A^k_ab) g^k_ij, map =
    ReLU(sum_k w_k A^k). -> (N, H, W).

    A channel whose activations sum to 0 gets weight 0 (pytorch-grad-cam adds 1e-7 to the sum
    instead, which gives the same 0 for a channel that is 0 everywhere, the usual case after a ReLU).
    For a ReLU network without biases after the layer, the map before the ReLU sums to the score y_c
    (Euler's theorem for a function positively homogeneous of degree 1: sum A g = y_c), which is the
    property the paper chooses the weights for."""
    inputs, a, g = _activations_and_gradient(model, x, target, layer, interpolate_mode, additional_forward_args)
    total = a.sum(axis=(2, 3))
    weights = np.divide((g * a).sum(axis=(2, 3)), total, out=np.zeros_like(total), where=total != 0)
    return _channel_weighted(weights, a, inputs, relu, upsample, interpolate_mode)


def layercam(model, x, target, layer, relu=True, upsample=True, interpolate_mode="bilinear",
             additional_forward_args=None):
    """LayerCAM (Jiang et al. 2021): map = ReLU(sum_k relu(g_k) * A_k), each location
    weighted by its own positive gradient. -> (N, H, W).

    Where every gradient is positive it is HiResCAM's map, and Grad-CAM's where in addition the
    gradient is constant over each channel's map."""
    inputs, a, g = _activations_and_gradient(model, x, target, layer, interpolate_mode, additional_forward_args)
    return _finished((np.maximum(g, 0) * a).sum(axis=1), inputs, relu, upsample, interpolate_mode)


def random_cam(model, x, target, layer, seed=None, relu=True, upsample=True, interpolate_mode="bilinear",
               additional_forward_args=None):
    """A baseline for the CAM family: map = ReLU(sum_k w_k A^k) with weights w_k drawn uniformly
    from [-1, 1] per sample and channel (pytorch-grad-cam's ``RandomCAM``), independent of the
    target. A method whose maps are no closer to the object than these says little about the
    model. ``seed``: None, an int >= 0 or a numpy Generator. -> (N, H, W)."""
    generator = rng(seed, "seed")
    inputs, _, _, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    weights = generator.uniform(-1, 1, A.shape[:2]).astype(A.dtype)
    return _channel_weighted(weights, A.data, inputs, relu, upsample, interpolate_mode)


#: the ``sign`` options of Eigen-CAM: the default first
EIGEN_SIGNS = ("channel_sum", "svd")


def _first_component_projection(maps, sign):
    """Each sample's (h*w, K) matrix of K-channel vectors, centred over the h*w locations, projected
    on its first right singular vector: (N, K, h, w) -> (N, h, w).

    A singular vector's sign is arbitrary, and LAPACK's choice is not stable: on the small GAPNet's
    last layer, g * A from Captum and from minigrad, equal but for rounding, get opposite signs, so
    that the ReLU leaves 0 where it left the object. ``sign="channel_sum"`` orients each projection to
    correlate positively with sum_k maps[n, k] (where the activations are strong, the map is
    bright); ``sign="svd"`` keeps the sign ``np.linalg.svd`` returns, as pytorch-grad-cam's
    ``get_2d_projection`` (up to version 1.4; later ones call ``torch.linalg.svd``, whose sign
    differs from NumPy's for some matrices)."""
    one_of(sign, "sign", EIGEN_SIGNS)
    n, k, h, w = maps.shape
    rows = maps.reshape(n, k, h * w).transpose(0, 2, 1)
    centred = rows - rows.mean(axis=1, keepdims=True)
    vt = np.linalg.svd(centred, full_matrices=False)[2]  # stacked: one SVD per sample
    projection = np.einsum("npk,nk->np", centred, vt[:, 0])
    if sign == "channel_sum":
        flip = np.einsum("np,np->n", projection, centred.sum(axis=2)) < 0
        projection[flip] *= -1
    return projection.reshape(n, h, w)


def eigencam(model, x, target, layer, sign="channel_sum", relu=True, upsample=True, interpolate_mode="bilinear",
             additional_forward_args=None):
    """Eigen-CAM (Muhammad & Yeasin 2020): the layer's activations projected on their first principal
    component, each location's K-vector centred over the locations first (as pytorch-grad-cam,
    whose comment says the map otherwise comes out negative), then the ReLU. -> (N, H, W).

    sign : "channel_sum" (the default) orients the component so that the map correlates positively
        with the channel-summed activations; "svd" keeps LAPACK's sign, pytorch-grad-cam's, which a
        rounding error can turn over (see ``_first_component_projection``).

    The map does not depend on ``target`` (the method is class-agnostic); it is checked all the same
    and the forward pass is the one every CAM runs."""
    one_of(sign, "sign", EIGEN_SIGNS)
    inputs, _, _, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    return _finished(_first_component_projection(A.data, sign), inputs, relu, upsample, interpolate_mode)


def eigengradcam(model, x, target, layer, sign="channel_sum", relu=True, upsample=True, interpolate_mode="bilinear",
                 additional_forward_args=None):
    """Eigen-Grad-CAM (pytorch-grad-cam's, after Muhammad & Yeasin 2020): Eigen-CAM on g * A, the
    gradient times the activation (HiResCAM's terms before their sum over channels), so the
    component depends on the target; then the ReLU. -> (N, H, W). ``sign`` as in ``eigencam``:
    by default the map correlates positively with HiResCAM's, sum_k g_k * A_k."""
    one_of(sign, "sign", EIGEN_SIGNS)
    inputs, a, g = _activations_and_gradient(model, x, target, layer, interpolate_mode, additional_forward_args)
    return _finished(_first_component_projection(g * a, sign), inputs, relu, upsample, interpolate_mode)
