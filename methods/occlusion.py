"""Occlusion sensitivity (Zeiler & Fergus 2014, sec. 4.2): slide a patch of ``baseline`` over the
image and record how much the target's score drops."""
import itertools

import numpy as np

from methods.inputs_and_targets import (Inputs, broadcast_baseline, follow_batch, repeat_target, run_model,
                                        sample_target, scores)
from minigrad.argument_checks import integer
from minigrad import Tensor, no_grad


def occlusion(model, x, target, window, stride=1, baseline=0.0, batch_size=32, additional_forward_args=None):
    """Each value gets the mean drop s(x) - s(x with the window set to baseline) over the windows
    covering it (Captum's convention).

    Parameters
    ----------
    x : (N, C, H, W) or (C, H, W), or Captum's tuple of inputs, each (N, ...)
    target : class index, one per sample, or callable(output) -> (N,) (any unit of any layer)
    window : for an image batch, (h, w) (or an int): the window spans all channels and the result
        is one map per sample, (N, H, W); or (c, h, w), Captum's ``sliding_window_shapes``, with a
        result of x's shape. For a tuple of inputs, a tuple of one window per input, each with one
        entry per axis after the batch (Captum's form); each input is occluded in turn, the others
        kept as they are, and the result is a tuple of x's shapes.
    stride : an int, or one per window axis (per input for a tuple of inputs: an int or a tuple
        each). Windows start at multiples of the stride, the last ones clipped at the border. The
        stride may not exceed the window along an axis the window does not span (values between
        windows would never be occluded; Captum refuses it too).
    baseline : float or array broadcastable to x (one value per sample allowed); for a tuple of
        inputs one per input, or one number for all
    batch_size : occluded copies sent through the network at once (Captum's ``perturbations_per_eval``)
    additional_forward_args : extra arguments of the model's forward, ``model(x, *args)`` (Captum's).
        An array with one row per sample follows the occluded copies of its sample (Captum expands
        it the same way, ``_expand_additional_forward_args``); one without N rows is refused (see
        ``methods.inputs_and_targets.follow_batch``).

    Returns
    -------
    (N, H, W) for an (h, w) window (no batch axis for a single image), x's shape otherwise.
    """
    inputs = Inputs(x)
    batch_size = integer(batch_size, "batch_size", low=1)
    if inputs.is_tuple and (not isinstance(window, tuple) or len(window) != len(inputs.arrays)):
        raise ValueError(f"window: for a tuple of {len(inputs.arrays)} inputs, expected a tuple of one window "
                         f"per input, got {window!r}")
    windows = list(window) if inputs.is_tuple else [window]
    strides = inputs.per_input(stride, "stride") if inputs.is_tuple else [stride]
    spans_channels = not inputs.is_tuple and np.ndim(window) <= 1 and np.size(window) in (1, 2)
    plans = [_windows(a, w, s, spans_channels, _name("window", inputs, i), _name("stride", inputs, i))
             for i, (a, w, s) in enumerate(zip(inputs.arrays, windows, strides))]
    bases = [broadcast_baseline(b, a.shape, a.dtype, _name("baseline", inputs, i))
             for i, (a, b) in enumerate(zip(inputs.arrays, inputs.per_input(baseline, "baseline")))]
    n = inputs.n
    follow_batch(additional_forward_args, n, np.arange(n))  # checks the args' rows, before any work
    with no_grad():
        # also checks the target, before any work
        references = scores(run_model(model, inputs.tensors(False), additional_forward_args), target).data
        results = [_occlude(model, inputs, i, regions, bases[i], references, target, batch_size,
                            additional_forward_args) for i, regions in enumerate(plans)]
    if spans_channels:
        results = [results[0][:, 0]]  # every channel got the same drops
    return inputs.restore(results)


def _name(argument, inputs, i):
    return f"{argument}[{i}]" if inputs.is_tuple else argument


def _windows(a, window, stride, spans_channels, window_name, stride_name):
    """The windows over one sample of ``a`` (N, *S), as tuples of slices into S: ceil((S - w) / s) + 1
    positions per axis (as Captum), the last one clipped at the border so that every value is covered."""
    shape = a.shape[1:]
    if spans_channels:  # an (h, w) window over an image batch: the full depth, stride 1 along channels
        if a.ndim != 4:
            raise ValueError(f"{window_name}: an (h, w) window needs an image batch (N, C, H, W), got {a.shape}")
        window = (shape[0],) + _ints(window, 2, window_name)
        stride = (1,) + _ints(stride, 2, stride_name)
    else:
        window, stride = _ints(window, len(shape), window_name), _ints(stride, len(shape), stride_name)
    if any(w > size for w, size in zip(window, shape)):
        raise ValueError(f"{window_name}: the window {window} is larger than the input {shape}")
    if any(s > w and w < size for s, w, size in zip(stride, window, shape)):
        # the gaps between windows would be covered by none (0 / 0) and the last window would
        # start past the border
        raise ValueError(f"{stride_name}: expected at most the window {window} along each axis the window does "
                         f"not span (the input is {shape}), got {stride}: values between windows would never "
                         f"be occluded")
    starts = [range(0, -(-(size - w) // s) * s + 1, s) for size, w, s in zip(shape, window, stride)]
    return [tuple(slice(i, i + w) for i, w in zip(corner, window)) for corner in itertools.product(*starts)]


def _ints(value, k, name):
    """An int (repeated k times) or a tuple/list of k ints, each >= 1."""
    if isinstance(value, (tuple, list)):
        if len(value) != k:
            raise ValueError(f"{name}: expected {k} entries, one per axis after the batch, got {value!r}")
        return tuple(integer(v, name, low=1) for v in value)
    return (integer(value, name, low=1),) * k


def _occlude(model, inputs, i, regions, base, references, target, batch_size, additional_forward_args):
    """The mean drop of the score at every value of input i, over the windows ``regions``."""
    a = inputs.arrays[i]
    n = inputs.n
    total = np.zeros(a.shape)
    count = np.zeros(a.shape[1:])
    for region in regions:
        count[region] += 1
    for m in range(n):
        t = sample_target(target, n, m)
        for k in range(0, len(regions), batch_size):
            chunk = regions[k:k + batch_size]
            batch = [np.repeat(b[m:m + 1], len(chunk), axis=0) for b in inputs.arrays]
            for c, region in enumerate(chunk):
                batch[i][(c,) + region] = base[(m,) + region]
            args = follow_batch(additional_forward_args, n, np.full(len(chunk), m))
            out = run_model(model, [Tensor(b) for b in batch], args)
            drop = references[m] - scores(out, repeat_target(t, 1, len(chunk))).data
            for c, region in enumerate(chunk):
                total[(m,) + region] += drop[c]
    return (total / count).astype(a.dtype)
