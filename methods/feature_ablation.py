"""Feature ablation: replace one group of input values by a baseline and record how much the
target's score drops (Captum's ``FeatureAblation``; occlusion is the case of square windows).

The machinery here is shared by every perturbation method that plays a *coalition game* on the
input (Shapley values, Shapley value sampling, KernelSHAP, LIME): the input's values are split
into M groups (``feature_mask``), a coalition S is a set of groups that keep x's values while
the others take the baseline's, and ``coalition_scores`` evaluates v(S) = score(x_S) for many
coalitions in batched forward passes.
"""
import numpy as np

from methods.inputs_and_targets import (as_batch, broadcast_baseline, copies_of, follow_batch, repeat_target,
                                        run_model, scores, unbatch)
from minigrad import Tensor, no_grad
from minigrad.argument_checks import integer


def feature_ablation(model, x, target, baselines=0.0, feature_mask=None, perturbations_per_eval=1,
                     additional_forward_args=None):
    """a_i = s(x) - s(x with feature group g(i) set to the baseline), for each input value i: every
    value of a group gets its group's drop (Captum's ``FeatureAblation``; Zeiler & Fergus 2014's
    occlusion with arbitrary groups instead of sliding windows).

    Parameters
    ----------
    x : (N, C, H, W), or one image (C, H, W)
    target : class index, one per sample, or callable(output) -> (N,)
    baselines : float or array broadcastable to x, the value an ablated feature takes (default 0)
    feature_mask : None (every input value its own feature, as Captum) or an integer array (H, W),
        (C, H, W) or (1, C, H, W) of group ids >= 0, the same for every sample; an (H, W) or
        (1, H, W) mask groups all channels of a pixel together
    perturbations_per_eval : ablated copies of the batch sent through the model at once (each
        forward pass holds perturbations_per_eval * N images)
    additional_forward_args : extra arguments of the model's forward, ``model(x, *args)``; an array
        with one row per sample follows its sample's copies (see ``inputs_and_targets.follow_batch``)

    Returns
    -------
    x's shape (no batch axis for a single image), x's dtype.
    """
    game = CoalitionGame(model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args)
    m = game.m

    def all_but_one(start, stop):
        keep = np.ones((stop - start, m), dtype=bool)
        keep[np.arange(stop - start), np.arange(start, stop)] = False
        return keep

    return game.attributions(game.full[:, None] - game.values(all_but_one, m))


class CoalitionGame:
    """The game v_n(S) = s_n(x_S) of a batch: x_S is x_n on the feature groups in S and the baseline
    elsewhere, s_n the target's score of sample n. Checks the arguments shared by every coalition
    method, and runs one forward pass of x (``full``, v(all groups)), which also checks the target
    before the many passes of the game.

    Attributes: x (N, C, H, W), baselines (N, C, H, W), groups (C, H, W) ints in [0, M), m (M),
    batch (coalitions per forward pass), full (N,) the scores of x."""

    def __init__(self, model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args):
        self.x, self.single = as_batch(x)
        self.batch = integer(perturbations_per_eval, "perturbations_per_eval", low=1)
        self.baselines = broadcast_baseline(baselines, self.x.shape, self.x.dtype, "baselines")
        self.groups, self.m = feature_groups(feature_mask, self.x.shape[1:])
        follow_batch(additional_forward_args, len(self.x), np.arange(len(self.x)))  # checks the args' rows
        self.model, self.target, self.args = model, target, additional_forward_args
        with no_grad():
            self.full = scores(run_model(model, Tensor(self.x), additional_forward_args), target).data

    def values(self, rows, total):
        """v (N, total) for the coalitions ``rows(start, stop)`` (boolean (p, M), or (N, p, M) per
        sample), perturbations_per_eval coalitions per forward pass."""
        chunks = in_chunks(rows, total, self.batch)
        return coalition_scores(self.model, self.x, self.baselines, self.groups, chunks, self.target, self.args)

    def attributions(self, phi):
        """One value per group and sample, (N, M), -> x's shape and dtype (no batch axis for one image)."""
        return unbatch(phi[:, self.groups].astype(self.x.dtype, copy=False), self.single)


