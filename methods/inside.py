"""Looking inside a network: first-layer filters and linear templates as images, layers'
activation maps, per-channel activation statistics over a population (lecture 004), receptive
fields from kernel/stride/padding arithmetic and the top-activating patches (Girshick et al. 2014).
"""
import numpy as np

import minigrad
from layers import AvgPool2d, Conv2d, Linear, MaxPool2d
from methods.batch import as_batch
from minigrad import Tensor, no_grad


def filters(layer, shape=None):
    """A layer's weights as images, each scaled to [0, 1] on its own.

    Conv2d -> (out, in, kh, kw); Linear -> (out,) + shape (the class templates of a linear
    classifier, e.g. shape=(1, 28, 28)); shape defaults to (in_features,).
    """
    if isinstance(layer, Conv2d):
        w = layer.weight.data
    elif isinstance(layer, Linear):
        w = layer.weight.data
        shape = tuple(shape) if shape is not None else (w.shape[1],)
        if int(np.prod(shape)) != w.shape[1]:
            raise ValueError(f"shape: {shape} does not hold the layer's {w.shape[1]} input features")
        w = w.reshape((w.shape[0],) + shape)
    else:
        raise TypeError(f"layer: expected a Conv2d or Linear layer, got {type(layer).__name__}")
    axes = tuple(range(1, w.ndim))
    lo, hi = w.min(axis=axes, keepdims=True), w.max(axis=axes, keepdims=True)
    return (w - lo) / np.where(hi > lo, hi - lo, 1)


def _layer_outputs(model, x, layers, batch_size=64):
    xb, single = as_batch(x)
    for layer in layers:
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"layers: {layer!r} is not a layer of this model")
    chunks = {id(layer): [] for layer in layers}
    with no_grad():
        for i in range(0, len(xb), batch_size):
            with minigrad.capture(*layers) as acts:
                model(Tensor(xb[i:i + batch_size]))
            for layer in layers:
                chunks[id(layer)].append(acts[layer].data)
    return {layer: np.concatenate(chunks[id(layer)]) for layer in layers}, single


def activations(model, x, layers, batch_size=64):
    """The outputs of ``layers`` (a layer or a list) for x: a dict layer -> array (N, ...)
    (or the single array for one layer; no batch axis for a single image)."""
    many = isinstance(layers, (list, tuple))
    outs, single = _layer_outputs(model, x, list(layers) if many else [layers], batch_size)
    outs = {k: (v[0] if single else v) for k, v in outs.items()}
    return outs if many else outs[layers]


def activation_statistics(model, data, layer, batch_size=64):
    """Per channel of ``layer`` over a population of inputs: a dict of (K,) arrays 'mean', 'std',
    'min', 'max', 'active' (fraction > 0) and 'quantiles' (K, 5) at 5, 25, 50, 75, 95 %."""
    A = activations(model, data, layer, batch_size)
    if A.ndim < 2:
        raise ValueError(f"layer: expected outputs with a channel axis, got shape {A.shape}")
    per_channel = np.moveaxis(A, 1, 0).reshape(A.shape[1], -1)
    return {"mean": per_channel.mean(axis=1), "std": per_channel.std(axis=1),
            "min": per_channel.min(axis=1), "max": per_channel.max(axis=1),
            "active": (per_channel > 0).mean(axis=1),
            "quantiles": np.percentile(per_channel, [5, 25, 50, 75, 95], axis=1).T}


def receptive_field(model, layer):
    """The input window seen by one unit of ``layer``, from the kernel/stride/padding of every
    Conv2d and pooling layer up to and including it (in the order the model lists its layers,
    which is the order they run in a chain of Sequential blocks).

    Returns a dict of pairs (rows, cols): 'size', 'stride' (the jump between neighbouring units)
    and 'offset': unit (i, j) sees input rows offset + i * stride ... + size - 1 (and likewise
    columns); offsets are negative where the window reaches into the padding.
    """
    size, jump, offset = np.array([1, 1]), np.array([1, 1]), np.array([0, 0])
    for m in model.modules():
        if isinstance(m, (Conv2d, MaxPool2d, AvgPool2d)):
            k, s, p = np.array(m.kernel_size), np.array(m.stride), np.array(m.padding)
            offset = offset - p * jump
            size = size + (k - 1) * jump
            jump = jump * s
        if m is layer:
            return {"size": tuple(int(v) for v in size), "stride": tuple(int(v) for v in jump),
                    "offset": tuple(int(v) for v in offset)}
    raise ValueError(f"layer: {layer!r} is not a layer of this model")


def top_patches(model, data, layer, channel, k=9, batch_size=64):
    """The k input patches that excite unit ``channel`` of ``layer`` most, over all images and
    positions, each cut at the unit's receptive field (zero outside the image).

    Returns (patches (k, C, rh, rw), activations (k,), where (k, 3) = (image, i, j)).
    """
    xb, _ = as_batch(data)
    A = activations(model, xb, layer, batch_size)
    if A.ndim != 4:
        raise ValueError(f"layer: expected (N, K, h, w) outputs, got shape {A.shape}")
    if not 0 <= channel < A.shape[1]:
        raise ValueError(f"channel: expected an index in [0, {A.shape[1]}), got {channel}")
    flat = A[:, channel].ravel()
    k = min(k, flat.size)
    best = np.argsort(-flat, kind="stable")[:k]
    where = np.stack(np.unravel_index(best, A[:, channel].shape), axis=1)
    rf = receptive_field(model, layer)
    (rh, rw), (sh, sw), (oh, ow) = rf["size"], rf["stride"], rf["offset"]
    H, W = xb.shape[2:]
    patches = np.zeros((k, xb.shape[1], rh, rw), dtype=xb.dtype)
    for t, (n, i, j) in enumerate(where):
        top, left = oh + i * sh, ow + j * sw
        r0, r1, c0, c1 = max(top, 0), min(top + rh, H), max(left, 0), min(left + rw, W)
        if r0 < r1 and c0 < c1:
            patches[t, :, r0 - top:r1 - top, c0 - left:c1 - left] = xb[n, :, r0:r1, c0:c1]
    return patches, flat[best], where
