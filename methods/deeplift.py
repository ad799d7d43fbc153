"""DeepLIFT with the Rescale rule (Shrikumar et al. 2017, "Learning important features through
propagating activation differences") and DeepLIFT SHAP (Lundberg & Lee 2017, sec. 4.2), as Captum's
``DeepLift`` and ``DeepLiftShap``.

DeepLIFT explains the difference f(x) - f(x') between the output at x and at a reference x' by
contributions C_i that sum to it (summation-to-delta, eq. 1). It carries *multipliers*
m = C / (difference from reference) backwards with the chain rule (eq. 3): a linear layer passes
them exactly as it passes gradients, and an element-wise nonlinearity y = g(z) has the Rescale rule

    m_{dz dy} = (y - y') / (z - z')          (sec. 3.5.2; the gradient g'(z) where z - z' ~ 0)

so in minigrad DeepLIFT is the ordinary reverse pass with one backward rule swapped, ``Rescale``, on
relu, relu6, sigmoid and tanh. The rule needs each node's value at the reference: the input and the
reference run as **one batch** [x; x'] of 2N rows (as Captum does), so every node of the graph holds
both, row i and row N + i, and the rule reads z - z' off its own ``ctx``. The reverse pass is seeded
with ones on all 2N scores (Captum's), and the input's gradient is taken on the first N rows.

Max-pooling. With ``max_pool="gradient"`` (the default) a max-pool passes multipliers as its gradient
does, each half routed to its own window maximum. This is what DeepLIFT's reference code does (its
only max-pool mode, ``MaxPoolDeepLiftMode.gradient``, in kundajelab/deeplift; the paper gives no
separate max-pool rule) and Captum 0.9's numbers for the usual conv -> ReLU -> max-pool: there
Captum's own max-pool multiplier is computed but overwritten, because both modules' hooks sit on
the ReLU's output tensor and the ReLU's hook uses the gradient it recorded *before* the max-pool's
hook changed it. ``max_pool="rescale"`` is Captum's own max-pool multiplier, which is Captum's number
for a pool between two linear layers (conv -> pool -> conv): the output's difference max(y, y') - y'
(row of x) and y - max(y, y') (row of x') routed to the window maxima of x and of x', summed, and
divided by the input's difference z - z'. It keeps summation-to-delta, the gradient does not.
Not reproduced: Captum on conv -> max-pool -> ReLU, where by the same hook order the *ReLU's*
Rescale is dropped (it passes its plain gradient, the pool takes Captum's multiplier); here the ReLU
is rescaled whatever precedes it.

Captum differences kept in mind: Captum rescales only the nonlinearities it knows as *modules*
(nn.ReLU, Sigmoid, Tanh, ELU, LeakyReLU, Softplus; a functional F.relu or an nn.ReLU6 keeps its
gradient); here every relu, relu6, sigmoid and tanh op is rescaled, as the paper prescribes for every
element-wise nonlinearity. Captum refuses a ReLU module used twice; an op-level rule has no such
limit. The convergence delta is f(x) - f(x') - sum_i C_i (as ``methods.integrated_gradients``);
Captum's is its negative.
"""
import numpy as np

import minigrad
from minigrad import Tensor
from minigrad.argument_checks import array, boolean, number, one_of
from methods.inputs_and_targets import (Inputs, broadcast_baseline, copies_of, follow_batch, repeat_target,
                                        run_model, scores)

#: The element-wise nonlinearities the Rescale rule replaces.
NONLINEAR_OPS = ("relu", "relu6", "sigmoid", "tanh")
_MAX_POOL_RULES = ("gradient", "rescale")


def _reference_difference(a, ctx):
    """a[:n] - a[n:] for a node run on the batch [x; x'] of 2n rows, stacked twice (one row per row of
    the batch: x and x' share their multiplier, as in Captum)."""
    if a.ndim == 0 or len(a) % 2:
        raise ValueError(f"deeplift: op '{ctx.op.name}' ran on {a.shape[0] if a.ndim else 'no'} rows; the Rescale "
                         f"rule needs the batch [x; x'] of 2N rows (a model that reshapes or mixes the batch "
                         f"axis cannot be explained by DeepLIFT)")
    n = len(a) // 2
    d = a[:n] - a[n:]
    return np.concatenate([d, d])


def _rescaled(numerator, dz, plain, eps):
    """numerator / dz where |dz| >= eps, the plain backward ``plain`` elsewhere (Captum's eps handling:
    there the secant is the tangent)."""
    near = np.abs(dz) < eps
    return np.where(near, plain, numerator / np.where(near, 1, dz))


