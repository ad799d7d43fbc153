"""How well attribution maps localise the object: the pointing game (Zhang et al. 2016) and the
share of positive attribution that falls inside the ground-truth mask."""
import numpy as np

from minigrad.argument_checks import real_array


def localization_score(maps, masks):
    """Score maps (N, H, W) (or attributions (N, C, H, W), summed over channels) against boolean
    object masks (N, H, W), e.g. those of ``demos.shapes.make_shapes``.

    Returns a dict of (N,) arrays: 'pointing_hit' (the map's maximum lies inside the mask; ties:
    the first in row-major order) and 'energy_inside' (sum of max(map, 0) inside the mask over the
    total; 0 for a map with no positive value).
    """
    maps = real_array(maps, "maps").astype(np.float64)
    masks = np.asarray(masks)
    if maps.ndim == 4:
        maps = maps.sum(axis=1)
    if maps.ndim != 3 or masks.shape != maps.shape:
        raise ValueError(f"maps, masks: expected (N, H, W) maps (or (N, C, H, W)) and masks of the same "
                         f"(N, H, W) shape, got {maps.shape} and {masks.shape}")
    if masks.dtype != bool:
        raise TypeError(f"masks: expected a boolean array, got dtype {masks.dtype}")
    if not np.all(np.isfinite(maps)):
        raise ValueError("maps: contain NaN or inf")
    n = len(maps)
    flat = maps.reshape(n, -1)
    hit = masks.reshape(n, -1)[np.arange(n), flat.argmax(axis=1)]
    positive = np.maximum(flat, 0)
    total = positive.sum(axis=1)
    inside = (positive * masks.reshape(n, -1)).sum(axis=1)
    energy = np.divide(inside, total, out=np.zeros(n), where=total > 0)
    return {"pointing_hit": hit, "energy_inside": energy}
