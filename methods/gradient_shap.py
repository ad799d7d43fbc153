"""GradientSHAP (Lundberg & Lee 2017, the "expected gradients" of Erion et al. 2021), as Captum's
``GradientShap``: integrated gradients' path integral and its baseline both replaced by random draws.

For each of ``n_samples`` draws per sample: a reference x'_b drawn uniformly from the given
distribution of baselines, optional Gaussian noise e ~ N(0, stdevs^2) on the input, and a point
alpha ~ U(0, 1) on the straight path; the draw's attribution is

    (x + e - x'_b) * df/dx (x'_b + alpha (x + e - x'_b))

and the result is their mean. Its expectation (without noise) is the mean over references of
integrated gradients, E_b[IG(x; x'_b)], so its attributions sum, in expectation, to
f(x) - E_b f(x'_b).
"""
import numpy as np

from methods.gradients import input_gradients
from methods.inputs_and_targets import Inputs, copies_of, follow_batch, repeat_target, run_model, scores
from minigrad import Tensor, no_grad
from minigrad.argument_checks import array, boolean, integer, number, rng as make_rng


def _name(argument, inputs, i):
    return f"{argument}[{i}]" if inputs.is_tuple else argument


def gradient_shap_draws(x, baselines, n_samples=5, stdevs=0.0, seed=None):
    """The random draws of ``gradient_shap`` for inputs x and a distribution of B ``baselines``,
    as the dict ``gradient_shap(..., draws=)`` takes:

    'baselines' : int array (n_samples, N) of reference indices in [0, B) (a tuple, one per input,
                  for a tuple x: each input draws its own, as Captum does)
    'alphas'    : array (n_samples, N) in [0, 1), the point on the path (shared by the inputs)
    'noise'     : array (n_samples, N, ...) of N(0, stdevs^2) noise (a tuple for a tuple x)

    Drawn from ``numpy.random.default_rng(seed)`` in that order (each input's indices, then each
    input's noise, then the alphas); draw k of sample n is [k, n].
    """
    inputs = Inputs(x)
    n_samples = integer(n_samples, "n_samples", low=1)
    dists = _distributions(inputs, baselines)
    sigmas = _stdevs(inputs, stdevs)
    rng = make_rng(seed, "seed")
    n = inputs.n
    indices = [rng.integers(len(d), size=(n_samples, n)) for d in dists]
    noise = [rng.standard_normal((n_samples,) + a.shape).astype(a.dtype) * s for a, s in zip(inputs.arrays, sigmas)]
    alphas = rng.uniform(0.0, 1.0, (n_samples, n))
    pick = tuple if inputs.is_tuple else (lambda parts: parts[0])
    return {"baselines": pick(indices), "alphas": alphas, "noise": pick(noise)}


def gradient_shap(model, x, target, baselines, n_samples=5, stdevs=0.0, seed=None, return_convergence_delta=False,
                  multiply_by_inputs=True, additional_forward_args=None, draws=None):
    """The mean over ``n_samples`` draws of (x + e - x'_b) * df/dx(x'_b + alpha (x + e - x'_b)): expected
    gradients (Erion et al. 2021, "Improving performance of deep learning models with axiomatic
    attribution priors and expected gradients"), SHAP values approximated by integrated gradients over
    a distribution of references (Lundberg & Lee 2017, sec. 4), as Captum's
    ``GradientShap(model, multiply_by_inputs).attribute`` (see the module docstring).

    baselines : array (B, ...), the distribution of references (x's shape after the batch axis; a tuple
        of such for a tuple x); one reference (1, ...) makes it integrated gradients with a random
        one-point quadrature
    n_samples : draws per sample (Captum's default 5)
    stdevs : standard deviation of the Gaussian noise added to x, absolute (Captum's; default 0: none),
        a tuple of one per input for a tuple x
    seed : None, an int >= 0 or a numpy Generator for the draws (``gradient_shap_draws``)
    return_convergence_delta : also return f(x + e) - f(x'_b) - sum_i attribution_i per draw, (N,
        n_samples): in expectation over alpha it is 0. Captum returns them flattened sample by
        sample and negated: ``-deltas.reshape(-1)``.
    multiply_by_inputs : False returns the mean gradient alone, without (x + e - x'_b) (Captum's option)
    additional_forward_args : extra arguments of the model's forward (Captum's); an array with one row
        per sample follows the draws
    draws : the draws themselves, a dict as ``gradient_shap_draws`` returns (then ``seed`` and
        ``stdevs`` are not used and ``n_samples`` is read from it): to replay another library's draws

    Returns x's shape (and the deltas; (n_samples,) for a single image).
    """
    inputs = Inputs(x)
    boolean(return_convergence_delta, "return_convergence_delta")
    boolean(multiply_by_inputs, "multiply_by_inputs")
    dists = _distributions(inputs, baselines)
    if draws is None:
        draws = gradient_shap_draws(x, baselines, n_samples, stdevs, seed)
    indices, alphas, noise = _checked_draws(draws, inputs, dists)
    n, copies = inputs.n, len(alphas)
    # draw-major rows k * n + i: draw k of sample i, so targets and args tile as copies of the batch
    rows = copies_of(n, copies)
    noisy = [(a[rows] + e.reshape((-1,) + a.shape[1:])) for a, e in zip(inputs.arrays, noise)]
    refs = [d[idx.reshape(-1)] for d, idx in zip(dists, indices)]
    alpha = alphas.reshape(-1)
    points = [_path_point(p, r, alpha) for p, r in zip(noisy, refs)]
    args = follow_batch(additional_forward_args, n, rows)
    target_rows = repeat_target(target, n, copies)
    grads, _ = input_gradients(model, tuple(points) if inputs.is_tuple else points[0], target_rows, args)
    per_draw = [(p - r) * g if multiply_by_inputs else g for p, r, g in zip(noisy, refs, grads)]
    attributions = [c.reshape((copies,) + a.shape).mean(axis=0) for c, a in zip(per_draw, inputs.arrays)]
    if not return_convergence_delta:
        return inputs.restore(attributions)
    with no_grad():
        ends = [Tensor(np.concatenate([p, r])) for p, r in zip(noisy, refs)]
        f = scores(run_model(model, ends, follow_batch(additional_forward_args, n, copies_of(n, 2 * copies))),
                   repeat_target(target, n, 2 * copies)).data
    m = n * copies
    delta = f[:m] - f[m:] - sum(c.reshape(m, -1).sum(axis=1) for c in per_draw)
    delta = delta.reshape(copies, n).T
    return inputs.restore(attributions), (delta[0] if inputs.single else delta)