class Rescale:
    """The Rescale rule for an element-wise nonlinearity y = g(z) run on the batch [x; x']:
    multiplier_in = multiplier_out * (y - y') / (z - z')  (Shrikumar et al. 2017, sec. 3.5.2),
    the op's own backward where |z - z'| < eps."""

    def __init__(self, eps=1e-10):
        self.eps = eps

    def __call__(self, ctx, grad_out):
        if ctx.kwargs.get("inplace"):
            raise ValueError(f"deeplift: op '{ctx.op.name}' wrote its output over its input (inplace=True), so the "
                             f"Rescale rule cannot read z - z'; record the forward pass inside minigrad.no_inplace()")
        dz = _reference_difference(ctx.arrays[0], ctx)
        dy = _reference_difference(ctx.output, ctx)
        plain, = ctx.op.backward(ctx, grad_out)
        return (_rescaled(grad_out * dy, dz, plain, self.eps),)


class RescaleMaxPool:
    """Captum's max-pool multiplier on the batch [x; x'] (``captum.attr._core.deep_lift.maxpool``):
    with y = pool(z), M = max(y, y'), the differences M - y' (row of x) and y - M (row of x'), times
    the incoming multipliers, go to the window maxima of x and of x' respectively; their sum over the
    two halves, divided by z - z', is the multiplier of both halves (the plain backward where
    |z - z'| < eps)."""

    def __init__(self, eps=1e-10):
        self.eps = eps

    def __call__(self, ctx, grad_out):
        dz = _reference_difference(ctx.arrays[0], ctx)
        y = ctx.output
        n = len(y) // 2
        top = np.maximum(y[:n], y[n:])
        split = np.concatenate([top - y[n:], y[:n] - top])
        routed, = ctx.op.backward(ctx, grad_out * split)  # each half to its own maxima
        routed = routed[:n] + routed[n:]
        plain, = ctx.op.backward(ctx, grad_out)
        return (_rescaled(np.concatenate([routed, routed]), dz, plain, self.eps),)


def deeplift_rules(eps=1e-10, max_pool="gradient"):
    """The rule table of DeepLIFT-Rescale for ``minigrad.rules(**table)``: ``Rescale`` on every
    element-wise nonlinearity, and on ``max_pool2d`` its gradient or ``RescaleMaxPool``. The graph
    must have been recorded on the batch [x; x'] (``_reference_multipliers``)."""
    eps = number(eps, "eps", low=0)
    one_of(max_pool, "max_pool", _MAX_POOL_RULES)
    table = {op: Rescale(eps) for op in NONLINEAR_OPS}
    table["max_pool2d"] = RescaleMaxPool(eps) if max_pool == "rescale" else None
    return table


def _reference_multipliers(model, arrays, references, target, additional_forward_args=None, eps=1e-10,
                          max_pool="gradient"):
    """DeepLIFT's multipliers of the score with respect to each input, from one forward pass of the
    batch [x; x'] and one reverse pass under ``deeplift_rules``.

    arrays, references : lists of arrays (N, ...), one per model input, x and x' row by row
    Returns (multipliers, one (N, ...) per input;  f(x) (N,);  f(x') (N,)).
    """
    n = len(arrays[0])
    table = deeplift_rules(eps, max_pool)
    batch = [Tensor(np.concatenate([a, r]), requires_grad=True) for a, r in zip(arrays, references)]
    with minigrad.no_inplace():  # Rescale reads what entered each ReLU
        out = run_model(model, batch, follow_batch(additional_forward_args, n, copies_of(n, 2)))
    s = scores(out, repeat_target(target, n, 2))
    with minigrad.rules(**table):
        grads = minigrad.grad(s, batch)
    return [g[:n] for g in grads], s.data[:n], s.data[n:]


def _contributions(arrays, references, multipliers, multiply_by_inputs, f_x, f_ref):
    """C = (x - x') m per input (m alone without ``multiply_by_inputs``), and the convergence delta
    f(x) - f(x') - sum_i C_i per row (N,): summation-to-delta (eq. 1) says it is 0."""
    boolean(multiply_by_inputs, "multiply_by_inputs")
    attributions = [(a - r) * m if multiply_by_inputs else m for a, r, m in zip(arrays, references, multipliers)]
    n = len(arrays[0])
    delta = f_x - f_ref - sum(c.reshape(n, -1).sum(axis=1) for c in attributions)
    return attributions, delta


def _name(argument, inputs, i):
    return f"{argument}[{i}]" if inputs.is_tuple else argument


