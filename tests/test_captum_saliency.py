"""Captum 0.9's tests/attr/test_saliency.py, case by case, in minigrad (issue #32).

Captum's ``Saliency`` (abs=True by default) is ``methods.saliency`` for inputs without a channel axis
((N,) and (N, F), all the inputs here), and ``NoiseTunnel(Saliency)`` is
``methods.smoothgrad(methods.saliency, ...)`` with ``kind`` for Captum's ``nt_type``. Inputs that are
not image batches go in Captum's tuple form, ``(x,)``, and come back as a tuple.

Expected values are Captum's: the hand-computed gradients of its basic config, the gradients of
BasicModel5_MultiArgs (Captum takes them from autograd; here they are worked out by hand in
``multiargs_config``), and for the classification cases the gradient of the softmax output computed
independently in NumPy (Captum takes it from ``output.backward()``). The comparisons use Captum's
tolerances (``assert_almost_equal`` is its ``assertTensorAlmostEqual``).

Noise: our noise draws are not torch's, so where Captum checks only the shape of a NoiseTunnel
result, these tests check the shape too, plus what holds for any noise draw: Captum's
stdevs=2e-7 cannot move an input across a kink of these piecewise-linear models except where the
input sits on one, so the result is exact elsewhere; and stdevs=0 gives the vanilla attribution.

Not ported: ``test_futures_not_implemented`` (Captum's ``attribute_future`` API; minigrad has none).
``assertFalse(saliency.multiplies_by_inputs)`` inside Captum's helper is an attribute of Captum's
class, with no counterpart here.
"""
import os
import sys

import numpy as np
import pytest

import methods
from minigrad import Tensor

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import BasicModel, BasicModel5_MultiArgs, SoftmaxModel, assert_almost_equal  # noqa: E402


def softmax_model_gradient(model, x, target):
    """d softmax(z)_target / dx of SoftmaxModel in plain NumPy (the chain rule by hand)."""
    W1, b1 = model.lin1.weight.data, model.lin1.bias.data
    W2, b2 = model.lin2.weight.data, model.lin2.bias.data
    W3, b3 = model.lin3.weight.data, model.lin3.bias.data
    h1 = x @ W1.T + b1
    h2 = np.maximum(h1, 0) @ W2.T + b2
    z = np.maximum(h2, 0) @ W3.T + b3
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(p)
    onehot[:, target] = 1
    gz = p[:, [target]] * (onehot - p)
    gh2 = (gz @ W3) * (h2 > 0)
    gh1 = (gh2 @ W2) * (h1 > 0)
    return gh1 @ W1


def basic_config():
    """Captum's get_basic_config: BasicModel on six scalars, and its hand-computed gradients."""
    x = np.array([1.0, 2.0, 3.0, 0.0, -1.0, 7.0])
    grads = np.array([-0.0, -0.0, -0.0, 1.0, 1.0, -0.0])
    return BasicModel(), (x,), (grads,), None


def multiargs_config():
    """Captum's get_multiargs_basic_config: BasicModel5_MultiArgs with args ([2, 3], 1), so the
    output is relu(2 relu(x1 - 1) - 3 relu(x2))[:, 1]: row 0 2*1.0 - 3*3.5 < 0, row 1 2*0.2 - 3*1.2
    < 0, both ReLUs closed: every gradient is 0 (what Captum's compute_gradients returns)."""
    x1 = np.array([[1.5, 2.0, 34.3], [3.4, 1.2, 2.0]])
    x2 = np.array([[3.0, 3.5, 23.2], [2.3, 1.2, 0.3]])
    return BasicModel5_MultiArgs(), (x1, x2), (np.zeros((2, 3)), np.zeros((2, 3))), ([2, 3], 1)


def multiargs_config_large():
    """Captum's get_multiargs_basic_config_large: each row repeated 3 times. Column 1: row 0
    2*11 - 3*3.5 = 11.5 > 0, row 1 2*50.2 - 3*1.2 > 0: the gradient is 2 for x1[:, 1] and -3 for
    x2[:, 1], 0 elsewhere."""
    x1 = np.repeat(np.array([[10.5, 12.0, 34.3], [43.4, 51.2, 32.0]]), 3, axis=0)
    x2 = np.repeat(np.array([[1.0, 3.5, 23.2], [2.3, 1.2, 0.3]]), 3, axis=0)
    g1 = np.zeros((6, 3))
    g1[:, 1] = 2.0
    g2 = np.zeros((6, 3))
    g2[:, 1] = -3.0
    return BasicModel5_MultiArgs(), (x1, x2), (g1, g2), ([2, 3], 1)


