"""Surrogate-model attributions: evaluate the game v(S) = s(x_S) (``feature_ablation.CoalitionGame``)
on sampled coalitions S, each a 0/1 vector z over the M feature groups, and fit a weighted linear
model v(z) ~ phi_0 + sum_i phi_i z_i; the phi_i are the attributions. The two methods differ in
how they draw z, how they weight it, and how they fit:

- LIME (Ribeiro et al. 2016, eq. 1-2): z uniform, weight exp(-d(x, x_z)^2 / (2 width^2)), a
  weighted Lasso (Captum's ``Lime``: cosine distance, width 1, Lasso alpha 0.01).
- KernelSHAP (Lundberg & Lee 2017, Theorem 2): the Shapley kernel
  pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|)), infinite for the empty and the full coalition,
  i.e. the fit must satisfy phi_0 = v(empty) and sum_i phi_i = v(full) - v(empty). Then the
  weighted least squares over all 2^M coalitions is exactly the Shapley values.

Both share one loop, ``_fit_per_sample``: draw each sample's coalitions, evaluate them all in
batched forward passes, fit one linear model per sample (Captum fits one per sample too).
"""
import math

import numpy as np
from numba import njit

from methods.feature_ablation import CoalitionGame
from minigrad.argument_checks import integer, number, one_of, rng

#: the Lasso's stopping tolerance (scikit-learn's ``tol``, relative; its default is 1e-4)
LASSO_TOL = 1e-10


def kernel_shap(model, x, target, baselines=0.0, feature_mask=None, n_samples=25, perturbations_per_eval=1,
                seed=None, coalitions=None, additional_forward_args=None):
    """phi = argmin sum_z pi(z) (v(z) - phi_0 - sum_i phi_i z_i)^2 subject to phi_0 = v(empty) and
    sum_i phi_i = v(full) - v(empty) (Lundberg & Lee 2017, Theorem 2: the Shapley kernel pi of the
    module docstring), every input value getting its group's phi_i.

    As Captum's ``KernelShap``, the n_samples coalitions are the full one, the empty one, then
    n_samples - 2 drawn with probability proportional to pi: a size k in 1..M-1 with probability
    proportional to (M - 1) / (k (M - k)), then k groups uniformly; drawn so, each gets weight 1.
    Where Captum gives the full and empty coalitions weight 10^6 in an unconstrained fit, they are
    exact constraints here (the paper's infinite weight), so a sample's values always sum exactly
    to s(x) - s(baseline). When the fit is underdetermined (fewer coalitions than groups), the
    least-norm phi is returned.

    Parameters
    ----------
    x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args :
        as ``feature_ablation``
    n_samples : coalitions per sample, >= 2, the full and the empty one included (Captum's 25)
    seed : None, an int >= 0 or a numpy Generator, for the coalitions
    coalitions : a 0/1 array (S, M) of coalitions to evaluate instead of sampled ones (the same
        for every sample; n_samples and seed are then not used), group k being the k-th smallest
        id of feature_mask. They are taken as an enumeration, not a sample: each is weighted by
        pi(z) itself, so all 2^M coalitions give the exact Shapley values.

    Returns
    -------
    x's shape (no batch axis for a single image), x's dtype.
    """
    game = CoalitionGame(model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args)
    m = game.m
    ends = np.array([[True] * m, [False] * m])  # the full and the empty coalition, first as in Captum
    if coalitions is None:
        n_samples = integer(n_samples, "n_samples", low=2)
        draw = rng(seed)

        def coalitions_of(_):
            return np.concatenate([ends, _shapley_kernel_sample(draw, m, n_samples - 2)])

        def weights_of(z):
            return np.ones(len(z))
    else:
        given = np.concatenate([ends, _checked_coalitions(coalitions, m)])

        def coalitions_of(_):
            return given

        def weights_of(z):
            return _shapley_kernel(m, z.sum(axis=1))

    def fit(z, v, _sample):
        return _constrained_least_squares(z, v, weights_of(z))

    return _fit_per_sample(game, coalitions_of, fit)


