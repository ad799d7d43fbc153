"""Attributions to the units of a hidden layer, all along integrated gradients' straight path
x(a) = x' + a (x - x') from the baseline x' to the input x:

- ``layer_conductance``: how much of F(x) - F(x') flows through each unit y of the layer
  (Dhamdhere et al. 2018, "How important is a neuron?"), Captum's ``LayerConductance``;
- ``neuron_conductance``: the same flow through one unit, split over the input features (ibid.),
  Captum's ``NeuronConductance``;
- ``internal_influence``: the layer's gradient averaged along the path (Leino et al. 2018,
  "Influence-directed explanations for deep convolutional networks"), Captum's ``InternalInfluence``;
- ``layer_integrated_gradients``: integrated gradients with the layer's output as the input, the
  path running from the layer's value at x' to its value at x, Captum's ``LayerIntegratedGradients``.

The layer's values themselves are ``methods.activations`` (Captum's ``LayerActivation``).

``layer`` is a module of the model; ``attribute_to_layer_input=True`` takes what entered the layer
(its first argument) instead of its output, as Captum. The integrals use
``methods.integrated_gradients.path_points`` (Gauss-Legendre by default, as Captum's layer methods),
and ``internal_batch_size`` bounds the samples x steps of one forward pass, as in integrated
gradients. x may be Captum's tuple of inputs (see ``methods.inputs_and_targets``).
"""

import numpy as np

import minigrad
from methods.inputs_and_targets import (Inputs, broadcast_baseline, check_layer, copies_of, follow_batch,
                                        layer_tensor, repeat_target, run_model, scores, unbatch)
from methods.integrated_gradients import _path_points, path_points
from minigrad import Tensor
from minigrad.argument_checks import boolean, integer


def layer_conductance(model, x, target, layer, baselines=0.0, n_steps=50, method="gausslegendre",
                      internal_batch_size=None, return_convergence_delta=False, attribute_to_layer_input=False,
                      additional_forward_args=None):
    """Cond_y = int_0^1 dF/dy(x(a)) dy(x(a))/da da for every unit y of ``layer``: Dhamdhere et al.
    2018's conductance of y, sum_i (x_i - x'_i) int dF/dy dy/dx_i da, with the chain rule summed
    over the inputs i. Computed as the Riemann-Stieltjes sum of Shrikumar et al. 2018
    ("Computationally efficient measures of internal neuron importance"),
    sum_k dF/dy(x(a_k)) (y(x(a_{k+1})) - y(x(a_k))), over the n_steps + 1 points a_0 < ... < a_n of
    ``method``, as Captum's LayerConductance. The rule's weights are not used (the points only cut
    the path into pieces), so Gauss-Legendre, whose points stop short of 0 and 1, leaves out the
    two end pieces [0, a_0] and [a_n, 1]; and the sum takes dF/dy at each piece's left end, so its
    error falls as 1/n_steps whatever the rule (2% of F(x) - F(x') at 50 steps on a small ReLU
    network, 0.5% at 200).

    x : (N, C, H, W), one image (C, H, W), or a tuple of inputs
    target : a class index, one per sample, or a callable (see ``methods.inputs_and_targets.scores``)
    layer : a module of ``model``; its output (or input, ``attribute_to_layer_input``) has any shape (N, ...)
    baselines : x' as a number or an array broadcastable to x (a tuple, one per input, for a tuple x)
    n_steps, method : the path's pieces and where they end (``path_points``' rules)
    internal_batch_size : samples x steps per forward pass (default: all of them at once)
    return_convergence_delta : also return F(x) - F(x') - sum_y Cond_y per sample; completeness
        (summed over a layer that every path from x to F goes through) says it tends to 0 as
        n_steps grows. Captum's delta is its negative.

    Returns the layer's shape (N, ...) (without N for one image) (and the (N,) deltas).
    """
    boolean(return_convergence_delta, "return_convergence_delta")
    alphas, _ = path_points(integer(n_steps, "n_steps", low=1) + 1, method)  # n_steps pieces need n_steps + 1 ends
    inputs, bases, _, fx = _setup(model, x, target, layer, baselines, attribute_to_layer_input,
                                  additional_forward_args, return_convergence_delta, internal_batch_size)
    total, last = 0.0, None
    for _, y, dF_dy in _along_input_path(model, inputs, bases, alphas, target, layer, attribute_to_layer_input,
                                         additional_forward_args, internal_batch_size):
        y, dF_dy = y.data.reshape((-1, inputs.n) + y.shape[1:]), dF_dy.reshape((-1, inputs.n) + y.shape[1:])
        if last is not None:  # the piece from the previous pass's last point to this pass's first
            y, dF_dy = np.concatenate([last[0], y]), np.concatenate([last[1], dF_dy])
        total = total + (dF_dy[:-1] * (y[1:] - y[:-1])).sum(axis=0)
        last = y[-1:], dF_dy[-1:]
    return _finish(total, inputs, fx, return_convergence_delta)


