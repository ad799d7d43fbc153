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

``x`` may also be Captum's **tuple of inputs** ``(x_1, ..., x_m)``: arrays of any shape
(N, ...) with one batch axis N in common, the model called as ``model(x_1, ..., x_m, *args)``, and
the attributions returned as a tuple of the same shapes (``Inputs`` reads both forms). A tuple is
never a single image, so (N, F) vectors and (N,) scalars pass as they are: write ``(x,)`` for a
single input of another shape than an image batch.
"""
from contextlib import contextmanager

import numpy as np

from minigrad import Tensor, capture
from minigrad.argument_checks import array, real_array


def _float_array(x, name):
    """x as a float32/float64 array (other numbers as float64; ``argument_checks.real_array`` refuses
    non-numbers and complex numbers), and a ValueError for NaN or inf."""
    arr = real_array(x, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def as_batch(x, name="x"):
    """x (N, C, H, W) or a single image (C, H, W) -> (float array (N, C, H, W), whether it was single).
    ``name`` is the argument named in errors."""
    if isinstance(x, (tuple, list)) and any(isinstance(a, (np.ndarray, Tensor)) for a in x):
        raise TypeError(f"{name}: this method takes one batch of images, got a {type(x).__name__} of "
                        f"{len(x)} arrays (tuples of inputs are taken by the gradient methods, integrated "
                        f"gradients, SmoothGrad, occlusion, Grad-CAM, Guided Grad-CAM and LRP)")
    arr = _float_array(x, name)
    single = arr.ndim == 3
    arr = arr[None] if single else arr
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected a batch (N, C, H, W) or an image (C, H, W), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: the batch is empty (shape {arr.shape})")
    return arr, single


class Inputs:
    """What a method was given as ``x``: one image batch (N, C, H, W), a single image (C, H, W), or
    Captum's tuple of inputs, each (N, ...) with the same N. ``arrays`` holds the float arrays (one
    for the first two forms), ``n`` the batch size; ``restore`` gives results back in the form x
    came in (the batch axis dropped for a single image, a tuple for a tuple)."""

    def __init__(self, x, name="x"):
        self.is_tuple = isinstance(x, tuple)
        if not self.is_tuple:
            arr, self.single = as_batch(x, name)
            self.arrays = [arr]
        else:
            self.single = False
            if not x:
                raise ValueError(f"{name}: expected a tuple of one or more input arrays, got ()")
            self.arrays = [_float_array(a, f"{name}[{i}]") for i, a in enumerate(x)]
            for i, a in enumerate(self.arrays):
                if a.ndim == 0 or a.shape[0] == 0:
                    raise ValueError(f"{name}[{i}]: expected an array (N, ...) with a non-empty batch axis, "
                                     f"got shape {a.shape}")
                if a.shape[0] != self.arrays[0].shape[0]:
                    raise ValueError(f"{name}[{i}]: every input needs the batch size of {name}[0], "
                                     f"{self.arrays[0].shape[0]}, got shape {a.shape}")
        self.n = len(self.arrays[0])

    def tensors(self, requires_grad=True):
        """The inputs as graph leaves, one Tensor per array."""
        return [Tensor(a, requires_grad=requires_grad) for a in self.arrays]

    def per_input(self, value, name):
        """``value`` given per input: a tuple of one entry per input for a tuple x (any other value
        is shared by every input), the value itself (in a list of one) otherwise."""
        if not self.is_tuple:
            return [value]
        if isinstance(value, tuple):
            if len(value) != len(self.arrays):
                raise ValueError(f"{name}: expected one entry per input ({len(self.arrays)}), got a tuple of "
                                 f"{len(value)}")
            return list(value)
        return [value] * len(self.arrays)

    def restore(self, results):
        """One result per input -> a tuple for a tuple x, the one result (unbatched) otherwise."""
        return tuple(results) if self.is_tuple else unbatch(results[0], self.single)


def forward_args(additional_forward_args):
    """The tuple passed to the model after x: None -> (), a tuple as it is, any other object -> a
    1-tuple (Captum's ``_format_additional_forward_args``)."""
    if additional_forward_args is None:
        return ()
    return additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)