def feature_groups(feature_mask, sample_shape, name="feature_mask"):
    """The group of every value of one sample: (groups, M), groups an int array of ``sample_shape``
    (C, H, W) with values 0..M-1, M the number of distinct ids in ``feature_mask``.

    None makes every value its own group (ids in row-major order, as Captum). Otherwise the mask is
    an integer array (H, W), (C, H, W), or either with leading axes of size 1, broadcast to
    ``sample_shape``. Ids need not be contiguous: group k is the k-th smallest id present (Captum
    keeps absent ids as features that change nothing; their Shapley value is 0, so the others'
    values are the same)."""
    if feature_mask is None:
        size = int(np.prod(sample_shape))
        return np.arange(size).reshape(sample_shape), size
    mask = _integer_array(feature_mask, name)
    while mask.ndim > len(sample_shape) and mask.shape[0] == 1:
        mask = mask[0]
    if mask.size == 0 or mask.ndim < 2:
        raise ValueError(f"{name}: expected an integer array (H, W) or (C, H, W) for samples of shape "
                         f"{tuple(sample_shape)}, got shape {mask.shape}")
    try:
        mask = np.broadcast_to(mask, sample_shape)
    except ValueError:
        raise ValueError(f"{name}: expected an array broadcastable to one sample's shape {tuple(sample_shape)}, "
                         f"(H, W) or (C, H, W), got shape {mask.shape}") from None
    if mask.min() < 0:
        raise ValueError(f"{name}: expected feature ids >= 0, got {mask.min()}")
    ids, groups = np.unique(mask, return_inverse=True)
    return groups.reshape(sample_shape), len(ids)


def _integer_array(value, name):
    """``value`` as an integer ndarray (bools too); a TypeError naming ``name`` for anything else."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:  # ragged lists
        raise TypeError(f"{name}: expected an integer array of feature ids, got {type(value).__name__} ({e})") from None
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name}: expected an integer array of feature ids, got {type(value).__name__} of dtype "
                        f"{arr.dtype}")
    return arr


def in_chunks(rows, total, size):
    """``rows(start, stop)`` for consecutive ranges of ``size`` (the last one shorter) covering
    0..total-1: the coalitions of one forward pass at a time, never all of them in memory."""
    for start in range(0, total, size):
        yield rows(start, min(start + size, total))


def coalition_scores(model, x, baselines, groups, coalitions, target, additional_forward_args=None):
    """v_n(S) = s_n(x_S), x_S = x_n on the groups in S and the baseline elsewhere, for every sample n
    and every coalition S, in one forward pass per chunk.

    x, baselines : (N, C, H, W); groups : (C, H, W) ints in [0, M) (``feature_groups``)
    coalitions : an iterable of boolean chunks, each (p, M), the same coalitions for every sample,
        or (N, p, M), one set per sample; True = the group keeps x's values. A chunk is one forward
        pass of p * N images, copy-major (Captum's order: copy 0 of every sample, then copy 1, ...).

    Returns (N, S), S the number of coalitions in all chunks."""
    n = len(x)
    columns = []
    with no_grad():
        for keep in coalitions:
            keep = np.broadcast_to(keep, (n,) + keep.shape[-2:])
            p = keep.shape[1]
            images = np.where(keep[:, :, groups], x[:, None], baselines[:, None])  # (N, p, C, H, W)
            images = images.swapaxes(0, 1).reshape((p * n,) + x.shape[1:])
            rows = copies_of(n, p)
            out = run_model(model, Tensor(images), follow_batch(additional_forward_args, n, rows))
            columns.append(scores(out, repeat_target(target, n, p)).data.reshape(p, n).T)
    return np.concatenate(columns, axis=1)

