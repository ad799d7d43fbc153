"""Receptive fields from kernel/stride/padding arithmetic, and the input patches that excite a
unit most (Girshick et al. 2014; Zeiler & Fergus 2014, fig. 2)."""
import numpy as np

from layers import AvgPool2d, Conv2d, MaxPool2d
from methods.feature_maps import activations
from methods.inputs_and_targets import as_batch
from minigrad.argument_checks import integer


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
    xb, _ = as_batch(data, "data")
    k = integer(k, "k", low=1)
    A = activations(model, xb, layer, batch_size)
    if A.ndim != 4:
        raise ValueError(f"layer: expected (N, K, h, w) outputs, got shape {A.shape}")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < A.shape[1]:
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