def saliency_base_assert(model, inputs, expected, args, kind="vanilla", batch_size=None, stdevs=2e-7):
    """Captum's _saliency_base_assert: vanilla results against |expected| (per element below 1e-3
    for 1-d inputs, whose elements Captum's loop visits one by one; delta 0.5 in mode "max" for
    rows), and every result of the input's shape. NoiseTunnel: 10 samples, stdevs 2e-7."""
    if kind == "vanilla":
        attributions = methods.saliency(model, inputs, None, additional_forward_args=args)
    else:
        attributions = methods.smoothgrad(methods.saliency, model, inputs, None, n_samples=10, stdevs=stdevs,
                                          kind=kind, nt_samples_batch_size=batch_size,
                                          additional_forward_args=args)
    assert isinstance(attributions, tuple) and len(attributions) == len(inputs)
    for x, attribution, grad in zip(inputs, attributions, expected):
        if kind == "vanilla":
            if x.ndim == 1:
                assert np.all(np.abs(attribution - np.abs(grad)) < 0.001), (attribution, grad)
            else:
                assert_almost_equal(attribution, np.abs(grad), delta=0.5, mode="max")
        assert attribution.shape == x.shape
    return attributions


def test_saliency_test_basic_vanilla():
    """Captum tests/attr/test_saliency.py::Test::test_saliency_test_basic_vanilla."""
    saliency_base_assert(*basic_config())


@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_saliency_test_basic_noise_tunnel(kind):
    """Captum tests/attr/test_saliency.py::Test::test_saliency_test_basic_smoothgrad and
    ::test_saliency_test_basic_vargrad (one case per ``kind``).

    Captum checks the shape only. Beyond it, for any noise draw: x = 1 sits on BasicModel's kink, so
    there the gradient is 0 or 1 at random (the SmoothGrad mean lies in [0, 1], the VarGrad
    variance p(1 - p) in [0, 1/4]); noise of 2e-7 moves no other input across a kink, so the other
    five are exact: |grad| for SmoothGrad, 0 for VarGrad. With stdevs=0 the result is the vanilla
    one exactly (VarGrad 0)."""
    model, inputs, (grads,), args = basic_config()
    (att,) = saliency_base_assert(model, inputs, (grads,), args, kind=kind)
    if kind == "smoothgrad":
        assert 0.0 <= att[0] <= 1.0
        np.testing.assert_allclose(att[1:], np.abs(grads[1:]), rtol=0, atol=1e-12)
    else:
        assert 0.0 <= att[0] <= 0.25 + 1e-12
        np.testing.assert_allclose(att[1:], 0.0, rtol=0, atol=1e-12)
    (exact,) = saliency_base_assert(model, inputs, (grads,), args, kind=kind, stdevs=0.0)
    np.testing.assert_allclose(exact, np.abs(grads) if kind == "smoothgrad" else 0.0, rtol=0, atol=1e-12)


def test_saliency_test_basic_multi_variable_vanilla():
    """Captum tests/attr/test_saliency.py::Test::test_saliency_test_basic_multi_variable_vanilla."""
    saliency_base_assert(*multiargs_config())


@pytest.mark.parametrize("kind, captum_name", [
    ("smoothgrad", "test_saliency_test_basic_multi_variable_smoothgrad"),
    ("vargrad", "test_saliency_test_basic_multi_vargrad"),
])
def test_saliency_test_basic_multi_variable_noise_tunnel(kind, captum_name):
    """Captum tests/attr/test_saliency.py::Test::test_saliency_test_basic_multi_variable_smoothgrad
    and ::test_saliency_test_basic_multi_vargrad (one case per ``kind``).

    Captum checks the shapes only. Beyond them, for any draw of noise 2e-7: the pre-activation of
    the selected column stays below -3, so every gradient, hence every result, is exactly 0."""
    model, inputs, expected, args = multiargs_config()
    attributions = saliency_base_assert(model, inputs, expected, args, kind=kind)
    for att in attributions:
        np.testing.assert_array_equal(att, 0.0)


