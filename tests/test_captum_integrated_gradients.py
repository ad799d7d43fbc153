"""Captum 0.9's tests/attr/test_integrated_gradients_basic.py (with its NoiseTunnel cases), written
anew for ``methods.integrated_gradients`` and ``methods.smoothgrad`` (Captum's NoiseTunnel); its
test_integrated_gradients_classification.py is in test_captum_integrated_gradients_classification.py.

The same toy models (tests/captum_models.py), inputs, baselines, targets, additional forward args,
quadrature rules, step counts, sample counts, noise levels and tolerances as Captum's. Captum's
``assertTensorAlmostEqual`` (captum/testing/helpers/basic.py) asks for equal shapes and, by default
(``mode="sum"``, ``delta=1e-4``), sum |actual - expected| <= delta; with ``mode="max"`` every entry
within delta: ``assert_almost_equal`` (tests/captum_models.py). Captum's inputs are always tuples
in these helpers, so ours are too (results come back as tuples).

Translations and documented deviations (README, "Differences from Captum"):

* Captum's ``baselines`` is our ``baseline``; NoiseTunnel's ``nt_type``/``nt_samples``/``stdevs``
  are smoothgrad's ``kind``/``n_samples``/``stdevs``, and Captum's default ``nt_samples_batch_size``
  (None: all samples at once) is passed explicitly (ours defaults to 1).
* The convergence delta is ours, f(x) - f(x') - sum of attributions (Captum's is its negative); the
  checks on it are on |delta|, so they are unchanged. Where Captum compares with its
  ``compute_convergence_delta``, the delta is computed here from the model's outputs in our sign.
* ``riemann_trapezoid``: our weights sum to 1 (Captum's to (n-1)/n); the checks tolerate both.
* NoiseTunnel deltas: Captum returns them flattened, (N * n_samples,); ours are (N, n_samples), and
  the tests check that there are N * n_samples of them.
* IG's quadrature ``method`` goes through smoothgrad's ``**options`` as Captum's NoiseTunnel passes
  it (smoothgrad's own ``method`` and ``model`` are positional-only).
* The noise: our draws come from NumPy (``seed``), not torch's generator, so noisy results are not
  Captum's numbers; Captum's checks on them are statistical (the delta bound, the shapes, results
  with and without ``return_convergence_delta`` within 0.05), and they are ported as such.

Captum's ``ig.multiplies_by_inputs`` / ``nt.multiplies_by_inputs`` attribute asserts have no
counterpart (our methods are functions); the rest of each case is ported.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import (BasicModel, BasicModel2, BasicModel3, BasicModel4_MultiArgs,  # noqa: E402
                           BasicModel5_MultiArgs, BasicModel6_MultiTensor, BasicModel_MultiLayer,
                           assert_almost_equal)
from methods import integrated_gradients, smoothgrad  # noqa: E402
from minigrad import Tensor, no_grad  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Captum's comparisons


def forward_scores(model, inputs, target, additional_forward_args):
    """The model's score per sample on a tuple of inputs, computed here (not by the method): the
    output itself for target None, output[:, target] for an index, one index per sample for an array."""
    args = () if additional_forward_args is None else (
        additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,))
    with no_grad():
        out = model(*[Tensor(np.asarray(a, dtype=np.float64)) for a in inputs], *args).data
    n = out.shape[0]
    if target is None:
        return out.reshape(n)
    t = np.broadcast_to(np.asarray(target), (n,))
    return out[np.arange(n), t]


def external_delta(model, inputs, baselines, attributions, target, additional_forward_args):
    """Our convergence delta, f(x) - f(x') - sum of attributions per sample, from the model's outputs
    (Captum's ``compute_convergence_delta``, in our sign)."""
    n = np.asarray(inputs[0]).shape[0]
    bases = tuple(np.broadcast_to(np.asarray(b, dtype=np.float64), np.shape(a)) for a, b in zip(inputs, baselines))
    total = sum(np.asarray(r).reshape(n, -1).sum(axis=1) for r in attributions)
    return (forward_scores(model, inputs, target, additional_forward_args)
            - forward_scores(model, bases, target, additional_forward_args) - total)


# ---------------------------------------------------------------------------------------------
# Captum's helpers of test_integrated_gradients_basic.py


def compute_and_evaluate(model, inputs, baselines=None, target=None, additional_forward_args=None, kind="vanilla",
                         method="gausslegendre", multiply_by_inputs=True, nt_samples_batch_size=None):
    """Captum's ``_compute_attribution_and_evaluate``: integrated gradients (n_steps=500) or NoiseTunnel
    over it (5 samples, stdevs 2e-8, n_steps=500), twice; checks the delta's shape, the delta against
    one computed from the model (vanilla), |delta| <= 0.07 (with multiply_by_inputs), the shapes, and the
    two runs within 0.05 (mode "sum")."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    if baselines is not None and not isinstance(baselines, tuple):
        baselines = (baselines,)
    if baselines is None:
        baselines = tuple(np.zeros_like(np.asarray(a, dtype=np.float64)) for a in inputs)
    n = np.asarray(inputs[0]).shape[0]
    common = dict(baseline=baselines, method=method, n_steps=500, multiply_by_inputs=multiply_by_inputs,
                  additional_forward_args=additional_forward_args)
    if kind == "vanilla":
        attributions, delta = integrated_gradients(model, inputs, target, return_convergence_delta=True, **common)
        attributions_without_delta, delta = integrated_gradients(model, inputs, target,
                                                                 return_convergence_delta=True, **common)
        assert list(np.shape(delta)) == [n]
        delta_external = external_delta(model, inputs, baselines, attributions, target, additional_forward_args)
        assert_almost_equal(delta, delta_external, delta=1e-12, mode="max")  # Captum: 0.0, its delta being the same function
    else:
        noise = dict(n_samples=5, kind=kind, stdevs=2e-8)
        ig = integrated_gradients
        attributions, delta = smoothgrad(ig, model, inputs, target, return_convergence_delta=True,
                                         nt_samples_batch_size=nt_samples_batch_size, **noise, **common)
        attributions_without_delta = smoothgrad(ig, model, inputs, target, nt_samples_batch_size=3, **noise, **common)
        assert np.shape(delta) == (n, 5)  # Captum's (N * n_samples,), flattened
    assert isinstance(attributions, tuple) and len(attributions) == len(inputs)
    for a, r in zip(inputs, attributions):
        assert np.shape(r) == np.shape(a)
    if multiply_by_inputs:
        assert_almost_equal(delta, np.zeros(np.shape(delta)), delta=0.07, mode="max")
    for r, r_without in zip(attributions, attributions_without_delta):
        assert_almost_equal(r, r_without, delta=0.05)
    return attributions


def batch_helper_evaluate(model, inputs, target=None, method="gausslegendre"):
    """Captum's ``_compute_attribution_batch_helper_evaluate``: for internal_batch_size None, 10, 20
    (n_steps=100), the batch's attributions equal each sample's alone (max 0.05) and the sum of |delta|
    equals the samples' (0.005)."""
    baselines = tuple(np.zeros_like(a) for a in inputs)
    for internal_batch_size in (None, 10, 20):
        opts = dict(method=method, n_steps=100, internal_batch_size=internal_batch_size,
                    return_convergence_delta=True)
        attributions, delta = integrated_gradients(model, inputs, target, baseline=baselines, **opts)
        total_delta = 0.0
        for i in range(inputs[0].shape[0]):
            single, delta_single = integrated_gradients(model, tuple(a[i:i + 1] for a in inputs), target,
                                                        baseline=tuple(b[i:i + 1] for b in baselines), **opts)
            total_delta += np.abs(delta_single).sum()
            for r, r_single in zip(attributions, single):
                assert_almost_equal(r[i], r_single[0], delta=0.05, mode="max")
        assert abs(np.abs(delta).sum() - total_delta) <= 0.005


def assert_multi_variable(kind, method, multiply_by_inputs=True):
    """Captum's ``_assert_multi_variable``: BasicModel2 and BasicModel3 at (3, 1) from (0, 0) give
    [1.5] and [-0.5] ([0.5] and [-0.5] without multiplying by inputs), within 0.05 (mode "max"), and
    the same total (implementation invariance, exactly)."""
    x = (np.array([3.0]), np.array([1.0]))
    base = (np.array([0.0]), np.array([0.0]))
    expected = ([1.5] if multiply_by_inputs else [0.5], [-0.5])
    a1 = compute_and_evaluate(BasicModel2(), x, base, kind=kind, method=method, multiply_by_inputs=multiply_by_inputs)
    if kind == "vanilla":
        assert_almost_equal(a1[0], expected[0], delta=0.05, mode="max")
        assert_almost_equal(a1[1], expected[1], delta=0.05, mode="max")
    a2 = compute_and_evaluate(BasicModel3(), x, base, kind=kind, method=method, multiply_by_inputs=multiply_by_inputs)
    if kind == "vanilla":
        assert_almost_equal(a2[0], expected[0], delta=0.05, mode="max")
        assert_almost_equal(a2[1], expected[1], delta=0.05, mode="max")
        np.testing.assert_array_equal(a1[0] + a1[1], a2[0] + a2[1])


def assert_univariable(kind, method):
    """Captum's ``_assert_univariable``: BasicModel at 1, 0 and -1 (the last from the baseline 1e-5)."""
    model = BasicModel()
    compute_and_evaluate(model, np.array([1.0]), np.array([0.0]), kind=kind, method=method)
    compute_and_evaluate(model, np.array([0.0]), np.array([0.0]), kind=kind, method=method)
    compute_and_evaluate(model, np.array([-1.0]), 0.00001, kind=kind, method=method)


def assert_multi_argument(kind, method):
    """Captum's ``_assert_multi_argument``: BasicModel4_MultiArgs and BasicModel5_MultiArgs with an
    array, an (array, int) and a (list, int) as additional forward args, and mixed baselines."""
    model = BasicModel4_MultiArgs()
    compute_and_evaluate(model, (np.array([[1.5, 2.0, 34.3]]), np.array([[3.0, 3.5, 23.2]])),
                         baselines=(0.0, np.zeros((1, 3))),
                         additional_forward_args=np.arange(1.0, 4.0).reshape(1, 3), kind=kind, method=method)
    x2 = (np.array([[1.5, 2.0, 34.3], [3.4, 1.2, 2.0]]), np.array([[3.0, 3.5, 23.2], [2.3, 1.2, 0.3]]))
    compute_and_evaluate(model, x2, baselines=(np.zeros((2, 3)), 0.0),
                         additional_forward_args=(np.arange(1.0, 7.0).reshape(2, 3), 1), kind=kind, method=method)
    model = BasicModel5_MultiArgs()
    compute_and_evaluate(model, x2, baselines=(0.0, 0.00001), additional_forward_args=([2, 3], 1), kind=kind,
                         method=method)
    compute_and_evaluate(model, x2, baselines=(np.zeros((1, 3)), 0.00001), additional_forward_args=([2, 3], 1),
                         kind=kind, method=method)


def assert_multi_tensor_input(kind, method):
    """Captum's ``_assert_multi_tensor_input``: BasicModel6_MultiTensor, two (1, 3) inputs."""
    compute_and_evaluate(BasicModel6_MultiTensor(), (np.array([[1.5, 2.0, 3.3]]), np.array([[3.0, 3.5, 2.2]])),
                         kind=kind, method=method)


_BATCH = (np.array([[1.5, 2.0, 1.3], [0.5, 0.1, 2.3], [1.5, 2.0, 1.3]]),)
_BATCH2 = (np.array([[1.5, 2.1, 1.9], [0.5, 0.0, 0.7], [1.5, 2.1, 1.1]]),
           np.array([[0.3, 1.9, 2.4], [0.5, 0.6, 2.1], [1.2, 2.1, 0.2]]))


def assert_batched_tensor_input(kind, method):
    """Captum's ``_assert_batched_tensor_input``: BasicModel_MultiLayer, a batch of 3, target 0."""
    model = BasicModel_MultiLayer()
    compute_and_evaluate(model, _BATCH, kind=kind, target=0, method=method)
    batch_helper_evaluate(model, _BATCH, target=0, method=method)


def assert_batched_tensor_multi_input(kind, method, nt_samples_batch_size=None):
    """Captum's ``_assert_batched_tensor_multi_input``: BasicModel_MultiLayer(x, add_input), target 0."""
    compute_and_evaluate(BasicModel_MultiLayer(), _BATCH2, kind=kind, target=0, method=method,
                         nt_samples_batch_size=nt_samples_batch_size)


def assert_n_samples_batched_size(kind, method, nt_samples_batch_size):
    """Captum's ``_assert_n_samples_batched_size``."""
    compute_and_evaluate(BasicModel_MultiLayer(), _BATCH, kind=kind, target=0, method=method,
                         nt_samples_batch_size=nt_samples_batch_size)


# ---------------------------------------------------------------------------------------------
# test_integrated_gradients_basic.py


def test_multivariable_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multivariable_vanilla."""
    assert_multi_variable("vanilla", "riemann_right")


def test_multivariable_vanilla_wo_mutliplying_by_inputs():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::
    test_multivariable_vanilla_wo_mutliplying_by_inputs."""
    assert_multi_variable("vanilla", "riemann_right", multiply_by_inputs=False)


def test_multivariable_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multivariable_smoothgrad."""
    assert_multi_variable("smoothgrad", "riemann_left")


def test_multivariable_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multivariable_smoothgrad_sq."""
    assert_multi_variable("smoothgrad_sq", "riemann_middle")


def test_multivariable_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multivariable_vargrad
    (riemann_trapezoid: our weights sum to 1, see the module docstring)."""
    assert_multi_variable("vargrad", "riemann_trapezoid")


def test_multi_argument_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_argument_vanilla."""
    assert_multi_argument("vanilla", "gausslegendre")


def test_multi_argument_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_argument_smoothgrad."""
    assert_multi_argument("smoothgrad", "riemann_right")


def test_multi_argument_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_argument_smoothgrad_sq."""
    assert_multi_argument("smoothgrad_sq", "riemann_left")


def test_multi_argument_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_argument_vargrad."""
    assert_multi_argument("vargrad", "riemann_middle")


def test_univariable_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_univariable_vanilla
    (riemann_trapezoid: our weights sum to 1)."""
    assert_univariable("vanilla", "riemann_trapezoid")


def test_univariable_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_univariable_smoothgrad."""
    assert_univariable("smoothgrad", "gausslegendre")


def test_univariable_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_univariable_smoothgrad_sq."""
    assert_univariable("smoothgrad_sq", "riemann_right")


def test_univariable_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_univariable_vargrad."""
    assert_univariable("vargrad", "riemann_left")


def test_multi_tensor_input_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_tensor_input_vanilla."""
    assert_multi_tensor_input("vanilla", "riemann_middle")


def test_multi_tensor_input_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_tensor_input_smoothgrad
    (riemann_trapezoid: our weights sum to 1)."""
    assert_multi_tensor_input("smoothgrad", "riemann_trapezoid")


def test_multi_tensor_input_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_tensor_input_smoothgrad_sq."""
    assert_multi_tensor_input("smoothgrad_sq", "gausslegendre")


def test_multi_tensor_input_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_multi_tensor_input_vargrad."""
    assert_multi_tensor_input("vargrad", "riemann_right")


def test_batched_input_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_vanilla."""
    assert_batched_tensor_input("vanilla", "riemann_left")


def test_batched_input_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_smoothgrad."""
    assert_batched_tensor_input("smoothgrad", "riemann_middle")


def test_batched_input_smoothgrad_with_batch_size_1():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_smoothgrad_with_batch_size_1."""
    assert_n_samples_batched_size("smoothgrad", "riemann_middle", 1)


def test_batched_input_smoothgrad_with_batch_size_2():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_smoothgrad_with_batch_size_2
    (vargrad, as Captum's)."""
    assert_n_samples_batched_size("vargrad", "riemann_middle", 2)


def test_batched_input_smoothgrad_with_batch_size_3():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_smoothgrad_with_batch_size_3
    (smoothgrad_sq, as Captum's)."""
    assert_n_samples_batched_size("smoothgrad_sq", "riemann_middle", 3)


def test_batched_input_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_smoothgrad_sq
    (riemann_trapezoid: our weights sum to 1)."""
    assert_batched_tensor_input("smoothgrad_sq", "riemann_trapezoid")


def test_batched_input_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_input_vargrad."""
    assert_batched_tensor_input("vargrad", "gausslegendre")


def test_batched_input_smoothgrad_wo_mutliplying_by_inputs():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::
    test_batched_input_smoothgrad_wo_mutliplying_by_inputs:
    with stdevs=0, NoiseTunnel over IG without multiplying by inputs, times the inputs, is NoiseTunnel
    over IG (5 samples, n_steps=500, target 0; default comparison)."""
    model = BasicModel_MultiLayer()
    x = _BATCH[0]
    opts = dict(n_samples=5, kind="smoothgrad", stdevs=0.0, n_steps=500, nt_samples_batch_size=None)
    without = smoothgrad(integrated_gradients, model, x=(x,), target=0, multiply_by_inputs=False, **opts)
    with_inputs = smoothgrad(integrated_gradients, model, x=(x,), target=0, **opts)
    assert_almost_equal(without[0] * x, with_inputs[0])


def test_batched_multi_input_vanilla():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_vanilla."""
    assert_batched_tensor_multi_input("vanilla", "riemann_right")


def test_batched_multi_input_smoothgrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_smoothgrad."""
    assert_batched_tensor_multi_input("smoothgrad", "riemann_left")


def test_batched_multi_input_smoothgrad_sq():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_smoothgrad_sq."""
    assert_batched_tensor_multi_input("smoothgrad_sq", "riemann_middle")


def test_batched_multi_input_vargrad():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_vargrad
    (riemann_trapezoid: our weights sum to 1)."""
    assert_batched_tensor_multi_input("vargrad", "riemann_trapezoid")


def test_batched_multi_input_vargrad_batch_size_1():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_vargrad_batch_size_1."""
    assert_batched_tensor_multi_input("vargrad", "riemann_trapezoid", 1)


def test_batched_multi_input_smooth_batch_size_2():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_smooth_batch_size_2
    (vargrad, as Captum's)."""
    assert_batched_tensor_multi_input("vargrad", "riemann_trapezoid", 2)


def test_batched_multi_input_smoothgrad_sq_batch_size_3():
    """Captum tests/attr/test_integrated_gradients_basic.py::Test::test_batched_multi_input_smoothgrad_sq_batch_size_3
    (vargrad, as Captum's)."""
    assert_batched_tensor_multi_input("vargrad", "riemann_trapezoid", 3)
