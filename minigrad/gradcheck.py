"""Finite-difference check of backward rules, in float64, along random directions."""
import numpy as np

from minigrad import argument_checks as check

from minigrad.backward import grad
from minigrad.tensor import Tensor


def gradcheck(fn, inputs, n_directions=3, eps=1e-5, seed=0):
    """Worst relative error between the reverse pass and central finite differences.

    For a random output weighting u and, per input i, random directions v, compares the
    reverse-mode directional derivative <grad_i <u, fn(x)>, v> with
    (<u, fn(x + eps v)> - <u, fn(x - eps v)>) / (2 eps). Uses the rule table in force,
    so it also checks a custom rule against the calculus it claims to compute.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input, returns a Tensor (any shape).
    inputs : list of arrays or Tensors
        Converted to float64.
    n_directions : int
        Random directions per input.

    Returns
    -------
    float : max over inputs and directions of |analytic - numeric| / scale, where scale is
        max(|analytic|, |numeric|, sum_k |g_k v_k|): the last term keeps the ratio meaningful when
        a random direction makes the derivative cancel to nearly zero, while a wrong backward still
        gives an error of the order of the terms it sums.
    """
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(f"inputs: expected a non-empty list of arrays, got {type(inputs).__name__}")
    n_directions, rng = check.integer(n_directions, "n_directions", low=1), check.rng(seed, "seed")
    xs = [check.real_array(x, f"inputs[{i}]").astype(np.float64) for i, x in enumerate(inputs)]
    tensors = [Tensor(x, requires_grad=True) for x in xs]
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"fn: expected it to return a Tensor, got {type(out).__name__}")
    u = rng.standard_normal(out.shape)
    analytic = grad(out, tensors, seed=u)

    def weighted(arrays):
        return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * u))

    worst = 0.0
    for i, x in enumerate(xs):
        for _ in range(n_directions):
            v = rng.standard_normal(x.shape)
            plus = [a + eps * v if j == i else a for j, a in enumerate(xs)]
            minus = [a - eps * v if j == i else a for j, a in enumerate(xs)]
            numeric = (weighted(plus) - weighted(minus)) / (2 * eps)
            terms = analytic[i] * v
            exact = float(np.sum(terms))
            scale = max(abs(exact), abs(numeric), float(np.sum(np.abs(terms))), 1e-12)
            worst = max(worst, abs(exact - numeric) / scale)
    return worst
