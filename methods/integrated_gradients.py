"""Integrated gradients (Sundararajan et al. 2017) and SmoothGrad (Smilkov et al. 2017): both
average gradients over inputs built around x, so both reuse ``input_gradients``. Both take x as one
image batch or as Captum's tuple of inputs (see ``methods.inputs_and_targets``)."""
import numpy as np

from methods.inputs_and_targets import (Inputs, broadcast_baseline, copies_of, follow_batch, repeat_target,
                                        run_model, scores)
from minigrad import argument_checks as check
from minigrad.argument_checks import array, boolean, function, integer, number
from methods.gradients import input_gradients
from minigrad import Tensor, no_grad

_RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def path_points(n_steps, method="gausslegendre"):
    """Points alpha_k in [0, 1] and weights w_k with sum_k w_k g(alpha_k) ~ int_0^1 g, as Captum,
    except 'riemann_trapezoid': the trapezoid rule's steps 1/(n-1) (Captum uses 1/n, so its
    weights sum to (n-1)/n and its result is (n-1)/n times ours)."""
    n_steps = integer(n_steps, "n_steps", low=1)
    if method == "gausslegendre":
        t, w = np.polynomial.legendre.leggauss(n_steps)
        return (t + 1) / 2, w / 2
    if method == "riemann_trapezoid":
        if n_steps < 2:
            raise ValueError("n_steps: the trapezoid rule needs at least 2 steps")
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] /= 2
        return np.linspace(0, 1, n_steps), w
    offsets = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}
    if method not in offsets:
        raise ValueError(f"method: expected one of {', '.join(_RULES)}, got {method!r}")
    return (np.arange(n_steps) + offsets[method]) / n_steps, np.full(n_steps, 1.0 / n_steps)


