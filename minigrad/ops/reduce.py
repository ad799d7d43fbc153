"""Reductions over axes (sum, mean, max) and the normalisations softmax / log_softmax."""
import numpy as np

from minigrad.graph import Op


def _axes(axis, ndim):
    axes = range(ndim) if axis is None else (axis,) if np.isscalar(axis) else axis
    return tuple(a % ndim for a in axes)


def _expand(g, ctx):
    """Re-insert the reduced axes into ``g`` so that it broadcasts against the input."""
    if ctx.kwargs["keepdims"]:
        return g
    return np.expand_dims(g, _axes(ctx.kwargs["axis"], ctx.arrays[0].ndim))


class Sum(Op):
    name = "sum"

    def forward(ctx, a, axis=None, keepdims=False):
        return np.sum(a, axis=axis, keepdims=keepdims)

    def backward(ctx, g):
        return (np.broadcast_to(_expand(g, ctx), ctx.arrays[0].shape).copy(),)


class Mean(Op):
    name = "mean"

    def forward(ctx, a, axis=None, keepdims=False):
        return np.mean(a, axis=axis, keepdims=keepdims)

    def backward(ctx, g):
        a = ctx.arrays[0]
        count = a.size // max(ctx.output.size, 1)
        return (np.broadcast_to(_expand(g, ctx) / count, a.shape).astype(a.dtype),)


class Max(Op):
    name = "max"

    def forward(ctx, a, axis=None, keepdims=False):
        return np.max(a, axis=axis, keepdims=keepdims)

    def backward(ctx, g):
        mask = ctx.arrays[0] == _expand(ctx.output, ctx)
        count = mask.sum(axis=_axes(ctx.kwargs["axis"], mask.ndim), keepdims=True)
        # count is an integer array: divided as it is, it would make a float32 gradient float64
        return (mask * (_expand(g, ctx) / count.astype(g.dtype)),)


class Softmax(Op):
    name = "softmax"

    def forward(ctx, a, axis=-1):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(ctx, g):
        s = ctx.output
        return (s * (g - (g * s).sum(axis=ctx.kwargs["axis"], keepdims=True)),)


class LogSoftmax(Op):
    name = "log_softmax"

    def forward(ctx, a, axis=-1):
        shifted = a - a.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(ctx, g):
        return (g - np.exp(ctx.output) * g.sum(axis=ctx.kwargs["axis"], keepdims=True),)


def reduce_sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all), as ``np.sum``. Backward: g broadcast back."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def reduce_mean(x, axis=None, keepdims=False):
    """Mean over ``axis``, as ``np.mean``. Backward: g / count, broadcast back."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def reduce_max(x, axis=None, keepdims=False):
    """Maximum over ``axis``, as ``np.max``. Backward: g split evenly among the tied maxima
    (torch.amax's convention)."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


def softmax(x, axis=-1):
    """softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x) along ``axis``, same shape.
    Backward: s * (g - sum(g s))."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - max x - log sum e^(x - max x) along ``axis``: stable for any logits, same shape.
    Backward: g - softmax(x) * sum g."""
    return LogSoftmax.apply(x, axis=axis)
