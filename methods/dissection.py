"""Network dissection (Bau et al. 2017): which human concept does each unit detect?

Per unit k of a layer: a threshold T_k at the top ``quantile`` of its activations over the data
set; each map upsampled to the masks' size and thresholded, M_k = [S_k > T_k]; then, over the
data set, IoU_{k,c} = sum |M_k and L_c| / sum |M_k or L_c| against every concept's masks L_c.
The comparison is strict so that a unit that is constant over the data set (a dead ReLU, whose
T_k is 0) selects nothing, instead of every pixel.
A unit is a detector of its best concept when that IoU reaches ``iou_threshold``.
"""
import numpy as np

from methods.feature_maps import activations
from methods.inputs_and_targets import as_batch, check_layer
from methods.upsample import bilinear_resize


def concept_masks(masks, labels, num_concepts):
    """Per-class object masks as concepts: (N, H, W) masks and (N,) labels -> (N, num_concepts, H, W),
    where concept c holds image n's mask when labels[n] == c and nothing otherwise."""
    masks, labels = np.asarray(masks, dtype=bool), np.asarray(labels)
    if masks.ndim != 3 or labels.shape != (len(masks),):
        raise ValueError(f"masks, labels: expected (N, H, W) and (N,), got {masks.shape} and {labels.shape}")
    out = np.zeros((len(masks), num_concepts) + masks.shape[1:], dtype=bool)
    out[np.arange(len(masks)), labels] = masks
    return out


def dissection(model, layer, images, masks, quantile=0.995, iou_threshold=0.04, batch_size=64):
    """Each unit's best concept and IoU (Bau et al. 2017, eqs. 1-2).

    images : (N, C, H, W); masks : bool (N, K, Hm, Wm) for K concepts (or (N, Hm, Wm) for one)
    quantile : the activation quantile that sets each unit's threshold (0.995: the top 0.5%)

    Returns a dict: 'concept' (units,) best concept index, 'iou' (units,) its IoU, 'iou_matrix'
    (units, K), 'threshold' (units,), 'detector' (units,) bool, 'ranking' units by IoU, best first.
    """
    check_layer(model, layer)
    xb, _ = as_batch(images, "images")
    masks = np.asarray(masks)
    if masks.dtype != bool:
        raise TypeError(f"masks: expected a boolean array, got dtype {masks.dtype}")
    masks = masks[:, None] if masks.ndim == 3 else masks
    if masks.ndim != 4 or len(masks) != len(xb):
        raise ValueError(f"masks: expected (N, K, H, W) with N = {len(xb)} images, got shape {masks.shape}")
    if not np.isscalar(quantile) or not 0 < quantile < 1:
        raise ValueError(f"quantile: expected a number in (0, 1), got {quantile!r}")
    A = activations(model, xb, layer, batch_size)
    if A.ndim != 4:
        raise ValueError(f"layer: expected (N, units, h, w) outputs, got shape {A.shape}")
    units = A.shape[1]
    threshold = np.quantile(np.moveaxis(A, 1, 0).reshape(units, -1), quantile, axis=1)
    inter = np.zeros((units, masks.shape[1]))
    union = np.zeros_like(inter)
    # float32 counts are exact below 2^24 (a batch holds at most batch_size * H * W pixels); the
    # totals are kept in float64. float64 masks would take 230 MB for 600 images, 21 concepts, 48x48
    L = masks.reshape(len(masks), masks.shape[1], -1).astype(np.float32)
    for i in range(0, len(xb), batch_size):
        up = bilinear_resize(A[i:i + batch_size], masks.shape[2:])
        M = (up > threshold[None, :, None, None]).reshape(len(up), units, -1).astype(np.float32)
        Li = L[i:i + batch_size]
        both = np.einsum("nkp,ncp->kc", M, Li).astype(np.float64)
        inter += both
        union += M.sum(axis=(0, 2))[:, None] + Li.sum(axis=(0, 2))[None, :] - both
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    best = iou.argmax(axis=1)
    best_iou = iou[np.arange(units), best]
    return {"concept": best, "iou": best_iou, "iou_matrix": iou, "threshold": threshold,
            "detector": best_iou >= iou_threshold, "ranking": np.argsort(-best_iou, kind="stable")}
