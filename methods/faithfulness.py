"""How faithful and how robust an attribution is: ROAD (Rong et al. 2022), infidelity and
max-sensitivity (Yeh et al. 2019). Each one scores attributions already computed (or, for
max-sensitivity, the attribution method itself) by running the model on perturbed copies of x.

- ``road``: remove a share of the pixels by rank and fill them in from their neighbours (noisy
  linear imputation), then read the target's score; a faithful map makes it fall fast when the
  most relevant pixels go first and slowly when the least relevant go first.
- ``infidelity``: the mean squared error between attr . I and f(x) - f(x - I) over random
  perturbations I (Captum's ``captum.metrics.infidelity``).
- ``sensitivity_max``: the largest relative change of the explanation over random inputs within
  a small L-infinity ball around x (Captum's ``captum.metrics.sensitivity_max``).

Perturbed copies are laid out sample-major, as Captum's ``repeat_interleave``: sample 0's k
copies, then sample 1's, ..., so a ``perturb_fn`` given to Captum and here sees the same batch.
"""
import math

import numpy as np

from methods.inputs_and_targets import (as_batch, broadcast_baseline, follow_batch, repeat_target,
                                        run_model, scores, unbatch)
from minigrad import Tensor, no_grad, softmax
from minigrad import argument_checks as check
from minigrad.argument_checks import boolean, function, integer, number, one_of