def internal_influence(model, x, target, layer, baselines=0.0, n_steps=50, method="gausslegendre",
                       internal_batch_size=None, attribute_to_layer_input=False, additional_forward_args=None):
    """II_y = int_0^1 dF/dy(x(a)) da for every unit y of ``layer``: the layer's gradient averaged
    along the path (Leino et al. 2018's internal influence, its distribution of interest uniform on
    the path, as Captum's InternalInfluence), the integral by ``method`` with ``n_steps`` points. It is
    conductance without the factor dy/da, so it is not multiplied by any difference.

    The arguments are ``layer_conductance``'s. Returns the layer's shape (N, ...) (without N for one image).
    """
    alphas, weights = path_points(n_steps, method)
    inputs, bases, _, _ = _setup(model, x, target, layer, baselines, attribute_to_layer_input,
                                 additional_forward_args, False, internal_batch_size)
    total = 0.0
    for steps, y, dF_dy in _along_input_path(model, inputs, bases, alphas, target, layer,
                                             attribute_to_layer_input, additional_forward_args, internal_batch_size):
        total = total + np.tensordot(weights[steps], dF_dy.reshape((-1, inputs.n) + y.shape[1:]), axes=1)
    return unbatch(total, inputs.single)


def neuron_conductance(model, x, target, layer, neuron, baselines=0.0, n_steps=50, method="gausslegendre",
                       internal_batch_size=None, multiply_by_inputs=True, attribute_to_neuron_input=False,
                       additional_forward_args=None):
    """Cond^y_i = (x_i - x'_i) int_0^1 dF/dy(x(a)) dy/dx_i(x(a)) da for the one unit y = layer
    output[n, *neuron] and every input feature i (Dhamdhere et al. 2018), the integral by
    ``method`` with ``n_steps`` points. Summed over i it is y's ``layer_conductance``, up to the two
    quadratures' errors.

    neuron : the unit's index into the layer's output without the batch axis, a tuple of one int per
        axis ((k, i, j) in an (N, K, h, w) output), or an int for an (N, K) output (Captum's
        ``neuron_selector`` as ints; its slices and callables are not taken)
    multiply_by_inputs : False leaves out the (x_i - x'_i) factor (Captum's ``multiply_by_inputs``)
    attribute_to_neuron_input : the unit is one of what entered ``layer`` (Captum's name)

    Captum's NeuronConductance defaults to method="riemann_trapezoid", whose steps of 1/n make its
    result (n-1)/n times this one's with that rule (see ``path_points``); ours is Gauss-Legendre, as
    the other path methods here. The other arguments are ``layer_conductance``'s.
    Returns x's shape (a tuple for a tuple of inputs).
    """
    boolean(multiply_by_inputs, "multiply_by_inputs")
    alphas, weights = path_points(n_steps, method)
    inputs, bases, _, _ = _setup(model, x, target, layer, baselines, attribute_to_neuron_input,
                                 additional_forward_args, False, internal_batch_size, "attribute_to_neuron_input")
    totals = [np.zeros_like(a) for a in inputs.arrays]
    for steps, y, dF_dy, xts in _along_input_path(model, inputs, bases, alphas, target, layer,
                                                  attribute_to_neuron_input, additional_forward_args,
                                                  internal_batch_size, with_inputs=True):
        unit = (slice(None),) + _neuron_index(neuron, y.shape)
        seed = np.zeros(y.shape, y.dtype)
        seed[unit] = 1.0
        dy_dx = minigrad.grad(y, xts, seed=seed)  # each sample's y depends on its own row alone
        for total, g in zip(totals, dy_dx):
            g = (g * dF_dy[unit].reshape((-1,) + (1,) * (g.ndim - 1))).reshape((-1, inputs.n) + g.shape[1:])
            total += np.tensordot(weights[steps], g, axes=1)
    return inputs.restore([(a - b) * t if multiply_by_inputs else t
                           for a, b, t in zip(inputs.arrays, bases, totals)])


def layer_integrated_gradients(model, x, target, layer, baselines=0.0, n_steps=50, method="gausslegendre",
                               internal_batch_size=None, return_convergence_delta=False,
                               attribute_to_layer_input=False, multiply_by_inputs=True,
                               additional_forward_args=None):
    """LIG_y = (y(x) - y(x')) int_0^1 dF/dy(y(x') + a (y(x) - y(x'))) da for every unit y of
    ``layer``: integrated gradients (Sundararajan et al. 2017, eq. 1) with the layer's value as the
    input, the network below the layer run on x and its output replaced by the path's points (as
    Captum's LayerIntegratedGradients does with a forward hook). With ``attribute_to_layer_input``
    at the first layer this is ``integrated_gradients`` of x.

    multiply_by_inputs : False returns the integral alone, without y(x) - y(x') (Captum's)
    return_convergence_delta : also return F(x) - F(x') - sum_y LIG_y per sample (0 up to the
        quadrature's error when F depends on x only through the layer; Captum's delta is its negative)

    The other arguments are ``layer_conductance``'s. Returns the layer's shape (N, ...) (without N
    for one image) (and the (N,) deltas).
    """
    boolean(return_convergence_delta, "return_convergence_delta")
    boolean(multiply_by_inputs, "multiply_by_inputs")
    alphas, weights = path_points(n_steps, method)
    inputs, bases, (y_x, y_base), fx = _setup(model, x, target, layer, baselines, attribute_to_layer_input,
                                              additional_forward_args, True, internal_batch_size)
    total = np.zeros_like(y_x)
    for steps, copies, step_target, step_args in _step_batches(inputs.n, alphas, internal_batch_size, target,
                                                               additional_forward_args):
        fed = Tensor(_path_points(y_x, y_base, alphas[steps]), requires_grad=True)
        with minigrad.feed(layer, fed, attribute_to_layer_input):
            s = scores(run_model(model, [Tensor(a[copies]) for a in inputs.arrays], step_args), step_target)
        g, = minigrad.grad(s, [fed])
        total += np.tensordot(weights[steps], g.reshape((-1,) + y_x.shape), axes=1)
    return _finish((y_x - y_base) * total if multiply_by_inputs else total, inputs, fx, return_convergence_delta)


