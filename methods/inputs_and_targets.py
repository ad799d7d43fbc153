"""The shared front of every method: check the input batch, turn ``target`` into scores, check
that a layer belongs to the model, and read a layer's output in the same forward pass.

``target`` is a class index, one index per sample, or a callable mapping the model's output
tensor to one scalar per sample (a unit of a captured layer, a regression output). A one-element
list or array ``[c]`` is the index c for the whole batch (Captum does so for a one-element tensor).

``additional_forward_args`` (Captum's name and convention) are extra arguments of the model's
forward, passed after x: ``model(x, *args)``, a non-tuple being one argument. They reach the model
as they were given (NumPy arrays stay arrays, minigrad Tensors stay Tensors; nothing is converted,
so the model decides what it accepts), and gradients are taken with respect to x alone. Where a
method builds a new batch from x's samples (integrated gradients' path points, SmoothGrad's noisy
copies, occlusion's perturbed copies), every array among them of one or more axes follows x's batch
along its first axis, as Captum expands every tensor with ``_expand_additional_forward_args``.
``run_model`` is the one place a method calls the model, ``follow_batch`` the one place args follow
a new batch.
"""
from contextlib import contextmanager

import numpy as np

from minigrad import Tensor, capture
from minigrad.argument_checks import array, boolean


def as_batch(x, name="x"):
    """x (N, C, H, W) or a single image (C, H, W) -> (float array (N, C, H, W), whether it was single).
    ``name`` is the argument named in errors."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    single = arr.ndim == 3
    arr = arr[None] if single else arr
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected a batch (N, C, H, W) or an image (C, H, W), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: the batch is empty (shape {arr.shape})")
    arr = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    return arr, single


def forward_args(additional_forward_args):
    """The tuple passed to the model after x: None -> (), a tuple as it is, any other object -> a
    1-tuple (Captum's ``_format_additional_forward_args``)."""
    if additional_forward_args is None:
        return ()
    return additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)


def run_model(model, x, additional_forward_args=None):
    """The model's output for the batch ``x``: ``model(x, *additional_forward_args)``."""
    return model(x, *forward_args(additional_forward_args))


def copies_of(n, copies):
    """The rows of a batch of n samples stacked ``copies`` times, copy-major: 0..n-1, 0..n-1, ..."""
    return np.tile(np.arange(n), copies)


def follow_batch(additional_forward_args, n, rows):
    """The args for a batch built from rows ``rows`` (int indices) of x's batch of n samples.

    Every NumPy array or minigrad Tensor with at least one axis is taken as one row per sample and
    indexed, ``arg[rows]``; 0-d arrays and other objects pass as they are. For ``rows =
    copies_of(n, k)`` this is Captum's ``_expand_additional_forward_args(args, k)`` (its "repeat":
    k copies concatenated along axis 0). Captum concatenates a tensor whatever its first axis; an
    array whose first axis is not n rows is refused here instead, naming it, since it cannot follow
    the batch (to share an array between all samples, bake it into the model)."""
    args = forward_args(additional_forward_args)
    for i, a in enumerate(args):
        if isinstance(a, (np.ndarray, Tensor)) and a.ndim >= 1 and a.shape[0] != n:
            raise ValueError(f"additional_forward_args[{i}]: this method expands or slices x's batch of {n}, "
                             f"so an array argument needs {n} rows on its first axis to follow it, got shape "
                             f"{a.shape}; to share an array between all samples, bake it into the model")
    return tuple(a[rows] if isinstance(a, (np.ndarray, Tensor)) and a.ndim >= 1 else a for a in args)


def unbatch(result, single):
    """``result`` without its batch axis when the method was given a single image."""
    return result[0] if single else result


def scores(output, target):
    """One scalar per sample, as a Tensor of shape (N,), from the model's output and ``target``."""
    n = output.shape[0]
    if callable(target):
        s = target(output)
        if not isinstance(s, Tensor) or s.shape != (n,):
            raise ValueError(f"target: a callable target must return a Tensor of shape ({n},), "
                             f"got {getattr(s, 'shape', type(s).__name__)}")
        return s
    if output.ndim != 2:
        raise ValueError(f"target: an index target needs outputs of shape (N, classes), got {output.shape}; "
                         f"pass a callable for other outputs")
    idx = np.asarray(target)
    if idx.shape in ((), (1,)):  # one index for the whole batch, also written [c] (Captum's, for a tensor)
        idx = np.full(n, idx.reshape(()), dtype=idx.dtype)
    if idx.shape != (n,) or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"target: expected a class index or {n} integer indices, got {target!r}")
    if idx.min() < 0 or idx.max() >= output.shape[1]:
        raise ValueError(f"target: class indices must lie in [0, {output.shape[1]}), got {idx.tolist()}")
    return output[np.arange(n), idx]


def broadcast_baseline(baseline, shape, dtype):
    """``baseline`` (a number or an array broadcastable to ``shape``) as a read-only array of ``shape``."""
    base = array(baseline, "baseline", min_size=1)
    try:
        return np.broadcast_to(base.astype(dtype, copy=False), shape)
    except ValueError:
        raise ValueError(f"baseline: expected a number or an array broadcastable to {shape}, "
                         f"got shape {base.shape}") from None


def repeat_target(target, n, copies):
    """``target`` for ``copies`` stacked copies of a batch of n samples (copy-major order): an
    index or n indices tiled ``copies`` times; a callable target is returned as it is."""
    if callable(target):
        return target
    return np.tile(np.broadcast_to(np.asarray(target), (n,)), copies)


@contextmanager
def evaluating(model):
    """Run the block with ``model`` in eval mode (dropout off), then restore the mode it had."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def check_layer(model, layer, what="layer"):
    """A ValueError naming ``what`` unless ``layer`` is one of ``model``'s modules."""
    if not any(m is layer for m in model.modules()):
        raise ValueError(f"{what}: {layer!r} is not a layer of this model")


def layer_output(model, xt, target, layer, additional_forward_args=None):
    """One forward pass of the tensor ``xt``: (scores (N,), the layer's output A (N, K, h, w))."""
    with capture(layer) as acts:
        s = scores(run_model(model, xt, additional_forward_args), target)
    A = acts.get(layer)
    if A is None or A.ndim != 4:
        raise ValueError(f"layer: expected a layer with (N, K, h, w) outputs, got "
                         f"{None if A is None else A.shape}")
    return s, A


def layer_tensor(acts, layer, attribute_to_layer_input):
    """The captured graph tensor of ``layer``: its output, or with ``attribute_to_layer_input`` the
    input it was called with (Captum's ``attribute_to_layer_input``). A ValueError naming ``layer``
    when it did not run, or when its input is not a tensor the scores depend on."""
    if layer not in acts:
        raise ValueError(f"layer: {type(layer).__name__} did not run in the model's forward pass")
    if not attribute_to_layer_input:
        return acts[layer]
    A = acts.inputs[layer]
    if not isinstance(A, Tensor) or not A.requires_grad:
        raise ValueError(f"layer: attribute_to_layer_input=True needs a layer called with a tensor that depends "
                         f"on x, got {type(A).__name__} as the input of {type(layer).__name__}")
    return A
