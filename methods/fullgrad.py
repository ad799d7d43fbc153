"""FullGrad (Srinivas & Fleuret 2019): the input-gradient and the bias-gradients of every layer.

For a network built of layers that each add a bias b_l to their output, the full-gradient
decomposition is f(x) = <df/dx, x> + sum_l <df/db_l, b_l>, exact for a
piecewise-linear network (ReLU, max and average pooling, convolutions, linear layers, BatchNorm in
eval mode). df/db_l, expanded over the layer's output, is the gradient at that output times the
bias: its "bias-gradient" map. Which layers have a bias: Conv2d and Linear (their ``bias``) and
BatchNorm in eval mode, whose affine map gamma (x - mean) / sqrt(var + eps) + beta has the folded
bias beta - gamma mean / sqrt(var + eps) (as the paper's code and pytorch-grad-cam).
"""
from contextlib import nullcontext

import numpy as np

import minigrad
from layers import BatchNorm1d, BatchNorm2d, Conv2d, Linear
from methods.cam_scored import _rescaled
from methods.inputs_and_targets import Inputs, as_batch, run_model, scores, unbatch
from methods.upsample import INTERPOLATE_MODES, resize
from minigrad.argument_checks import one_of


def _bias(layer):
    """The bias ``layer`` adds to each channel of its output (K,), or None."""
    if isinstance(layer, (Conv2d, Linear)):
        return None if layer.bias is None else layer.bias.data
    if isinstance(layer, (BatchNorm1d, BatchNorm2d)):
        if layer.training or not layer.track_running_stats:
            raise ValueError(f"model: FullGrad folds BatchNorm's running statistics into a bias, but {layer!r} "
                             f"normalises by the batch's; call model.eval() (and keep running statistics)")
        scale = 1 / np.sqrt(layer.running_var.data + layer.eps)
        if layer.affine:
            return layer.bias.data - layer.weight.data * layer.running_mean.data * scale
        return -layer.running_mean.data * scale
    return None


def _full_gradient(model, x, target, additional_forward_args=None):
    """One forward and one reverse pass: (``Inputs`` of x, the scores y (N,), [df/dx per input],
    [b_l * df/d(output of l)] per layer l with a bias that ran, each of that layer's output shape
    (N, K, ...)). Their sums over everything but the batch add up to y (the module docstring)."""
    biased = [(m, b) for m, b in ((m, _bias(m)) for m in model.modules()) if b is not None]
    inputs = Inputs(x)
    xts = inputs.tensors()
    with minigrad.capture(*[m for m, _ in biased]) if biased else nullcontext({}) as acts:
        y = scores(run_model(model, xts, additional_forward_args), target)
    ran = [(m, b) for m, b in biased if m in acts]
    grads = minigrad.grad(y, xts + [acts[m] for m, _ in ran])
    bias_gradients = [g * b.reshape(-1, *[1] * (g.ndim - 2)) for (_, b), g in zip(ran, grads[len(xts):])]
    return inputs, y.data, grads[:len(xts)], bias_gradients


def fullgrad(model, x, target, interpolate_mode="bilinear", additional_forward_args=None):
    """FullGrad saliency (Srinivas & Fleuret 2019): S = psi(df/dx * x) + sum_l sum_c
    psi(bias-gradient of layer l, channel c), with psi = |.|, rescaled to [0, 1] per map (a constant
    map -> 0), resized to x's (H, W). -> (N, H, W).

    Each channel of every bias-gradient is rescaled on its own (the paper's sum over channels c of
    psi), and so is each colour channel of the input term (pytorch-grad-cam's choice); the paper's
    code rescales the input term and each layer as a whole instead.
    Only layers with (N, K, h, w) outputs (Conv2d, BatchNorm2d) have a map; a Linear layer's bias
    enters the decomposition but not the saliency map (as in the paper). Each layer's channels are
    summed at its resolution, then resized (``interpolate_mode``, see ``methods.cam``), which equals
    resizing each: the resize is linear. The map is not rescaled at the end (pytorch-grad-cam's
    last step). The model's BatchNorm layers must be in eval mode. x: an image batch or an image."""
    one_of(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)
    xb, single = as_batch(x)
    _, _, (gx,), bias_gradients = _full_gradient(model, xb, target, additional_forward_args)
    size = xb.shape[2:]
    saliency = _rescaled(np.abs(gx * xb)).sum(axis=1)
    for bg in bias_gradients:
        if bg.ndim == 4:
            saliency = saliency + resize(_rescaled(np.abs(bg)).sum(axis=1), size, interpolate_mode)
    return unbatch(saliency, single)