def _path_point(end, start, alpha):
    """alpha * end + (1 - alpha) * start row by row (Captum's ``_scale_input``, in its order of operations)."""
    a = alpha.astype(end.dtype).reshape((-1,) + (1,) * (end.ndim - 1))
    return a * end + (1 - a) * start


def _distributions(inputs, baselines):
    """One array (B, ...) of references per input, with the same B."""
    dists = []
    for i, b in enumerate(inputs.per_input(baselines, "baselines")):
        a, name = inputs.arrays[i], _name("baselines", inputs, i)
        dist = array(b, name)
        if dist.ndim != a.ndim or dist.shape[1:] != a.shape[1:]:
            raise ValueError(f"{name}: expected a distribution of references, an array (B, "
                             f"{', '.join(map(str, a.shape[1:]))}), got shape {dist.shape}")
        dists.append(dist.astype(a.dtype, copy=False))
    if any(len(d) != len(dists[0]) for d in dists):
        raise ValueError(f"baselines: every input needs the same number of references, got {[len(d) for d in dists]}")
    return dists


def _stdevs(inputs, stdevs):
    """The noise's standard deviation per input (a number >= 0 each)."""
    return [number(s, _name("stdevs", inputs, i), low=0) for i, s in enumerate(inputs.per_input(stdevs, "stdevs"))]


def _checked_draws(draws, inputs, dists):
    """(indices per input (S, N), alphas (S, N), noise per input (S, N, ...)) from a ``draws`` dict."""
    if not isinstance(draws, dict) or set(draws) != {"baselines", "alphas", "noise"}:
        raise TypeError(f"draws: expected a dict with keys 'baselines', 'alphas' and 'noise' "
                        f"(as gradient_shap_draws returns), got {type(draws).__name__} "
                        f"{sorted(draws) if isinstance(draws, dict) else ''}")
    n = inputs.n
    alphas = array(draws["alphas"], "draws['alphas']", ndim=2)
    copies = len(alphas)
    if alphas.shape != (copies, n) or alphas.min() < 0 or alphas.max() > 1:
        raise ValueError(f"draws['alphas']: expected numbers in [0, 1] of shape (n_samples, {n}), got shape "
                         f"{alphas.shape} in [{alphas.min():g}, {alphas.max():g}]")
    indices, noise = [], []
    for i, (idx, e) in enumerate(zip(inputs.per_input(draws["baselines"], "draws['baselines']"),
                                     inputs.per_input(draws["noise"], "draws['noise']"))):
        a, d = inputs.arrays[i], dists[i]
        idx = np.asarray(idx)
        if idx.shape != (copies, n) or not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(d):
            raise ValueError(f"draws['baselines']: expected integer indices in [0, {len(d)}) of shape ({copies}, {n}), "
                             f"got dtype {idx.dtype}, shape {idx.shape}")
        e = array(e, "draws['noise']")
        if e.shape != (copies,) + a.shape:
            raise ValueError(f"draws['noise']: expected shape {(copies,) + a.shape}, got {e.shape}")
        indices.append(idx)
        noise.append(e.astype(a.dtype, copy=False))
    return indices, alphas, noise
