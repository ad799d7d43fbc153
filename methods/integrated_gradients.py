"""Integrated gradients (Sundararajan et al. 2017) and SmoothGrad (Smilkov et al. 2017): both
average gradients over inputs built around x, so both reuse ``input_gradient``."""
import numpy as np

from methods.inputs_and_targets import as_batch, broadcast_baseline, repeat_target, scores, unbatch
from minigrad.argument_checks import function, integer, number
from methods.gradients import input_gradient
from minigrad import Tensor, no_grad

_RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def path_points(n_steps, method="gausslegendre"):
    """Points alpha_k in [0, 1] and weights w_k with sum_k w_k g(alpha_k) ~ int_0^1 g, as Captum,
    except 'riemann_trapezoid': the trapezoid rule's steps 1/(n-1) (Captum uses 1/n, so its
    weights sum to (n-1)/n and its result is (n-1)/n times ours)."""
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps: expected a positive int, got {n_steps!r}")
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
                         return_convergence_delta=False, internal_batch_size=None):
    """IG_i = (x_i - x'_i) * int_0^1 df(x' + a (x - x'))/dx_i da  (Sundararajan et al. 2017, eq. 1),
    the integral by ``method`` with ``n_steps`` points (Captum's defaults: Gauss-Legendre, 50).

    baseline : float or array broadcastable to x (default 0, the paper's black image)
    return_convergence_delta : also return f(x) - f(x') - sum_i IG_i per sample (completeness, eq. 3)
    internal_batch_size : samples x steps per forward pass (default: all steps of the batch at once)

    Returns x's shape (and the (N,) deltas).
    """
    xb, single = as_batch(x)
    base = broadcast_baseline(baseline, xb.shape, xb.dtype)
    alphas, weights = path_points(n_steps, method)
    if internal_batch_size is not None:
        integer(internal_batch_size, "internal_batch_size", low=1)
    n = len(xb)
    per_pass = max(1, (internal_batch_size or n * n_steps) // n)
    total = np.zeros_like(xb)
    for k in range(0, n_steps, per_pass):
        a = alphas[k:k + per_pass].astype(xb.dtype)
        points = (base[None] + a[:, None, None, None, None] * (xb - base)[None]).reshape((-1,) + xb.shape[1:])
        g, _, _ = input_gradient(model, points, repeat_target(target, n, len(a)))
        total += np.tensordot(weights[k:k + per_pass], g.reshape((len(a),) + xb.shape), axes=1)
    attributions = (xb - base) * total
    if not return_convergence_delta:
        return unbatch(attributions, single)
    with no_grad():
        ends = scores(model(Tensor(np.concatenate([xb, base]))), repeat_target(target, n, 2)).data
    delta = ends[:n] - ends[n:] - attributions.reshape(n, -1).sum(axis=1)
    return unbatch(attributions, single), (delta[0] if single else delta)


def smoothgrad(method, model, x, target, n_samples=50, noise_level=0.15, kind="smoothgrad", seed=0,
               **options):
    """Average ``method`` over noisy copies x + N(0, sigma^2), sigma = noise_level * (max x - min x)
    per sample (Smilkov et al. 2017, eq. 3; 15% is their default). ``kind``: 'smoothgrad' (the
    mean), 'smoothgrad_sq' (the mean of squares) or 'vargrad' (the variance, Adebayo et al. 2018).
    ``options`` go to ``method``. Returns ``method``'s shape."""
    function(method, "method")
    if kind not in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        raise ValueError(f"kind: expected 'smoothgrad', 'smoothgrad_sq' or 'vargrad', got {kind!r}")
    n_samples = integer(n_samples, "n_samples", low=1)
    noise_level = number(noise_level, "noise_level", low=0)
    xb, single = as_batch(x)
    rng = np.random.default_rng(seed)
    sigma = noise_level * (xb.max(axis=(1, 2, 3)) - xb.min(axis=(1, 2, 3)))
    first = second = 0.0
    for _ in range(n_samples):
        noisy = xb + rng.standard_normal(xb.shape).astype(xb.dtype) * sigma[:, None, None, None].astype(xb.dtype)
        m = method(model, noisy, target, **options)
        first = first + m
        second = second + m * m
    mean = first / n_samples
    result = {"smoothgrad": mean, "smoothgrad_sq": second / n_samples,
              "vargrad": second / n_samples - mean * mean}[kind]
    return unbatch(result, single)
