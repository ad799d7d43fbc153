"""Class activation maps whose channel weights are scores of perturbed forward passes, with no
gradient: Score-CAM (Wang et al. 2020) masks the input with each channel's map, Ablation-CAM
(Desai & Ramaswamy 2020) zeroes each channel in the layer. Both take ``batch_size`` channels per
forward pass (pytorch-grad-cam's option), so a pass holds batch_size * N images.

Ablation needs the network run from the layer onwards with the layer's output changed. No hook
is installed and the model is not edited: the forward pass records the graph anyway, so the part
of it downstream of the layer is *replayed*, each recorded op's forward called again on the
changed arrays (``_replay``). Only what the graph recorded is replayed: a model whose forward does
arithmetic on ``.data`` outside the ops, or whose later layers depend on the batch (BatchNorm in
training mode), is not supported. Conventions as ``methods.cam_family``.
"""
import numpy as np

import minigrad
from methods.cam import _gradcam_parts
from methods.cam_family import _channel_weighted
from methods.inputs_and_targets import as_batch, copies_of, follow_batch, repeat_target, run_model, scores
from methods.upsample import resize
from minigrad import Tensor
from minigrad.argument_checks import boolean, integer
from minigrad.backward import topological_order


def _chunks(n_channels, size):
    """The channel indices 0..n_channels-1 in consecutive runs of at most ``size``."""
    return [np.arange(i, min(i + size, n_channels)) for i in range(0, n_channels, size)]


def _rescaled(maps):
    """Each (h, w) map min-max rescaled to [0, 1] over its last two axes; a constant map -> 0."""
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    return np.divide(maps - low, span, out=np.zeros_like(maps), where=span != 0)


def _target_scores(output, target, softmax):
    """scores(output, target), of softmax(output) over the classes with ``softmax``."""
    if softmax:
        if output.ndim != 2:
            raise ValueError(f"softmax: the softmax is taken over the classes of an (N, classes) output, got "
                             f"{output.shape}; use softmax=False")
        output = minigrad.softmax(output, axis=1)
    return scores(output, target)


def scorecam(model, x, target, layer, softmax=True, batch_size=16, relu=True, upsample=True,
             interpolate_mode="bilinear", additional_forward_args=None):
    """Score-CAM (Wang et al. 2020): each channel's map A^k, resized to x and rescaled to
    [0, 1], H^k = (up(A^k) - min) / (max - min), masks the input; the target's score on the masked
    image weights the channel: w_k = softmax(f(x * H^k))_c, map = ReLU(sum_k w_k A^k). -> (N, H, W).

    softmax : True (the paper's) weights by the target's probability, the softmax over the classes
        of an (N, classes) output (a callable target is given the softmax); False by its raw score.
        (pytorch-grad-cam instead takes the raw scores and a softmax over the K channels.)
    batch_size : channels per forward pass, each pass holding batch_size * N masked images
        (pytorch-grad-cam's default 16).

    A channel whose map is constant masks nothing in particular: its weight is 0 (the paper's
    code skips it; pytorch-grad-cam's 1e-8 in the rescaling makes its mask 0). The paper's
    baseline score f(x_b) is not subtracted (nor is it in the paper's code or pytorch-grad-cam).
    The mask uses ``interpolate_mode``'s resize, half-pixel bilinear by default as the paper's
    code (pytorch-grad-cam aligns corners). x must be one image batch (N, C, H, W) or an image."""
    boolean(softmax, "softmax")
    integer(batch_size, "batch_size", low=1)
    xb, _ = as_batch(x)  # one image batch: the masks multiply it
    inputs, _, _, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    a = A.data
    n, k = a.shape[:2]
    weights = np.zeros((n, k), a.dtype)
    with minigrad.no_grad():
        for ks in _chunks(k, batch_size):
            rows = copies_of(n, len(ks))
            masks = _rescaled(resize(a[:, ks], xb.shape[2:], interpolate_mode))  # (N, len(ks), H, W)
            masked = xb[rows] * masks.transpose(1, 0, 2, 3).reshape(len(rows), 1, *xb.shape[2:])
            out = run_model(model, Tensor(masked), follow_batch(additional_forward_args, n, rows))
            weights[:, ks] = _target_scores(out, repeat_target(target, n, len(ks)), softmax).data.reshape(-1, n).T
    constant = a.max(axis=(2, 3)) == a.min(axis=(2, 3))
    weights[constant] = 0
    return _channel_weighted(weights, a, inputs, relu, upsample, interpolate_mode)


def _replay(output, tensor, value):
    """``output``'s value had ``tensor`` held ``value`` (same shape) in the forward pass that made
    both: the recorded ops downstream of ``tensor`` run again, in the graph's order, on the new
    arrays; everything else (weights, other branches) is read from the graph as it is."""
    values = {id(tensor): value}
    with minigrad.no_grad():
        for t in topological_order([output]):
            node = t._node
            if node is not None and any(id(i) in values for i in node.inputs):
                changed = [Tensor(values[id(i)]) if id(i) in values else i for i in node.inputs]
                values[id(t)] = node.op.apply(*changed, **node.kwargs).data
    return values.get(id(output), output.data)  # an output that does not depend on the tensor


def ablationcam(model, x, target, layer, batch_size=32, relu=True, upsample=True, interpolate_mode="bilinear",
                additional_forward_args=None):
    """Ablation-CAM (Desai & Ramaswamy 2020): w_k = (y_c - y_c^k) / y_c, where y_c^k is the
    target's score with channel k of the layer's output set to 0, map = ReLU(sum_k w_k A^k).
    -> (N, H, W).

    The layer's output is zeroed as the paper does (pytorch-grad-cam sets it to min(A) - 1e7 when
    the activations are not nonnegative). A sample whose score y_c is 0 gets weights 0 (the formula
    divides by it). ``batch_size``: channels ablated per pass (pytorch-grad-cam's default 32): the
    forward pass runs once on batch_size copies of x, then the layers after ``layer`` are replayed
    (see the module docstring) once per run of batch_size channels, copy j with channel k_j zeroed.
    A small batch_size is faster at a deep layer (that first pass costs batch_size forward passes,
    the replays little), a large one where most of the network follows the layer.
    x: an image batch, an image, or Captum's tuple of inputs (the maps take the first's size)."""
    integer(batch_size, "batch_size", low=1)
    inputs, _, _, A = _gradcam_parts(model, x, target, layer, interpolate_mode, additional_forward_args)
    n, k = A.shape[:2]
    copies = min(batch_size, k)
    rows = copies_of(n, copies)
    with minigrad.capture(layer) as acts:
        s = scores(run_model(model, [Tensor(arr[rows]) for arr in inputs.arrays],
                             follow_batch(additional_forward_args, n, rows)), repeat_target(target, n, copies))
    tiled = acts[layer]
    a = tiled.data.reshape(copies, n, *A.shape[1:])
    ablated = np.empty((n, k), a.dtype)
    for ks in _chunks(k, copies):
        keep = np.ones((copies, 1, k, 1, 1), a.dtype)
        keep[np.arange(len(ks)), 0, ks] = 0  # copy j loses channel ks[j]; the copies past len(ks) lose none
        ablated[:, ks] = _replay(s, tiled, (a * keep).reshape(tiled.shape)).reshape(copies, n)[:len(ks)].T
    y = s.data[:n, None]
    weights = np.divide(y - ablated, y, out=np.zeros_like(ablated), where=y != 0)
    return _channel_weighted(weights, a[0], inputs, relu, upsample, interpolate_mode)