def lime(model, x, target, baselines=0.0, feature_mask=None, n_samples=25, perturbations_per_eval=1,
         kernel_width=1.0, distance_mode="cosine", alpha=0.01, seed=None, coalitions=None,
         additional_forward_args=None):
    """phi = argmin sum_z w(z) (v(z) - phi_0 - sum_i phi_i z_i)^2 / (2 sum_z w(z)) + alpha ||phi||_1,
    w(z) = exp(-d(x, x_z)^2 / (2 kernel_width^2)) (Ribeiro et al. 2016, eq. 1-2, with Captum's
    ``Lime`` defaults: z uniform over {0, 1}^M, cosine distance d = 1 - cos(x, x_z) between the
    flattened sample and its perturbed copy, kernel_width 1, and scikit-learn's ``Lasso`` objective
    with alpha 0.01; alpha = 0 is weighted least squares, the least-norm solution when there are
    fewer coalitions than groups). Every input value gets its group's phi_i.

    Parameters
    ----------
    x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args :
        as ``feature_ablation`` (baselines: the value a group takes when it is left out)
    n_samples : coalitions drawn per sample (Captum's 25)
    kernel_width : the width of the exponential similarity kernel, > 0
    distance_mode : 'cosine' (1 - cosine similarity) or 'euclidean' (||x - x_z||), as Captum
    alpha : the L1 penalty, >= 0 (Captum: ``SkLearnLasso(alpha=0.01)``)
    seed : None, an int >= 0 or a numpy Generator, for the coalitions
    coalitions : a 0/1 array (S, M) of coalitions to use instead of random ones, the same for every
        sample (n_samples and seed are then not used); LIME's draws are uniform, so they are
        weighted by the same kernel

    Returns
    -------
    x's shape (no batch axis for a single image), x's dtype.
    """
    kernel_width = number(kernel_width, "kernel_width", low=0, low_open=True)
    one_of(distance_mode, "distance_mode", ("cosine", "euclidean"))
    alpha = number(alpha, "alpha", low=0)
    game = CoalitionGame(model, x, target, baselines, feature_mask, perturbations_per_eval, additional_forward_args)
    m = game.m
    if coalitions is None:
        n_samples = integer(n_samples, "n_samples", low=1)
        draw = rng(seed)

        def coalitions_of(_):
            return draw.random((n_samples, m)) < 0.5  # each group kept with probability 1/2 (Captum)
    else:
        given = _checked_coalitions(coalitions, m)

        def coalitions_of(_):
            return given

    def fit(z, v, sample):
        weights = np.exp(-_distances(game, sample, z, distance_mode) ** 2 / (2 * kernel_width ** 2))
        if not weights.sum() > 0:
            raise ValueError(f"kernel_width: every similarity weight of sample {sample} is 0 (exp(-d^2 / (2 "
                             f"kernel_width^2)) underflows for the distances d of its coalitions, {distance_mode} "
                             f"distance); take a larger kernel_width than {kernel_width:g}")
        return _weighted_lasso(z, v, weights, alpha)

    return _fit_per_sample(game, coalitions_of, fit)


def _fit_per_sample(game, coalitions_of, fit):
    """The loop both methods share: coalitions_of(n) -> (S, M) booleans for sample n; all samples'
    coalitions evaluated together, perturbations_per_eval of each per forward pass; then
    fit(z (S, M), v (S,), n) -> phi (M,) for each sample n. Returns x's shape."""
    n = len(game.x)
    z = np.stack([coalitions_of(i) for i in range(n)])  # (N, S, M)
    v = game.values(lambda start, stop: z[:, start:stop], z.shape[1])
    return game.attributions(np.stack([fit(z[i], v[i], i) for i in range(n)]))


def _shapley_kernel(m, sizes):
    """pi(M, s) = (M - 1) / (C(M, s) s (M - s)) for coalition sizes 0 < s < M (inf at 0 and M)."""
    return np.array([(m - 1) / (math.comb(m, s) * s * (m - s)) if 0 < s < m else np.inf for s in sizes])


def _shapley_kernel_sample(draw, m, count):
    """``count`` coalitions drawn as Captum's KernelShap: a size k in 1..M-1 with probability
    proportional to (M - 1) / (k (M - k)) (the Shapley kernel summed over the C(M, k) coalitions of
    size k), then k of the M groups uniformly. (count, M) booleans."""
    if m == 1:  # no size strictly between 0 and M: the constraints alone fix phi
        return np.zeros((count, 1), dtype=bool)
    k = np.arange(1, m)
    sizes = draw.choice(k, size=count, p=(1 / (k * (m - k))) / (1 / (k * (m - k))).sum())
    ranks = np.argsort(np.argsort(draw.random((count, m)), axis=1), axis=1)
    return ranks < sizes[:, None]


def _constrained_least_squares(z, v, weights):
    """phi (M,) minimising sum_r w_r (v_r - v(empty) - z_r . phi)^2 subject to sum phi = v(full) -
    v(empty), over the rows r that are neither the empty nor the full coalition (those two are
    the constraints). phi = delta / M + u with u orthogonal to the ones vector, u the least-norm
    solution of the projected problem, so phi is the least-norm constrained solution."""
    empty, full = ~z.any(axis=1), z.all(axis=1)
    m = z.shape[1]
    v0 = v[empty][0]
    delta = v[full][0] - v0
    rows = ~(empty | full)
    zr = z[rows].astype(np.float64)
    root = np.sqrt(weights[rows])[:, None]
    phi0 = np.full(m, delta / m)
    if not rows.any():
        return phi0
    projected = zr - zr.mean(axis=1, keepdims=True)  # z P, P the projection onto sum(u) = 0
    u = np.linalg.lstsq(root * projected, root[:, 0] * (v[rows] - v0 - zr @ phi0), rcond=None)[0]
    return phi0 + u