def _setup(model, x, target, layer, baselines, at_input, additional_forward_args, at_ends, internal_batch_size,
           at_input_name="attribute_to_layer_input"):
    """Check the arguments shared by every method here -> (``Inputs`` of x, the baselines (one per
    input, x's shape), and with ``at_ends`` the layer's values at x and at x' and F(x) - F(x') (N,),
    from one forward pass of both; else None, None)."""
    check_layer(model, layer)
    boolean(at_input, at_input_name)
    if internal_batch_size is not None:
        integer(internal_batch_size, "internal_batch_size", low=1)
    inputs = Inputs(x)
    bases = [broadcast_baseline(b, a.shape, a.dtype, f"baselines[{i}]" if inputs.is_tuple else "baselines")
             for i, (a, b) in enumerate(zip(inputs.arrays, inputs.per_input(baselines, "baselines")))]
    if not at_ends:
        return inputs, bases, None, None
    n = inputs.n
    ends = [Tensor(np.concatenate([a, b]), requires_grad=True) for a, b in zip(inputs.arrays, bases)]
    with minigrad.capture(layer) as acts:
        s = scores(run_model(model, ends, follow_batch(additional_forward_args, n, copies_of(n, 2))),
                   repeat_target(target, n, 2)).data
    y = layer_tensor(acts, layer, at_input).data
    return inputs, bases, (y[:n], y[n:]), s[:n] - s[n:]


def _finish(attributions, inputs, fx, return_convergence_delta):
    """The layer's attributions (N, ...) as returned: without N for one image, and with the deltas
    F(x) - F(x') - sum of the attributions per sample when asked."""
    result = unbatch(attributions, inputs.single)
    if not return_convergence_delta:
        return result
    delta = fx - attributions.reshape(inputs.n, -1).sum(axis=1)
    return result, (delta[0] if inputs.single else delta)


def _step_batches(n, alphas, internal_batch_size, target, additional_forward_args):
    """The path's points in passes of whole steps, ``internal_batch_size // n`` steps each (at least
    one): yields (the steps' slice of ``alphas``, the rows of x's batch for them, step-major, and
    the target and forward args repeated for them)."""
    per_pass = max(1, (internal_batch_size or n * len(alphas)) // n)
    for k in range(0, len(alphas), per_pass):
        copies = min(per_pass, len(alphas) - k)
        rows = copies_of(n, copies)
        yield (slice(k, k + copies), rows, repeat_target(target, n, copies),
               follow_batch(additional_forward_args, n, rows))


def _along_input_path(model, inputs, bases, alphas, target, layer, at_input, additional_forward_args,
                      internal_batch_size, with_inputs=False):
    """Forward and backward passes at the points x' + a (x - x') for a in ``alphas``: yields (the
    steps' slice of ``alphas``, the layer's tensor y (S * N, ...) step-major, dF/dy as an array of
    its shape, and with ``with_inputs`` the points' leaf tensors, one per input)."""
    for steps, _, step_target, step_args in _step_batches(inputs.n, alphas, internal_batch_size, target,
                                                          additional_forward_args):
        xts = [Tensor(_path_points(a, b, alphas[steps]), requires_grad=True)
               for a, b in zip(inputs.arrays, bases)]
        with minigrad.capture(layer) as acts:
            s = scores(run_model(model, xts, step_args), step_target)
        y = layer_tensor(acts, layer, at_input)
        dF_dy, = minigrad.grad(s, [y])
        yield (steps, y, dF_dy, xts) if with_inputs else (steps, y, dF_dy)


def _neuron_index(neuron, shape):
    """``neuron`` as a tuple of ints inside ``shape`` (N, d_1, ..., d_k) without its batch axis."""
    index = (neuron,) if isinstance(neuron, (int, np.integer)) and not isinstance(neuron, bool) else neuron
    dims = shape[1:]
    ints = isinstance(index, tuple) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                                            for i in index)
    if not ints or len(index) != len(dims) or any(not 0 <= i < d for i, d in zip(index, dims)):
        raise ValueError(f"neuron: expected a tuple of {len(dims)} ints indexing the layer's unit shape {dims}"
                         f"{' (or an int)' if len(dims) == 1 else ''}, got {neuron!r:.80}")
    return tuple(int(i) for i in index)
