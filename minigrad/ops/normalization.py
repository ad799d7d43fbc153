"""Batch normalisation (Ioffe & Szegedy 2015) as a single op, so a rule sees the whole layer.

    y = (x - mean) / sqrt(var + eps) * weight + bias        per channel (axis 1)

With the batch's own statistics (training) the mean and variance depend on x, and the gradient
goes through them (Ioffe & Szegedy, sec. 3):

    dx = weight / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat)),   means over all but axis 1

With running statistics (evaluation) the op is a fixed affine map per channel, dx = g * scale.
The running statistics themselves are updated by the layer (``layers.BatchNorm2d``), not here.
"""
import numpy as np

from minigrad.graph import Op
from minigrad.kernels.channel_affine import channel_affine
from minigrad.tensor import as_tensor


def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm(Op):
    name = "batch_norm"
    backward_reads_output = False

    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, eps=1e-5, batch_stats=False):
        invstd = 1 / np.sqrt(var + eps)
        scale = invstd if weight is None else weight * invstd
        # y = x * scale + shift: the affine map a relevance rule can fold into the layer before
        ctx.scale, ctx.shift = scale, (-mean * scale if bias is None else bias - mean * scale)
        ctx.mean, ctx.invstd = mean, invstd
        return channel_affine(x, scale, ctx.shift)

    def backward(ctx, g):
        x, need, stats = ctx.arrays[0], ctx.needs_input_grad, ctx.kwargs["batch_stats"]
        if not stats and not any(need[1:]):  # a fixed affine map and no parameter wanted: dx = g * scale
            return (channel_affine(g, ctx.scale),) + (None,) * (len(ctx.arrays) - 1)
        axes = (0,) + tuple(range(2, x.ndim))
        xhat = (x - _per_channel(ctx.mean, x.ndim)) * _per_channel(ctx.invstd, x.ndim)
        gx = g * _per_channel(ctx.scale, x.ndim)
        if stats:
            gx -= _per_channel(ctx.scale, x.ndim) * (g.mean(axis=axes, keepdims=True)
                                                     + xhat * (g * xhat).mean(axis=axes, keepdims=True))
        if len(ctx.arrays) == 1:
            return (gx,)
        return gx, (g * xhat).sum(axis=axes), g.sum(axis=axes)


def batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5, batch_stats=False):
    """(x - mean) / sqrt(var + eps) * weight + bias over channels (axis 1): x (N, C) or (N, C, ...),
    mean, var, weight, bias (C,) -> the shape of x. ``weight`` and ``bias`` both or neither.

    ``batch_stats=True`` says that mean and var are x's own (the biased variance over every axis
    but 1), so the gradient flows through them; otherwise they are constants (running statistics).
    Backward: dweight = sum g xhat, dbias = sum g, dx as in the module docstring.
    """
    x = as_tensor(x, "batch_norm: argument x")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got shape {x.shape}")
    if (weight is None) != (bias is None):
        raise ValueError("batch_norm: pass both weight and bias, or neither")
    args = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*args, mean=np.asarray(mean), var=np.asarray(var), eps=eps, batch_stats=batch_stats)
