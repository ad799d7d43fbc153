"""Occlusion sensitivity (Zeiler & Fergus 2014, sec. 4.2): slide a patch of ``baseline`` over the
image and record how much the target's score drops."""
import numpy as np

from methods.inputs_and_targets import (as_batch, broadcast_baseline, follow_batch, repeat_target, run_model,
                                        scores, unbatch)
from minigrad.argument_checks import integer
from minigrad import Tensor, no_grad
from minigrad.ops.sliding_window import pair


def occlusion(model, x, target, window, stride=1, baseline=0.0, batch_size=32, additional_forward_args=None):
    """Each pixel gets the mean drop s(x) - s(x with the window set to baseline) over the windows
    covering it (Captum's convention); the window spans all channels.

    Parameters
    ----------
    x : (N, C, H, W) or (C, H, W)
    target : class index, one per sample, or callable(output) -> (N,) (any unit of any layer)
    window, stride : int or (h, w); windows start at multiples of the stride, the last ones
        clipped at the border. The stride may not exceed the window along an axis the window
        does not span (pixels between windows would never be occluded; Captum refuses it too).
    baseline : float or array broadcastable to (C, H, W)
    batch_size : occluded copies sent through the network at once
    additional_forward_args : extra arguments of the model's forward, ``model(x, *args)`` (Captum's).
        An array with one row per sample follows the occluded copies of its sample (Captum expands
        it the same way, ``_expand_additional_forward_args``); one without N rows is refused (see
        ``methods.inputs_and_targets.follow_batch``).

    Returns
    -------
    (N, H, W) (no batch axis for a single image).
    """
    xb, single = as_batch(x)
    N, C, H, W = xb.shape
    wh, ww = pair(window, "window", 1)
    sh, sw = pair(stride, "stride", 1)
    batch_size = integer(batch_size, "batch_size", low=1)
    if wh > H or ww > W:
        raise ValueError(f"window: {wh}x{ww} is larger than the image {H}x{W}")
    if (sh > wh and wh < H) or (sw > ww and ww < W):
        # the gaps between windows would be covered by none (0 / 0 below) and the last window
        # would start past the border
        raise ValueError(f"stride: expected at most the window {wh}x{ww} along each axis the window does not "
                         f"span (the image is {H}x{W}), got {sh}x{sw}: pixels between windows would never be occluded")
    base = broadcast_baseline(baseline, (C, H, W), xb.dtype)
    # as Captum: ceil((H - wh) / sh) + 1 window positions per axis, the last one clipped at the
    # border, so that every pixel is covered
    rows = [k * sh for k in range(-(-(H - wh) // sh) + 1)]
    cols = [k * sw for k in range(-(-(W - ww) // sw) + 1)]
    starts = [(i, j) for i in rows for j in cols]
    total = np.zeros((N, H, W))
    count = np.zeros((H, W))
    for i, j in starts:
        count[i:i + wh, j:j + ww] += 1
    follow_batch(additional_forward_args, N, np.arange(N))  # checks the args' rows, before any work
    with no_grad():
        # also checks the target, before any work
        references = scores(run_model(model, Tensor(xb), additional_forward_args), target).data
        for n in range(N):
            t = target if callable(target) else repeat_target(target, N, 1)[n]
            reference = references[n]
            for k in range(0, len(starts), batch_size):
                chunk = starts[k:k + batch_size]
                batch = np.repeat(xb[n:n + 1], len(chunk), axis=0)
                for b, (i, j) in enumerate(chunk):
                    batch[b, :, i:i + wh, j:j + ww] = base[:, i:i + wh, j:j + ww]
                args = follow_batch(additional_forward_args, N, np.full(len(chunk), n))
                out = run_model(model, Tensor(batch), args)
                drop = reference - scores(out, repeat_target(t, 1, len(chunk))).data
                for b, (i, j) in enumerate(chunk):
                    total[n, i:i + wh, j:j + ww] += drop[b]
    result = (total / count).astype(xb.dtype)
    return unbatch(result, single)

