"""Ops that move data without arithmetic: reshape, transpose, indexing, concatenate, stack."""
import numpy as np

from minigrad.graph import Op
from minigrad.kernels.scatter_add import scatter_add
from minigrad.tensor import Tensor


class Reshape(Op):
    name = "reshape"

    def forward(ctx, a, shape):
        return a.reshape(shape)

    def backward(ctx, g):
        return (g.reshape(ctx.arrays[0].shape),)


class Transpose(Op):
    name = "transpose"

    def forward(ctx, a, axes=None):
        return np.transpose(a, axes)

    def backward(ctx, g):
        axes = ctx.kwargs["axes"]
        return (np.transpose(g, None if axes is None else np.argsort(axes)),)


def _is_fancy(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


class GetItem(Op):
    name = "getitem"

    def forward(ctx, a, idx):
        return a[idx]

    def backward(ctx, g):
        idx = ctx.kwargs["idx"]
        out = np.zeros(ctx.arrays[0].shape, ctx.arrays[0].dtype)  # C order, as scatter_add needs
        if _is_fancy(idx):
            scatter_add(out, idx, g)  # np.add.at: repeated indices add up
        else:
            out[idx] = g
        return (out,)


class Concatenate(Op):
    name = "concatenate"

    def forward(ctx, *arrays, axis=0):
        return np.concatenate(arrays, axis=axis)

    def backward(ctx, g):
        axis = ctx.kwargs["axis"]
        bounds = np.cumsum([a.shape[axis] for a in ctx.arrays])[:-1]
        return tuple(np.split(g, bounds, axis=axis))


class Stack(Op):
    name = "stack"

    def forward(ctx, *arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def backward(ctx, g):
        axis = ctx.kwargs["axis"]
        return tuple(np.take(g, i, axis=axis) for i in range(len(ctx.arrays)))


def reshape(x, shape):
    """x with a new shape (one entry may be -1), as ``np.reshape``. Backward: g reshaped back."""
    return Reshape.apply(x, shape=tuple(shape) if not np.isscalar(shape) else (shape,))


def transpose(x, axes=None):
    """Axes permuted (reversed when ``axes`` is None), as ``np.transpose``. Backward: g permuted
    by the inverse permutation."""
    return Transpose.apply(x, axes=None if axes is None else tuple(axes))


def getitem(x, idx):
    """x[idx], NumPy indexing (tensors used as indices act through their values). Backward:
    g scattered into zeros, adding where fancy indices repeat."""
    as_index = lambda i: i.data.astype(np.intp) if isinstance(i, Tensor) else i  # noqa: E731  (index tensors)
    return GetItem.apply(x, idx=tuple(map(as_index, idx)) if isinstance(idx, tuple) else as_index(idx))


def concatenate(tensors, axis=0):
    """Tensors joined along an existing ``axis``. Backward: g split at the same bounds."""
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Tensors of one shape joined along a new ``axis``. Backward: g sliced along it."""
    return Stack.apply(*tensors, axis=axis)