def _distances(game, sample, z, mode):
    """d(x, x_z) (S,) between sample ``sample`` of x and its copies x_z, from per-group sums (no
    image is built): 1 - cosine similarity (Captum's ``CosineSimilarity``, eps 1e-8) or ||x - x_z||."""
    x, b = game.x[sample].ravel(), game.baselines[sample].ravel()
    g = game.groups.ravel()

    def per_group(values):
        return np.bincount(g, weights=values, minlength=game.m)

    kept, left = z.astype(np.float64), (~z).astype(np.float64)
    if mode == "euclidean":
        return np.sqrt(np.maximum(left @ per_group((x - b) ** 2), 0.0))
    xx = per_group(x * x)
    dot = kept @ xx + left @ per_group(x * b)
    norm_z = np.sqrt(np.maximum(kept @ xx + left @ per_group(b * b), 0.0))
    return 1 - dot / np.maximum(np.sqrt(xx.sum()) * norm_z, 1e-8)


def _weighted_lasso(z, v, weights, alpha, tol=LASSO_TOL, max_sweeps=10000):
    """phi (M,) minimising sum_r w_r (v_r - phi_0 - z_r . phi)^2 / (2 sum_r w_r) + alpha ||phi||_1
    (scikit-learn's ``Lasso(alpha).fit(z, v, sample_weight=w)`` objective, intercept phi_0 free);
    alpha = 0 is weighted least squares, solved directly (least-norm when underdetermined)."""
    share = weights / weights.sum()
    zf = z.astype(np.float64)
    root = np.sqrt(share)[:, None]
    a = root * (zf - share @ zf)  # centring by the weighted means removes the intercept
    y = root[:, 0] * (v - share @ v)
    if alpha == 0:
        return np.linalg.lstsq(a, y, rcond=None)[0]
    return _lasso_descent(np.asfortranarray(a), y, alpha, tol, max_sweeps)


@njit(cache=True)
def _lasso_descent(a, y, alpha, tol, max_sweeps):
    """argmin 1/2 ||y - a phi||^2 + alpha ||phi||_1 by cyclic coordinate descent (Friedman et al. 2010)
    from phi = 0, stopped as scikit-learn stops it: once a sweep's largest step is below tol times
    the largest |phi_j|, when the duality gap P(phi) - D(nu) is below tol ||y||^2, nu the residual
    scaled into the dual's feasible set ||a^T nu||_inf <= alpha (the gap bounds the distance of the
    objective to its minimum). Compiled: M can be every pixel of an image."""
    s, m = a.shape
    squares = np.zeros(m)
    for j in range(m):
        squares[j] = a[:, j] @ a[:, j]
    phi = np.zeros(m)
    residual = y.copy()
    for _ in range(max_sweeps):
        largest_step = 0.0
        largest = 0.0
        for j in range(m):
            if squares[j] == 0.0:
                continue
            rho = a[:, j] @ residual + squares[j] * phi[j]
            new = np.sign(rho) * max(abs(rho) - alpha, 0.0) / squares[j]
            step = new - phi[j]
            if step != 0.0:
                residual -= step * a[:, j]
                phi[j] = new
            largest_step = max(largest_step, abs(step))
            largest = max(largest, abs(new))
        if largest == 0.0 or largest_step < tol * largest:
            scale = min(1.0, alpha / max(np.abs(a.T @ residual).max(), 1e-300))
            gap = 0.5 * (residual @ residual) * (1 + scale ** 2) + alpha * np.abs(phi).sum() - scale * (residual @ y)
            if gap < tol * (y @ y):
                break
    return phi


def _checked_coalitions(coalitions, m):
    """A 0/1 (or bool) array (S, M) -> booleans; a ValueError/TypeError naming ``coalitions``."""
    z = np.asarray(coalitions)
    if z.dtype.kind not in "biu" or z.ndim != 2 or z.shape[1] != m or len(z) == 0:
        raise ValueError(f"coalitions: expected a 0/1 array (S, M) with M = {m} feature groups and S >= 1, "
                         f"got {z.dtype} of shape {z.shape}")
    if not np.isin(z, (0, 1)).all():
        raise ValueError("coalitions: expected only 0 and 1 (1 = the group keeps x's values)")
    return z.astype(bool)