# Rong et al. 2022's imputation weights (sec. 4.2, the authors' code): 1/6 for the four direct
# neighbours, 1/12 for the four diagonal ones
_NEIGHBOURS = ((-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
               (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12))


# ---------------------------------------------------------------------------------------- ROAD
def noisy_linear_imputation(image, removed, noise=0.01, seed=None):
    """Fill the ``removed`` pixels of ``image`` from the pixels kept (Rong et al. 2022, sec. 4.2):
    each removed value is the weighted mean of its neighbours inside the image,

        x_p = sum_q w_pq x_q / sum_q w_pq,   w = 1/6 (direct neighbours), 1/12 (diagonal ones),

    where a neighbour may itself be removed: one sparse linear system over all removed pixels,
    solved for every channel at once; then Gaussian noise of standard deviation ``noise`` (in the
    image's units; 0.01 as the authors' code) is added to the filled values only.

    image : (C, H, W);  removed : (H, W) bool, True where a pixel is removed (all its channels)
    seed : None, int >= 0 or numpy Generator (the noise)

    Returns (C, H, W). A removed region touching no kept pixel has no defined value: at least one
    pixel must be kept.
    """
    image = check.array(image, "image", ndim=3)
    removed = np.asarray(check.array(removed, "removed", ndim=2, shape=image.shape[1:]) != 0)
    noise = number(noise, "noise", low=0)
    rng = check.rng(seed)
    if removed.all():
        raise ValueError(f"removed: at least one pixel must be kept to impute from, got all {removed.size} removed")
    return _impute(image, removed, noise, rng)


def _impute(image, removed, noise, rng):
    """``noisy_linear_imputation`` without the checks."""
    from scipy.sparse import coo_matrix  # scikit-learn's dependency; loaded only when ROAD runs
    from scipy.sparse.linalg import spsolve

    c, h, w = image.shape
    rows, cols = np.nonzero(removed)
    k = len(rows)
    if k == 0:
        return image.copy()
    unknown = np.full((h, w), -1)  # pixel -> its unknown's number in the system
    unknown[rows, cols] = np.arange(k)
    # equation p: (sum_q w_pq) x_p - sum_{q removed} w_pq x_q = sum_{q kept} w_pq x_q
    diagonal = np.zeros(k)
    rhs = np.zeros((k, c))
    a_rows, a_cols, a_vals = [np.arange(k)], [np.arange(k)], []
    for di, dj, weight in _NEIGHBOURS:
        ni, nj = rows + di, cols + dj
        inside = (ni >= 0) & (ni < h) & (nj >= 0) & (nj < w)
        p, ni, nj = np.flatnonzero(inside), ni[inside], nj[inside]
        diagonal[p] += weight
        q = unknown[ni, nj]
        known = q < 0
        rhs[p[known]] += weight * image[:, ni[known], nj[known]].T  # p is unique within one offset
        a_rows.append(p[~known])
        a_cols.append(q[~known])
        a_vals.append(np.full((~known).sum(), -weight))
    system = coo_matrix((np.concatenate([diagonal] + a_vals), (np.concatenate(a_rows), np.concatenate(a_cols))),
                        shape=(k, k)).tocsc()
    filled = spsolve(system, rhs).reshape(k, c)
    out = image.copy()
    out[:, rows, cols] = (filled + noise * rng.standard_normal((k, c))).T.astype(image.dtype)
    return out


def road(model, x, target, attributions, percentiles=(10, 20, 30, 40, 50, 60, 70, 80, 90),
         order="most_relevant_first", noise=0.01, probability=False, seed=None, additional_forward_args=None):
    """ROAD, RemOve And Debias (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy
    for Attribution Methods", ICML): for each percentile p, remove p% of the pixels by the rank of
    their attribution, fill them in with ``noisy_linear_imputation`` (the imputation does not leak
    where the removed pixels were, unlike a constant), and read the model's target score.

    x : (N, C, H, W) or (C, H, W)
    attributions : (N, H, W) or x's shape (summed over channels: one relevance per pixel), without
        the batch axis for a single image. Ties keep the row-major order.
    percentiles : shares of the pixels removed, each in [0, 100); floor(p/100 H W) pixels each
    order : 'most_relevant_first' (MoRF: a faithful map makes the score fall fast) or
        'least_relevant_first' (LeRF: ... fall slowly)
    noise : the imputation noise's standard deviation, in x's units (0.01, the authors' default)
    probability : False: the target score as ``target`` reads it (a logit for a class index);
        True: the softmax probability of the class index (the paper's curves), for an (N, classes)
        output
    seed : None, int >= 0 or numpy Generator: the imputation noise, drawn image by image,
        percentile by percentile

    Returns (N, len(percentiles)) scores ((len(percentiles),) for a single image).

    pytorch-grad-cam's ``ROADMostRelevantFirst(percentile=p)`` keeps the pixels below the p-th
    percentile, i.e. it *removes* 100 - p %; here p is the share removed, as in the paper's plots.
    """
    xb, single = as_batch(x)
    n, _, h, w = xb.shape
    relevance = _pixel_relevance(attributions, xb, single)
    shares = _percentiles(percentiles)
    one_of(order, "order", ("most_relevant_first", "least_relevant_first"))
    noise = number(noise, "noise", low=0)
    boolean(probability, "probability")
    rng = check.rng(seed)
    follow_batch(additional_forward_args, n, np.arange(n))  # checks the args' rows before any work
    ranked = np.argsort(-relevance.reshape(n, -1) if order == "most_relevant_first" else relevance.reshape(n, -1),
                        axis=1, kind="stable")
    imputed = np.empty((n, len(shares)) + xb.shape[1:], dtype=xb.dtype)
    for m in range(n):
        for j, share in enumerate(shares):
            removed = np.zeros(h * w, dtype=bool)
            removed[ranked[m, :math.floor(share * h * w / 100)]] = True
            imputed[m, j] = _impute(xb[m], removed.reshape(h, w), noise, rng)
    rows = np.repeat(np.arange(n), len(shares))
    with no_grad():
        out = run_model(model, Tensor(imputed.reshape((-1,) + xb.shape[1:])),
                        follow_batch(additional_forward_args, n, rows))
        if probability:
            if not isinstance(out, Tensor) or out.ndim != 2:
                raise ValueError(f"probability: True needs an output of shape (N, classes), got "
                                 f"{getattr(out, 'shape', type(out).__name__)}")
            out = softmax(out, axis=1)
        result = scores(out, _repeat_each(target, n, len(shares))).data.reshape(n, len(shares))
    return unbatch(result, single)


def _pixel_relevance(attributions, xb, single):
    """``attributions`` (N, H, W) or x's shape (N, C, H, W), without the batch axis for a single
    image -> (N, H, W), channels summed."""
    n, c, h, w = xb.shape
    a = check.array(attributions, "attributions")
    a = a[None] if single else a
    if a.shape == xb.shape:
        return a.sum(axis=1)
    if a.shape != (n, h, w):
        shapes = ((h, w), (c, h, w)) if single else ((n, h, w), (n, c, h, w))
        raise ValueError(f"attributions: expected shape {shapes[0]} or x's shape {shapes[1]}, got "
                         f"{a.shape[1:] if single else a.shape}")
    return a


def _percentiles(percentiles):
    """A non-empty sequence of numbers in [0, 100) -> a list of floats."""
    if isinstance(percentiles, str) or not hasattr(percentiles, "__len__") or len(percentiles) == 0:
        raise TypeError(f"percentiles: expected a non-empty sequence of numbers in [0, 100), got {percentiles!r:.60}")
    return [number(p, "percentiles", low=0, high=100, high_open=True) for p in percentiles]


# ------------------------------------------------------------------ infidelity and sensitivity
def infidelity(model, x, target, attributions, perturb_fn=None, n_perturb_samples=10, normalize=False, seed=None,
               noise_std=0.003, max_examples_per_batch=None, additional_forward_args=None):
    """Explanation infidelity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of
    Explanations", NeurIPS, eq. 1): the expected squared error of the attribution's first-order
    account of a perturbation,

        INFD(attr, f, x) = E_I [ (I . attr - (f(x) - f(x - I)))^2 ],

    estimated from ``n_perturb_samples`` perturbations I per sample (Captum's
    ``captum.metrics.infidelity``, whose numbers this gives for the same perturbations).

    x : (N, C, H, W) or (C, H, W);  attributions : x's shape, or broadcastable to it
    perturb_fn : callable(x_copies) -> (I, x_copies - I), x_copies (N k, C, H, W) sample-major
        (Captum's ``perturb_func`` with one argument). Default (Captum has none): Gaussian noise
        I ~ N(0, noise_std^2) per value, as Captum's documentation example (std 0.003)
    normalize : scale attr by the beta minimising the error, beta = E[a b] / E[a^2] with a = I . attr
        and b = f(x) - f(x - I) (Captum's ``normalize``, the paper's code): the score of the map's
        shape alone, whatever its scale. beta = 0 when every a is 0 (Captum's ``safe_div``).
    seed : None, int >= 0 or numpy Generator, for the default perturbation
    max_examples_per_batch : perturbed copies per forward pass; as Captum, at least one copy of each
        sample (N) and at most all (N n_perturb_samples). Default: all at once.

    Returns (N,) infidelities (a float for a single image). For f linear, f(x) = w . x + b, and
    attr = w (the gradient), every I gives 0.
    """
    xb, single = as_batch(x)
    n = len(xb)
    attr = broadcast_baseline(attributions, xb.shape if not single else xb.shape[1:], xb.dtype, "attributions")
    attr = attr[None] if single else attr
    perturb = _gaussian_perturbation(number(noise_std, "noise_std", low=0), seed) if perturb_fn is None \
        else function(perturb_fn, "perturb_fn")
    boolean(normalize, "normalize")
    n_perturb_samples = integer(n_perturb_samples, "n_perturb_samples", low=1)
    chunks = _sample_chunks(n, n_perturb_samples, max_examples_per_batch)
    follow_batch(additional_forward_args, n, np.arange(n))
    # sums over the perturbations of a^2, a b, b^2 (for beta) and (a - b)^2 (summed directly: the
    # expansion would cancel to rounding noise where a = b, the exact attributions)
    a_a, a_b, b_b, error = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    with no_grad():
        at_x = scores(run_model(model, Tensor(xb), additional_forward_args), target).data
        for k in chunks:
            copies = np.repeat(xb, k, axis=0)
            perturbation, perturbed = _perturbed_pair(perturb(copies), copies.shape)
            rows = np.repeat(np.arange(n), k)
            at_perturbed = scores(run_model(model, Tensor(perturbed), follow_batch(additional_forward_args, n, rows)),
                                  _repeat_each(target, n, k)).data
            a = (perturbation * attr[rows]).reshape(n, k, -1).sum(axis=2)
            b = (at_x[rows] - at_perturbed).reshape(n, k)
            a_a += (a * a).sum(axis=1)
            a_b += (a * b).sum(axis=1)
            b_b += (b * b).sum(axis=1)
            error += ((a - b) ** 2).sum(axis=1)
    if normalize:
        beta = a_b / np.where(a_a == 0, 1.0, a_a)
        result = beta * beta * a_a - 2 * beta * a_b + b_b
    else:
        result = error
    result = result / n_perturb_samples
    return float(result[0]) if single else result


def sensitivity_max(method, model, /, x, target, perturb_fn=None, perturb_radius=0.02, n_perturb_samples=10,
                    norm_ord="fro", max_examples_per_batch=None, seed=None, additional_forward_args=None, **options):
    """Max-sensitivity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of Explanations",
    NeurIPS, eq. 3), relative to the explanation's own size as Captum's ``sensitivity_max``:

        SENS_MAX(Phi, x) = max_{||y - x||_inf <= r} ||Phi(y) - Phi(x)|| / ||Phi(x)||,

    the max over ``n_perturb_samples`` random y per sample (Monte Carlo, as Captum), Phi =
    ``method(model, x, target, **options)``. A norm ||Phi(x)|| of 0 counts as 1 (Captum).

    method : an attribution method of this package (``methods.saliency``, ...); ``options`` go to it.
        A per-sample ``baseline`` option (an array with one row per sample) follows the copies.
    x : (N, C, H, W) or (C, H, W)
    perturb_fn : callable(x_copies) -> perturbed copies, x_copies (N k, C, H, W) sample-major
        (Captum's ``perturb_func``; Captum also passes ``perturb_radius`` to a function of two
        parameters, here close over it instead). Default: y = x + U(-r, r) per value, r =
        ``perturb_radius`` (Captum's ``default_perturb_func``)
    norm_ord : 'fro' (the Euclidean norm of the flattened explanation, Captum's default) or a number
        p (the vector p-norm, inf and -inf included; 0 counts the non-zero values)
    seed : None, int >= 0 or numpy Generator, for the default perturbation
    max_examples_per_batch : perturbed copies per call of ``method``, as in ``infidelity``

    Returns (N,) sensitivities (a float for a single image).
    """
    function(method, "method")
    xb, single = as_batch(x)
    n = len(xb)
    radius = number(perturb_radius, "perturb_radius", low=0)
    perturb = _uniform_perturbation(radius, seed) if perturb_fn is None else function(perturb_fn, "perturb_fn")
    norm = _vector_norm(norm_ord)
    n_perturb_samples = integer(n_perturb_samples, "n_perturb_samples", low=1)
    chunks = _sample_chunks(n, n_perturb_samples, max_examples_per_batch)
    args = {} if additional_forward_args is None else {"additional_forward_args": additional_forward_args}
    at_x = np.asarray(method(model, xb, target, **options, **args)).reshape(n, -1)
    size = norm(at_x)
    size = np.where(size == 0, 1.0, size)
    worst = np.full(n, -np.inf)
    for k in chunks:
        rows = np.repeat(np.arange(n), k)
        perturbed = check.array(perturb(np.repeat(xb, k, axis=0)), "perturb_fn's result", shape=(n * k,) + xb.shape[1:])
        if args:
            args = {"additional_forward_args": follow_batch(additional_forward_args, n, rows)}
        at_y = np.asarray(method(model, perturbed, _repeat_each(target, n, k), **_follow_options(options, n, rows),
                                 **args)).reshape(n * k, -1)
        change = norm(at_y - at_x[rows]) / size[rows]
        worst = np.maximum(worst, change.reshape(n, k).max(axis=1))
    return float(worst[0]) if single else worst


def _gaussian_perturbation(std, seed):
    """Captum's documented perturbation: I ~ N(0, std^2) per value -> (I, x - I)."""
    rng = check.rng(seed)

    def perturb(copies):
        perturbation = (std * rng.standard_normal(copies.shape)).astype(copies.dtype)
        return perturbation, copies - perturbation
    return perturb


def _uniform_perturbation(radius, seed):
    """Captum's ``default_perturb_func`` for sensitivity: y = x + U(-r, r) per value."""
    rng = check.rng(seed)
    return lambda copies: copies + rng.uniform(-radius, radius, copies.shape).astype(copies.dtype)


def _perturbed_pair(result, shape):
    """``perturb_fn``'s (perturbation, perturbed input), each checked to have the copies' shape."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"perturb_fn: expected it to return a pair (perturbation, perturbed input), got "
                        f"{type(result).__name__}")
    return tuple(check.array(r, f"perturb_fn's {what}", shape=shape)
                 for r, what in zip(result, ("perturbation", "perturbed input")))


def _sample_chunks(n, n_perturb_samples, max_examples_per_batch):
    """Copies per sample in each pass: Captum's ``_divide_and_aggregate_metrics`` takes
    max_examples_per_batch // n copies of every sample at a time (at least 1, at most all)."""
    if max_examples_per_batch is None:
        return [n_perturb_samples]
    per = min(integer(max_examples_per_batch, "max_examples_per_batch", low=1) // n or 1, n_perturb_samples)
    return [min(per, n_perturb_samples - start) for start in range(0, n_perturb_samples, per)]


def _repeat_each(target, n, k):
    """``target`` for k consecutive copies of each of n samples (Captum's ``repeat_interleave``)."""
    t = repeat_target(target, n, 1)
    if isinstance(t, np.ndarray):
        return np.repeat(t, k)
    if isinstance(t, list):  # one index tuple per sample
        return [ti for ti in t for _ in range(k)]
    return t  # a callable, None or one index tuple serves any batch


def _follow_options(options, n, rows):
    """``options`` with a per-sample ``baseline`` (an array of n rows and x's rank) taken at ``rows``,
    as Captum expands ``baselines`` of the inputs' shape in sensitivity_max."""
    base = options.get("baseline")
    if isinstance(base, np.ndarray) and base.ndim == 4 and base.shape[0] == n:
        return dict(options, baseline=base[rows])
    return options


def _vector_norm(norm_ord):
    """'fro' or a number p -> a function (M, D) -> (M,) of row norms (torch.norm's p along dim 1)."""
    if isinstance(norm_ord, str):
        if norm_ord != "fro":
            raise ValueError(f"norm_ord: expected 'fro' or a number (inf included), got {norm_ord!r}; 'nuc' has "
                             f"no meaning for one flattened explanation")
        return lambda m: np.linalg.norm(m, axis=1)
    if isinstance(norm_ord, bool) or not isinstance(norm_ord, (int, float, np.integer, np.floating)) \
            or math.isnan(norm_ord):
        raise TypeError(f"norm_ord: expected 'fro' or a number (inf included), got {norm_ord!r:.60}")
    return lambda m: np.linalg.norm(m, ord=float(norm_ord), axis=1)