def integrated_gradients(model, x, target, baseline=0.0, n_steps=50, method="gausslegendre",
                         return_convergence_delta=False, internal_batch_size=None, multiply_by_inputs=True,
                         additional_forward_args=None):
    """IG_i = (x_i - x'_i) * int_0^1 df(x' + a (x - x'))/dx_i da  (Sundararajan et al. 2017, eq. 1),
    the integral by ``method`` with ``n_steps`` points (Captum's defaults: Gauss-Legendre, 50).

    baseline : float or array broadcastable to x (default 0, the paper's black image)
    return_convergence_delta : also return f(x) - f(x') - sum_i IG_i per sample (completeness, eq. 3,
        says it is 0; what is left is the quadrature's error). Captum's delta is its negative.
    internal_batch_size : samples x steps per forward pass (default: all steps of the batch at once)
    multiply_by_inputs : False returns the path integral int_0^1 df/dx_i da alone, without the
        (x_i - x'_i) factor: Captum's ``IntegratedGradients(multiply_by_inputs=False)``, a "local"
        attribution in Ancona et al. 2018 (ICLR, "Towards better understanding of gradient-based
        attribution methods"; times the input it is "global"). The delta is then still computed
        from the returned attributions, as Captum does, and is no longer an error measure.
    additional_forward_args : extra arguments of the model's forward, ``model(x, *args)`` (Captum's).
        An array with one row per sample follows the path points (repeated for every step as
        Captum's ``_expand_additional_forward_args``); one without n rows is refused (see
        ``methods.inputs_and_targets.follow_batch``).

    x may be a tuple of inputs (Captum's form): ``baseline`` is then one entry per input (a tuple) or
    one number for all, the attributions a tuple, and the delta sums the attributions of every input.

    Returns x's shape (and the (N,) deltas).
    """
    inputs = Inputs(x)
    bases = [broadcast_baseline(b, a.shape, a.dtype, _name("baseline", inputs, i))
             for i, (a, b) in enumerate(zip(inputs.arrays, inputs.per_input(baseline, "baseline")))]
    alphas, weights = path_points(n_steps, method)
    if internal_batch_size is not None:
        integer(internal_batch_size, "internal_batch_size", low=1)
    boolean(multiply_by_inputs, "multiply_by_inputs")
    n = inputs.n
    per_pass = max(1, (internal_batch_size or n * n_steps) // n)
    totals = [np.zeros_like(a) for a in inputs.arrays]
    for k in range(0, n_steps, per_pass):
        steps = alphas[k:k + per_pass]
        points = [_path_points(a, base, steps) for a, base in zip(inputs.arrays, bases)]
        grads, _ = input_gradients(model, tuple(points) if inputs.is_tuple else points[0],
                                   repeat_target(target, n, len(steps)),
                                   follow_batch(additional_forward_args, n, copies_of(n, len(steps))))
        for total, g in zip(totals, grads):
            total += np.tensordot(weights[k:k + per_pass], g.reshape((len(steps),) + total.shape), axes=1)
    attributions = [(a - base) * total if multiply_by_inputs else total
                    for a, base, total in zip(inputs.arrays, bases, totals)]
    if not return_convergence_delta:
        return inputs.restore(attributions)
    with no_grad():
        ends = [Tensor(np.concatenate([a, base])) for a, base in zip(inputs.arrays, bases)]
        ends = scores(run_model(model, ends, follow_batch(additional_forward_args, n, copies_of(n, 2))),
                      repeat_target(target, n, 2)).data
    delta = ends[:n] - ends[n:] - sum(r.reshape(n, -1).sum(axis=1) for r in attributions)
    return inputs.restore(attributions), (delta[0] if inputs.single else delta)


def _name(argument, inputs, i):
    """An argument's name in errors: ``baseline``, or ``baseline[i]`` for input i of a tuple."""
    return f"{argument}[{i}]" if inputs.is_tuple else argument


def _path_points(a, base, steps):
    """The points base + alpha (a - base) for each alpha in ``steps``, stacked step-major: (S * N, ...)."""
    alpha = steps.astype(a.dtype).reshape((-1,) + (1,) * a.ndim)
    return (base[None] + alpha * (a - base)[None]).reshape((-1,) + a.shape[1:])


def _noise_sigma(xb, noise_level, stdevs, name="stdevs"):
    """The noise's standard deviation per sample, (N,): ``noise_level`` times the sample's range
    (Smilkov et al.'s relative noise, 15% when neither is given) or ``stdevs`` as it is (Captum's
    absolute noise). Giving both is refused: one would silently override the other."""
    if stdevs is None:
        level = 0.15 if noise_level is None else number(noise_level, "noise_level", low=0)
        axes = tuple(range(1, xb.ndim))
        return level * (xb.max(axis=axes) - xb.min(axis=axes))
    if noise_level is not None:
        raise ValueError(f"stdevs: give either stdevs (absolute) or noise_level (relative to the input's "
                         f"range), not both; got stdevs={stdevs!r} and noise_level={noise_level!r}")
    if np.ndim(stdevs) == 0:
        return np.full(len(xb), number(stdevs, name, low=0))
    sd = array(stdevs, name, ndim=1, shape=(len(xb),))
    if sd.min() < 0:
        raise ValueError(f"{name}: expected standard deviations >= 0, got {stdevs!r}")
    return sd.astype(np.float64)


def _tile_baseline(options, inputs, copies):
    """``options`` with each per-sample baseline (one row per sample, the input's rank) tiled for
    ``copies`` stacked copies of the batch (copy-major, as ``repeat_target``); a shared baseline
    broadcasts as it is. Captum's NoiseTunnel expands its baselines the same way (``_expand_partial``)."""
    if "baseline" not in options or copies == 1 or inputs.n == 1:
        return options
    bases = inputs.per_input(options["baseline"], "baseline")
    tiled = [np.tile(np.asarray(getattr(b, "data", b)), (copies,) + (1,) * (a.ndim - 1))
             if np.ndim(b) == a.ndim and np.shape(b)[0] == inputs.n else b
             for a, b in zip(inputs.arrays, bases)]
    return dict(options, baseline=tuple(tiled) if inputs.is_tuple else tiled[0])


def smoothgrad(method, model, /, x, target, n_samples=50, noise_level=None, kind="smoothgrad", seed=0, *,
               stdevs=None, nt_samples_batch_size=1, additional_forward_args=None, **options):
    """Average ``method`` over noisy copies x + N(0, sigma^2) (Smilkov et al. 2017, eq. 3), Captum's
    ``NoiseTunnel``. ``options`` go to ``method``, its own ``method=`` too (integrated gradients'
    quadrature rule: ``method`` and ``model`` are positional-only here). Returns ``method``'s shape.

    noise_level : sigma = noise_level * (max x - min x) per sample; default 0.15, the paper's 15%
    stdevs : sigma given absolutely instead, a float or one per sample (Captum's ``stdevs``; its
        default is 1.0 absolute, ours stays the paper's relative 15%). Not together with noise_level.
    kind : 'smoothgrad' (the mean), 'smoothgrad_sq' (the mean of squares) or 'vargrad' (the
        variance, Adebayo et al. 2018), Captum's ``nt_type``
    seed : copy k's noise is the k-th draw of ``np.random.default_rng(seed).standard_normal(x.shape)``
        times sigma, whatever the batch size
    nt_samples_batch_size : noisy copies of the batch per call of ``method`` (None: all n_samples
        at once, Captum's default; ours, 1, keeps memory at one batch). The result is the same up to
        float rounding.
    additional_forward_args : extra arguments of the model's forward, passed on to ``method`` (not
        passed at all when None, so a method without the parameter still works). An array with one
        row per sample follows the noisy copies, as in Captum's NoiseTunnel; one without n rows is
        refused (see ``methods.inputs_and_targets.follow_batch``).

    x may be a tuple of inputs (Captum's form) for a method that takes one: each input gets its own
    noise (input i's from ``np.random.default_rng([seed, i])``, input 0's from
    ``default_rng(seed)``), ``stdevs`` may be a tuple of one entry per input, and the result is a
    tuple.

    With ``return_convergence_delta=True`` among the options (integrated gradients) it returns
    (result, deltas), deltas (N, n_samples): the delta of each noisy copy. Captum returns them
    flattened, ``deltas.reshape(-1)`` in its order when it runs all samples at once.
    """
    function(method, "method")
    if kind not in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        raise ValueError(f"kind: expected 'smoothgrad', 'smoothgrad_sq' or 'vargrad', got {kind!r}")
    n_samples = integer(n_samples, "n_samples", low=1)
    per_call = n_samples if nt_samples_batch_size is None else integer(nt_samples_batch_size,
                                                                       "nt_samples_batch_size", low=1)
    inputs = Inputs(x)
    sigmas = [_noise_sigma(a, noise_level, sd, _name("stdevs", inputs, i)).astype(a.dtype).reshape((-1,) + (1,) * (a.ndim - 1))
              for i, (a, sd) in enumerate(zip(inputs.arrays, inputs.per_input(stdevs, "stdevs")))]
    with_delta = bool(options.get("return_convergence_delta", False))
    n = inputs.n
    if isinstance(check.seed(seed, "seed"), np.random.Generator):  # input i > 0: an independent child
        rngs = [seed] + seed.spawn(len(inputs.arrays) - 1)
    else:
        rngs = [np.random.default_rng(seed if i == 0 else [seed, i]) for i in range(len(inputs.arrays))]
    first = [0.0] * len(inputs.arrays)
    second = [0.0] * len(inputs.arrays)
    deltas = []
    for k in range(0, n_samples, per_call):
        b = min(per_call, n_samples - k)
        noisy = [(a[None] + rng.standard_normal((b,) + a.shape).astype(a.dtype) * sigma).reshape((b * n,) + a.shape[1:])
                 for a, rng, sigma in zip(inputs.arrays, rngs, sigmas)]
        # None is not passed on at all, so a method without the parameter still works
        args = ({} if additional_forward_args is None else
                {"additional_forward_args": follow_batch(additional_forward_args, n, copies_of(n, b))})
        out = method(model, tuple(noisy) if inputs.is_tuple else noisy[0], repeat_target(target, n, b),
                     **_tile_baseline(options, inputs, b), **args)
        m, d = out if with_delta else (out, None)
        for i, mi in enumerate(m if inputs.is_tuple else [m]):
            mi = mi.reshape((b, n) + mi.shape[1:])
            first[i] = first[i] + mi.sum(axis=0)
            second[i] = second[i] + (mi * mi).sum(axis=0)
        if with_delta:
            deltas.append(np.asarray(d).reshape(b, n).T)
    means = [f / n_samples for f in first]
    result = inputs.restore([{"smoothgrad": mean, "smoothgrad_sq": sq / n_samples,
                              "vargrad": sq / n_samples - mean * mean}[kind] for mean, sq in zip(means, second)])
    if not with_delta:
        return result
    deltas = np.concatenate(deltas, axis=1)
    return result, (deltas[0] if inputs.single else deltas)