@pytest.mark.parametrize("kind, batch_size, captum_name", [
    ("smoothgrad", 2, "test_saliency_test_basic_multivar_sg_n_samples_batch_size_2"),
    ("smoothgrad_sq", 3, "test_saliency_test_basic_multivar_sg_n_samples_batch_size_3"),
    ("vargrad", 1, "test_saliency_test_basic_multivar_vg_n_samples_batch_size_1"),
    ("vargrad", 6, "test_saliency_test_basic_multivar_vg_n_samples_batch_size_6"),
])
def test_saliency_test_basic_multivar_n_samples_batch_size(kind, batch_size, captum_name):
    """Captum tests/attr/test_saliency.py::Test::test_saliency_test_basic_multivar_sg_n_samples_batch_size_2,
    ::test_saliency_test_basic_multivar_sg_n_samples_batch_size_3,
    ::test_saliency_test_basic_multivar_vg_n_samples_batch_size_1 and
    ::test_saliency_test_basic_multivar_vg_n_samples_batch_size_6 (one case each).

    Captum's assertion: the NoiseTunnel result with ``nt_samples_batch_size`` equals the one with
    all samples at once (None), default delta 1e-4 in mode "sum", for each input. It holds for any
    noise given the same draws (same seed). Beyond it, for any draw of noise 2e-7 (the selected
    pre-activations are above 11): the gradient is 2 for x1[:, 1] and -3 for x2[:, 1], 0 elsewhere,
    so SmoothGrad is |g|, SmoothGrad-squared g^2 and VarGrad 0."""
    model, inputs, grads, args = multiargs_config_large()
    batched = saliency_base_assert(model, inputs, grads, args, kind=kind, batch_size=batch_size)
    at_once = saliency_base_assert(model, inputs, grads, args, kind=kind, batch_size=None)
    assert len(batched) == len(at_once) == 2
    for a, b in zip(batched, at_once):
        assert_almost_equal(a, b)
    for att, g in zip(batched, grads):
        want = {"smoothgrad": np.abs(g), "smoothgrad_sq": g * g, "vargrad": 0 * g}[kind]
        np.testing.assert_allclose(att, want, rtol=0, atol=1e-9)


def classification_case():
    x = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    target = np.array(5)  # Captum's torch.tensor(5): a 0-d index for the whole batch
    model = SoftmaxModel(5, 20, 10)
    expected = softmax_model_gradient(model, x, 5)
    assert np.abs(expected).max() > 1e-4  # the ReLUs pass something: the case is not trivially 0
    return model, x, target, expected


def test_saliency_classification_vanilla():
    """Captum tests/attr/test_saliency.py::Test::test_saliency_classification_vanilla.

    SoftmaxModel(5, 20, 10) with its own random weights (see the class): the saliency equals
    |d softmax_5 / dx|, computed by hand in NumPy, default delta 1e-4 in mode "sum"."""
    model, x, target, expected = classification_case()
    (att,) = methods.saliency(model, (x,), target)
    assert_almost_equal(att, np.abs(expected))
    assert att.shape == x.shape


@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_saliency_classification_noise_tunnel(kind):
    """Captum tests/attr/test_saliency.py::Test::test_saliency_classification_smoothgrad and
    ::test_saliency_classification_vargrad (one case per ``kind``).

    Captum (10 samples, stdevs 2e-4) checks the shape only; so does this, and with stdevs=0 the
    result is the vanilla saliency |d softmax_5 / dx| (VarGrad 0), delta 1e-4 "sum"."""
    model, x, target, expected = classification_case()
    (att,) = methods.smoothgrad(methods.saliency, model, (x,), target, n_samples=10, stdevs=0.0002, kind=kind)
    assert att.shape == x.shape
    (exact,) = methods.smoothgrad(methods.saliency, model, (x,), target, n_samples=10, stdevs=0.0, kind=kind)
    assert_almost_equal(exact, np.abs(expected) if kind == "smoothgrad" else np.zeros_like(x))


def test_saliency_grad_unchanged():
    """Captum tests/attr/test_saliency.py::Test::test_saliency_grad_unchanged.

    Captum gives the input tensor a random ``.grad`` and checks that the attribution leaves it as it
    was (delta 0). Here the input is a minigrad Tensor with a random ``.grad``; the vanilla case
    must still pass and the ``.grad`` (and the data) stay exactly as they were."""
    model, (x,), grads, args = basic_config()
    xt = Tensor(x.copy(), requires_grad=True)
    xt.grad = np.random.default_rng(1234).standard_normal(x.shape)
    grad_before = xt.grad.copy()
    saliency_base_assert(model, (xt,), grads, args)
    np.testing.assert_array_equal(xt.grad, grad_before)
    np.testing.assert_array_equal(xt.data, x)
