"""Shapley values of the input's feature groups (Shapley 1953; for attribution, Strumbelj & Kononenko
2010 and Castro et al. 2009): the game is v(S) = s(x_S), the target's score when the groups in S
keep x's values and the others the baseline's (``feature_ablation.coalition_scores``).

    phi_i = sum over S not containing i of |S|! (M - |S| - 1)! / M! * (v(S + i) - v(S))

is the mean, over all M! orders of adding the groups to the baseline, of the score's change when
group i is added. ``shapley_values`` computes it exactly from the 2^M coalitions, and
``shapley_value_sampling`` averages it over a sample of orders (Castro et al. 2009).
"""
import math

import numpy as np

from methods.feature_ablation import CoalitionGame
from minigrad.argument_checks import integer, rng

#: exact Shapley values evaluate 2^M coalitions: 2^16 = 65536 forward passes of the batch at most
MAX_EXACT_FEATURES = 16


def shapley_values(model, x, target, baselines=0.0, feature_mask=None, perturbations_per_eval=1,
                   additional_forward_args=None):
    """Exact Shapley values of the feature groups (Shapley 1953; the module's formula), from all 2^M coalitions;
    every input value gets its group's value. Captum's ``ShapleyValues`` averages over all M!
    orders instead (M * M! forward passes for the same numbers).

    Efficiency: the values of a sample sum to s(x) - s(baseline).

    Parameters
    ----------
    x : (N, C, H, W), or one image (C, H, W)
    target : class index, one per sample, or callable(output) -> (N,)
    baselines : float or array broadcastable to x (default 0)
    feature_mask : None (every input value its own feature) or an integer array (H, W) or (C, H, W)
        of group ids (see ``feature_ablation.feature_groups``); at most ``MAX_EXACT_FEATURES``
        groups (16: 65536 coalitions)
    perturbations_per_eval : coalitions per forward pass (each holds perturbations_per_eval * N images)
    additional_forward_args : extra arguments of the model's forward (as ``feature_ablation``)

    Returns
    -------
    x's shape (no batch axis for a single image), x's dtype.
    """
    game = CoalitionGame(model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args)
    m = game.m
    if m > MAX_EXACT_FEATURES:
        raise ValueError(f"feature_mask: exact Shapley values evaluate all 2^M coalitions of the M feature groups, "
                         f"so M may be at most {MAX_EXACT_FEATURES}; got M = {m} (feature_mask=None makes every "
                         f"input value a feature); group values with a coarser feature_mask, or use "
                         f"shapley_value_sampling")
    members = _coalitions(m)
    return game.attributions(_shapley_from_coalitions(game.values(lambda a, b: members[a:b], 2 ** m), m))


def shapley_value_sampling(model, x, target, baselines=0.0, feature_mask=None, n_samples=25,
                           perturbations_per_eval=1, seed=None, permutations=None, additional_forward_args=None):
    """phi_i ~ mean over K random orders pi of v(groups before i in pi, and i) - v(groups before i)
    (Castro et al. 2009, ApproShapley; Captum's ``ShapleyValueSampling``, K = n_samples = 25).
    Unbiased; each order costs M forward passes, and the values of a sample still sum exactly to
    s(x) - s(baseline) for every K.

    Parameters
    ----------
    x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args :
        as ``shapley_values`` (any number of groups)
    n_samples : the number K of random orders (permutations of the M groups)
    seed : None, an int >= 0 or a numpy Generator, for the orders
    permutations : an int array (K, M) of orders to use instead of random ones (then n_samples
        and seed are not used), each row a permutation of 0..M-1, group k being the k-th smallest
        id of feature_mask: the same orders give Captum's numbers

    Returns
    -------
    x's shape (no batch axis for a single image), x's dtype.
    """
    game = CoalitionGame(model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args)
    m = game.m
    if permutations is None:
        n_samples = integer(n_samples, "n_samples", low=1)
        draw = rng(seed)
        orders = np.array([draw.permutation(m) for _ in range(n_samples)]).reshape(n_samples, m)
    else:
        orders = _checked_permutations(permutations, m)
    k = len(orders)
    rank = np.argsort(orders, axis=1)  # rank[j, i]: the step at which order j adds group i

    def prefixes(start, stop):  # row r = j * M + t: the first t + 1 groups of order j
        j, t = np.divmod(np.arange(start, stop), m)
        return rank[j] <= t[:, None]

    n = len(game.x)
    empty = game.values(lambda a, b: np.zeros((b - a, m), dtype=bool), 1)  # v(no group): the baseline's score
    values = game.values(prefixes, k * m).reshape(n, k, m)
    steps = np.diff(values, axis=2, prepend=np.broadcast_to(empty[:, :, None], (n, k, 1)))
    return game.attributions(np.take_along_axis(steps, rank[None], axis=2).mean(axis=1))  # each group's own step


def _shapley_from_coalitions(values, m):
    """phi (N, M) from v (N, 2^M), v[:, c] the value of the coalition whose members are the set bits
    of c (group i is bit i): the module's formula, weight |S|! (M - |S| - 1)! / M! = 1 / (M C(M-1, |S|))."""
    codes = np.arange(2 ** m)
    sizes = _coalitions(m).sum(axis=1)
    weight = np.array([1.0 / (m * math.comb(m - 1, s)) if s < m else 0.0 for s in range(m + 1)])
    phi = np.empty((len(values), m))
    for i in range(m):
        without = codes[(codes >> i) & 1 == 0]
        phi[:, i] = (values[:, without | (1 << i)] - values[:, without]) @ weight[sizes[without]]
    return phi


def _coalitions(m):
    """All 2^M coalitions as booleans (2^M, M): row c holds the bits of c (group i = bit i)."""
    return (np.arange(2 ** m)[:, None] >> np.arange(m)) & 1 == 1


def _checked_permutations(permutations, m):
    orders = np.asarray(permutations)
    if orders.dtype.kind not in "iu" or orders.ndim != 2 or orders.shape[1] != m or len(orders) == 0:
        raise ValueError(f"permutations: expected an int array (K, M) with M = {m} feature groups and K >= 1, "
                         f"got {orders.dtype} of shape {orders.shape}")
    if not (np.sort(orders, axis=1) == np.arange(m)).all():
        raise ValueError(f"permutations: every row must be a permutation of 0..{m - 1}")
    return orders
