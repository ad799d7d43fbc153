"""How alike two images are as textures, measured rather than eyeballed: the distance between their
Gram matrices through a network (the statistics Gatys et al. 2015 match), and the overlap of their
colour histograms (Swain & Ballard 1991), which no network choice can flatter.

Both are plain NumPy numbers for checking a synthesis; the differentiable losses that drive one
are ``methods.objectives.style_loss`` and ``gram_matrix``.
"""
import numpy as np

from methods.feature_maps import activations
from methods.inputs_and_targets import as_batch
from methods.objectives import gram_matrix


def gram_distance(model, x, reference, layers):
    """sum_l ||G_l(x) - G_l(r)||_F / ||G_l(r)||_F: the relative Frobenius distance between the Gram
    matrices G = F F^T / (C H W) (``gram_matrix``) of ``layers`` for image x and for the reference r,
    summed over layers. 0 for x = r; scale-free per layer, so no layer dominates by its activation size.

    Measure it through a network other than the one a synthesis optimised: a small distance there
    says the image has the texture's statistics, not only the ones it was fitted to.
    x, reference: (C, H, W) images (sizes may differ: Gram matrices are C x C) -> float.
    """
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not layers:
        raise ValueError("layers: expected at least one layer, got none")
    params = model.parameters()
    dtype = params[0].dtype if params else np.float64
    fx, fr = (activations(model, as_batch(img, name)[0].astype(dtype), layers)
              for img, name in ((x, "x"), (reference, "reference")))
    total = 0.0
    for m in layers:
        G, R = (gram_matrix(f[m].astype(np.float64)).data[0] for f in (fx, fr))
        total += np.linalg.norm(G - R) / max(np.linalg.norm(R), 1e-30)
    return float(total)


def colour_histogram_intersection(x, reference, bins=16):
    """(1/C) sum_c sum_b min(p_cb, q_cb): histogram intersection (Swain & Ballard 1991) of each
    channel's ``bins``-bin histogram over [0, 1] (values outside are clipped into the end bins),
    each normalised to sum 1, averaged over the C channels.

    1 when every channel's values fall in the same bins in the same proportions; 0 when no bin is
    shared. Per channel, not joint: a 16^3-bin joint histogram would be mostly empty bins on a few
    thousand pixels. x, reference: (C, H, W) with the same C (sizes may differ) -> float in [0, 1].
    """
    x, r = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if x.ndim != 3 or r.ndim != 3 or x.shape[0] != r.shape[0]:
        raise ValueError(f"x, reference: expected (C, H, W) images with the same C, got {x.shape} and {r.shape}")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins: expected an int >= 1, got {bins!r}")

    def histograms(img):
        idx = np.clip((img.reshape(img.shape[0], -1) * bins).astype(int), 0, bins - 1)
        counts = np.stack([np.bincount(row, minlength=bins) for row in idx])
        return counts / counts.sum(axis=1, keepdims=True)
    return float(np.minimum(histograms(x), histograms(r)).sum(axis=1).mean())
