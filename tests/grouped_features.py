"""The toy game the Shapley and surrogate-model tests share: a 2 x 3 x 6 x 6 input whose pixels
fall in 5 groups, the per-group view of attributions, and the relative error they are compared by."""
import numpy as np


def random_input(shape=(2, 3, 6, 6), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def five_groups():
    """An (H, W) mask of 5 groups over a 6 x 6 image: the quadrants, with a 2 x 2 corner split off."""
    mask = 2 * (np.arange(6)[:, None] >= 3) + (np.arange(6)[None, :] >= 3)
    mask[:2, :2] = 4
    return mask


def per_group(attributions, mask):
    """(N, C, H, W) attributions constant on each group of an (H, W) mask -> (N, M) one value per group."""
    return np.stack([attributions[:, 0][:, mask == g][:, 0] for g in range(mask.max() + 1)], axis=1)


def relative_error(ours, theirs):
    return np.abs(ours - theirs).max() / np.abs(theirs).max()