def run_model(model, x, additional_forward_args=None):
    """The model's output for the batch ``x``: ``model(x, *additional_forward_args)``, or for a list
    of inputs (Captum's tuple) ``model(x_1, ..., x_m, *additional_forward_args)``."""
    inputs = tuple(x) if isinstance(x, list) else (x,)
    return model(*inputs, *forward_args(additional_forward_args))


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
    """One scalar per sample, as a Tensor of shape (N,), from the model's output and ``target``.

    As Captum: ``None`` takes an output of one value per sample, (N,) or (N, 1), as it is; a tuple
    of ints indexes an output of more axes, (N, d_1, ..., d_k) -> output[:, i_1, ..., i_k]; a list
    of such tuples gives one per sample."""
    if not isinstance(output, Tensor) or output.ndim == 0:
        raise ValueError(f"target: the model must return a Tensor with a batch axis, got "
                         f"{getattr(output, 'shape', type(output).__name__)}")
    n = output.shape[0]
    if callable(target):
        s = target(output)
        if not isinstance(s, Tensor) or s.shape != (n,):
            raise ValueError(f"target: a callable target must return a Tensor of shape ({n},), "
                             f"got {getattr(s, 'shape', type(s).__name__)}")
        return s
    if target is None:
        if output.size != n:
            raise ValueError(f"target: None takes an output of one value per sample, (N,) or (N, 1), got "
                             f"{output.shape}; give a class index")
        return output.reshape(n)
    if _is_index_tuple(target) or (isinstance(target, list) and target and all(map(_is_index_tuple, target))):
        return _scores_at(output, target)
    if output.ndim != 2:
        raise ValueError(f"target: an index target needs outputs of shape (N, classes), got {output.shape}; "
                         f"pass a tuple of indices or a callable for other outputs")
    idx = np.asarray(target)
    if idx.shape in ((), (1,)):  # one index for the whole batch, also written [c] (Captum's, for a tensor)
        idx = np.full(n, idx.reshape(()), dtype=idx.dtype)
    if idx.shape != (n,) or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"target: expected a class index or {n} integer indices, got {target!r}")
    if idx.min() < 0 or idx.max() >= output.shape[1]:
        raise ValueError(f"target: class indices must lie in [0, {output.shape[1]}), got {idx.tolist()}")
    return output[np.arange(n), idx]


def _is_index_tuple(t):
    return isinstance(t, tuple) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in t)


def _scores_at(output, target):
    """output[n, *t_n] for one index tuple t (every sample) or a list of N tuples."""
    n = output.shape[0]
    per_sample = target if isinstance(target, list) else [target] * n
    if len(per_sample) != n:
        raise ValueError(f"target: expected one index tuple per sample ({n}), got {len(per_sample)}")
    if any(len(t) != output.ndim - 1 for t in per_sample):
        raise ValueError(f"target: an index tuple needs one index per output axis after the batch, "
                         f"{output.shape[1:]}, got {target!r}")
    idx = np.array(per_sample, dtype=np.int64).reshape(n, output.ndim - 1)
    if (idx < 0).any() or (idx >= np.array(output.shape[1:])).any():
        raise ValueError(f"target: indices must lie inside the output's axes {output.shape[1:]}, got {target!r}")
    return output[(np.arange(n),) + tuple(idx.T)]


def broadcast_baseline(baseline, shape, dtype, name="baseline"):
    """``baseline`` (a number or an array broadcastable to ``shape``) as a read-only array of ``shape``."""
    base = array(baseline, name, min_size=1)
    try:
        return np.broadcast_to(base.astype(dtype, copy=False), shape)
    except ValueError:
        raise ValueError(f"{name}: expected a number or an array broadcastable to {shape}, "
                         f"got shape {base.shape}") from None


def repeat_target(target, n, copies):
    """``target`` for ``copies`` stacked copies of a batch of n samples (copy-major order): an
    index or n indices tiled ``copies`` times, a list of n index tuples repeated; a callable, None
    or one index tuple is returned as it is."""
    if callable(target) or target is None or _is_index_tuple(target):
        return target
    if isinstance(target, list) and target and all(map(_is_index_tuple, target)):
        return target * copies
    t = np.asarray(target)
    if t.ndim > 1 or (t.ndim == 1 and len(t) not in (1, n)):
        raise ValueError(f"target: expected a class index or {n} indices (one per sample of x), got "
                         f"{len(t) if t.ndim == 1 else t.shape} of them: {target!r:.80}")
    return np.tile(np.broadcast_to(t, (n,)), copies)


def sample_target(target, n, i):
    """The target of sample i of a batch of n, for a batch made of copies of that sample alone."""
    if isinstance(target, list) and target and all(map(_is_index_tuple, target)):
        return target[i]
    if callable(target) or target is None or _is_index_tuple(target):
        return target
    return repeat_target(target, n, 1)[i]


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
    if not isinstance(A, Tensor) or A.ndim != 4:
        raise ValueError(f"layer: expected a layer with (N, K, h, w) outputs, got "
                         f"{getattr(A, 'shape', type(A).__name__)}")
    return s, A


def layer_tensor(acts, layer, attribute_to_layer_input):
    """The captured graph tensor of ``layer``: its output, or with ``attribute_to_layer_input`` the
    input it was called with (Captum's ``attribute_to_layer_input``). A ValueError naming ``layer``
    when it did not run, or when its input is not a tensor the scores depend on."""
    if layer not in acts:
        raise ValueError(f"layer: {type(layer).__name__} did not run in the model's forward pass")
    if not attribute_to_layer_input:
        A = acts[layer]
        if not isinstance(A, Tensor):
            raise ValueError(f"layer: {type(layer).__name__} returns {type(A).__name__}, not one tensor; attribute at a "
                             f"layer with one output (for a layer with several, at the module that makes each)")
        return A
    A = acts.inputs[layer]
    if not isinstance(A, Tensor) or not A.requires_grad:
        raise ValueError(f"layer: attribute_to_layer_input=True needs a layer called with a tensor that depends "
                         f"on x, got {type(A).__name__} as the input of {type(layer).__name__}")
    return A
