"""Looking inside a network: first-layer filters and linear templates as images, layers'
activation maps, and per-channel activation statistics over a population (lecture 004).
"""
import numpy as np

import minigrad
from layers import Conv2d, Linear
from methods.inputs_and_targets import as_batch, check_layer
from minigrad import Tensor, no_grad
from minigrad.argument_checks import integer, real_array


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


def filter_smoothness(weight):
    """How smooth convolution filters are: the Pearson correlation between each weight and its right
    neighbour and its lower neighbour, pooled over both directions, computed per (filter, input
    channel) and averaged. Smooth oriented edges and colour blobs score near 1; white noise (a fresh
    random initialisation) about 0; a checkerboard -1.

    weight : (out, in, kh, kw) array or a Conv2d layer, kh, kw >= 2 -> float in [-1, 1].
    """
    w = weight.weight.data if isinstance(weight, Conv2d) else real_array(weight, "weight")
    if w.ndim != 4 or min(w.shape[2:]) < 2 or w.size == 0:
        raise ValueError(f"weight: expected (out, in, kh, kw) filters with kh, kw >= 2, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight: expected finite values, got NaN or inf")
    w = w.reshape(-1, *w.shape[2:]).astype(np.float64)
    a = np.concatenate([w[:, :, :-1].reshape(len(w), -1), w[:, :-1, :].reshape(len(w), -1)], axis=1)
    b = np.concatenate([w[:, :, 1:].reshape(len(w), -1), w[:, 1:, :].reshape(len(w), -1)], axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    # a constant filter has no neighbour structure to speak of: it counts as 0, not NaN
    r = np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1), 0.0)
    return float(r.mean())


def _layer_outputs(model, x, layers, batch_size=64):
    xb, single = as_batch(x)
    batch_size = integer(batch_size, "batch_size", low=1)
    for layer in layers:
        check_layer(model, layer, "layers")
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
    as_batch(data, "data")  # errors name this function's argument
    A = activations(model, data, layer, batch_size)
    if A.ndim < 2:
        raise ValueError(f"layer: expected outputs with a channel axis, got shape {A.shape}")
    per_channel = np.moveaxis(A, 1, 0).reshape(A.shape[1], -1)
    return {"mean": per_channel.mean(axis=1), "std": per_channel.std(axis=1),
            "min": per_channel.min(axis=1), "max": per_channel.max(axis=1),
            "active": (per_channel > 0).mean(axis=1),
            "quantiles": np.percentile(per_channel, [5, 25, 50, 75, 95], axis=1).T}