def deeplift(model, x, target, baselines=0.0, return_convergence_delta=False, multiply_by_inputs=True,
             additional_forward_args=None, eps=1e-10, max_pool="gradient"):
    """DeepLIFT-Rescale contributions C_i = (x_i - x'_i) m_i (Shrikumar et al. 2017, eqs. 1-3 and the
    Rescale rule, sec. 3.5.2), Captum's ``DeepLift(model, multiply_by_inputs, eps).attribute``.

    baselines : the reference x': a number or an array broadcastable to x (default 0, Captum's)
    return_convergence_delta : also return f(x) - f(x') - sum_i C_i per sample, 0 up to rounding on a
        network whose only nonlinearities are rescaled ones (not with max-pooling's gradient);
        Captum's delta is its negative
    multiply_by_inputs : False returns the multipliers m alone (Captum's option)
    additional_forward_args : extra arguments of the model's forward (Captum's); an array with one
        row per sample follows the batch [x; x'] (see ``methods.inputs_and_targets.follow_batch``)
    eps : where |z - z'| < eps a nonlinearity passes its gradient (Captum's eps, 1e-10)
    max_pool : 'gradient' (Captum's numbers after a ReLU; the reference code's default) or 'rescale'
        (Captum's max-pool multiplier); see the module docstring

    x may be a tuple of inputs (Captum's form), ``baselines`` then a tuple of one entry per input or
    one number for all. Returns x's shape (and the (N,) deltas, a number for a single image).
    """
    inputs = Inputs(x)
    boolean(return_convergence_delta, "return_convergence_delta")
    refs = [broadcast_baseline(b, a.shape, a.dtype, _name("baselines", inputs, i))
            for i, (a, b) in enumerate(zip(inputs.arrays, inputs.per_input(baselines, "baselines")))]
    multipliers, f_x, f_ref = _reference_multipliers(model, inputs.arrays, refs, target, additional_forward_args,
                                                    eps, max_pool)
    attributions, delta = _contributions(inputs.arrays, refs, multipliers, multiply_by_inputs, f_x, f_ref)
    if not return_convergence_delta:
        return inputs.restore(attributions)
    return inputs.restore(attributions), (delta[0] if inputs.single else delta)


def deeplift_shap(model, x, target, baselines, return_convergence_delta=False, multiply_by_inputs=True,
                  additional_forward_args=None, eps=1e-10, max_pool="gradient"):
    """DeepLIFT averaged over a distribution of references, mean_b C(x; x'_b) (DeepLIFT SHAP:
    Lundberg & Lee 2017, sec. 4.2), Captum's ``DeepLiftShap``.

    baselines : array (B, ...) of B references with x's shape after the batch axis (a tuple of such,
        one per input, for a tuple x); every sample is explained against every reference
    return_convergence_delta : also return the deltas f(x) - f(x'_b) - sum_i C_i(x; x'_b), (N, B)
        (Captum returns them flattened and negated: ``-deltas.reshape(-1)``)
    other options : as ``deeplift``

    Returns x's shape (and the deltas, (B,) for a single image).
    """
    inputs = Inputs(x)
    boolean(return_convergence_delta, "return_convergence_delta")
    dists = [_distribution(b, a, _name("baselines", inputs, i))
             for i, (a, b) in enumerate(zip(inputs.arrays, inputs.per_input(baselines, "baselines")))]
    n_refs = len(dists[0])
    if any(len(d) != n_refs for d in dists):
        raise ValueError(f"baselines: every input needs the same number of references, got "
                         f"{[len(d) for d in dists]}")
    n = inputs.n
    # reference-major rows b * n + i: sample i against reference b, so targets and args tile as copies
    tiled = [np.tile(a, (n_refs,) + (1,) * (a.ndim - 1)) for a in inputs.arrays]
    refs = [np.repeat(d, n, axis=0) for d in dists]
    multipliers, f_x, f_ref = _reference_multipliers(model, tiled, refs, repeat_target(target, n, n_refs),
                                                    follow_batch(additional_forward_args, n, copies_of(n, n_refs)),
                                                    eps, max_pool)
    attributions, delta = _contributions(tiled, refs, multipliers, multiply_by_inputs, f_x, f_ref)
    attributions = [c.reshape((n_refs,) + a.shape).mean(axis=0) for c, a in zip(attributions, inputs.arrays)]
    if not return_convergence_delta:
        return inputs.restore(attributions)
    delta = delta.reshape(n_refs, n).T
    return inputs.restore(attributions), (delta[0] if inputs.single else delta)


def _distribution(baselines, a, name):
    """``baselines`` as an array (B, ...) of references for the inputs ``a`` (N, ...)."""
    dist = array(baselines, name)
    if dist.ndim != a.ndim or dist.shape[1:] != a.shape[1:]:
        raise ValueError(f"{name}: expected a distribution of references, an array (B, "
                         f"{', '.join(map(str, a.shape[1:]))}), got shape {dist.shape}")
    return dist.astype(a.dtype, copy=False)
