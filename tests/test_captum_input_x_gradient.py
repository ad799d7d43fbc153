"""Captum 0.9's tests/attr/test_input_x_gradient.py, case by case, in minigrad (issue #32).

Captum's ``InputXGradient`` is ``methods.input_x_gradient`` and ``NoiseTunnel(InputXGradient)`` is
``methods.smoothgrad(methods.input_x_gradient, ...)`` with ``kind`` for Captum's ``nt_type``. The
configs are Captum's (tests/attr/helpers/get_config_util.py, shared with test_saliency.py; see
tests/test_captum_saliency.py for how their gradients are worked out) and the classification model
is Captum's SoftmaxModel with its own random weights, its gradient computed independently in NumPy.
Tolerances are Captum's: delta 0.05 in mode "max" for the configs, 1e-5 "max" for classification.

Noise: our draws are not torch's. Captum checks only the shape of every NoiseTunnel result; these
tests check it too, plus what holds for any draw (noted per case) and that stdevs=0 gives the
vanilla attribution.

``assertTrue(input_x_grad.multiplies_by_inputs)`` inside Captum's helper is an attribute of Captum's
class, with no counterpart here. Every Captum test function of this file is ported.
"""
import os
import sys

import numpy as np
import pytest

import methods

sys.path.insert(0, os.path.dirname(__file__))
from test_captum_saliency import (SoftmaxModel, assert_almost_equal, basic_config,  # noqa: E402
                                  multiargs_config, softmax_model_gradient)


def input_x_gradient_base_assert(model, inputs, grads, args, kind="vanilla", stdevs=0.0002):
    """Captum's _input_x_gradient_base_assert: vanilla results against grad * input (delta 0.05,
    mode "max"), every result of its input's shape. NoiseTunnel: 10 samples, stdevs 2e-4."""
    if kind == "vanilla":
        attributions = methods.input_x_gradient(model, inputs, None, additional_forward_args=args)
    else:
        attributions = methods.smoothgrad(methods.input_x_gradient, model, inputs, None, n_samples=10,
                                          stdevs=stdevs, kind=kind, additional_forward_args=args)
    assert isinstance(attributions, tuple) and len(attributions) == len(inputs)
    for x, attribution, grad in zip(inputs, attributions, grads):
        if kind == "vanilla":
            assert_almost_equal(attribution, grad * x, delta=0.05, mode="max")
        assert attribution.shape == x.shape
    return attributions


def test_input_x_gradient_test_basic_vanilla():
    """Captum tests/attr/test_input_x_gradient.py::Test::test_input_x_gradient_test_basic_vanilla.

    BasicModel on (1, 2, 3, 0, -1, 7): grads (0, 0, 0, 1, 1, 0), so x * grad = (0, 0, 0, 0, -1, 0)."""
    input_x_gradient_base_assert(*basic_config())


@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_input_x_gradient_test_basic_noise_tunnel(kind):
    """Captum tests/attr/test_input_x_gradient.py::Test::test_input_x_gradient_test_basic_smoothgrad
    and ::test_input_x_gradient_test_basic_vargrad (one case per ``kind``).

    Captum checks the shape only. Beyond it, for any draw of noise 2e-4: inputs 2, 3 and 7 keep a
    zero gradient, so their results are exactly 0; inputs 0 and -1 keep gradient 1, so SmoothGrad
    there is the mean noisy input, within 0.05 (Captum's vanilla tolerance) of 0 and -1, and VarGrad
    the noise's sample variance, below 1e-6. With stdevs=0 the result is the vanilla one exactly."""
    model, inputs, grads, args = basic_config()
    (att,) = input_x_gradient_base_assert(model, inputs, grads, args, kind=kind)
    vanilla = grads[0] * inputs[0]
    np.testing.assert_array_equal(att[[1, 2, 5]], 0.0)
    if kind == "smoothgrad":
        assert_almost_equal(att[[3, 4]], vanilla[[3, 4]], delta=0.05, mode="max")
    else:
        assert np.all((att[[3, 4]] >= 0) & (att[[3, 4]] < 1e-6))
    (exact,) = input_x_gradient_base_assert(model, inputs, grads, args, kind=kind, stdevs=0.0)
    np.testing.assert_allclose(exact, vanilla if kind == "smoothgrad" else 0.0, rtol=0, atol=1e-12)


def test_saliency_test_basic_multi_variable_vanilla():
    """Captum tests/attr/test_input_x_gradient.py::Test::test_saliency_test_basic_multi_variable_vanilla.

    BasicModel5_MultiArgs, args ([2, 3], 1): every gradient 0, so every attribution 0."""
    input_x_gradient_base_assert(*multiargs_config())


@pytest.mark.parametrize("kind, captum_name", [
    ("smoothgrad", "test_saliency_test_basic_multi_variable_smoothgrad"),
    ("vargrad", "test_saliency_test_basic_multi_vargrad"),
])
def test_saliency_test_basic_multi_variable_noise_tunnel(kind, captum_name):
    """Captum tests/attr/test_input_x_gradient.py::Test::test_saliency_test_basic_multi_variable_smoothgrad
    and ::test_saliency_test_basic_multi_vargrad (one case per ``kind``).

    Captum checks the shapes only. Beyond them, for any draw of noise 2e-4: the selected
    pre-activations stay below -3, every gradient is 0, so every result is exactly 0."""
    attributions = input_x_gradient_base_assert(*multiargs_config(), kind=kind)
    for att in attributions:
        np.testing.assert_array_equal(att, 0.0)


def classification_case():
    x = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    target = np.array(5)  # Captum's torch.tensor(5): a 0-d index for the whole batch
    model = SoftmaxModel(5, 20, 10)
    expected = softmax_model_gradient(model, x, 5) * x
    assert np.abs(expected).max() > 1e-4  # the ReLUs pass something: the case is not trivially 0
    return model, x, target, expected


def test_input_x_gradient_classification_vanilla():
    """Captum tests/attr/test_input_x_gradient.py::Test::test_input_x_gradient_classification_vanilla.

    SoftmaxModel(5, 20, 10) with its own random weights: x * d softmax_5 / dx, the gradient
    computed by hand in NumPy, delta 1e-5 in mode "max"."""
    model, x, target, expected = classification_case()
    (att,) = methods.input_x_gradient(model, (x,), target)
    assert_almost_equal(att, expected, delta=1e-5, mode="max")
    assert att.shape == x.shape


@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_input_x_gradient_classification_noise_tunnel(kind):
    """Captum tests/attr/test_input_x_gradient.py::Test::test_input_x_gradient_classification_smoothgrad
    and ::test_input_x_gradient_classification_vargrad (one case per ``kind``).

    Captum (10 samples, stdevs 1.0) checks the shape only; so does this, and with stdevs=0 the
    result is the vanilla x * d softmax_5 / dx (VarGrad 0), delta 1e-5 "max"."""
    model, x, target, expected = classification_case()
    (att,) = methods.smoothgrad(methods.input_x_gradient, model, (x,), target, n_samples=10, stdevs=1.0,
                                kind=kind)
    assert att.shape == x.shape
    (exact,) = methods.smoothgrad(methods.input_x_gradient, model, (x,), target, n_samples=10, stdevs=0.0,
                                  kind=kind)
    assert_almost_equal(exact, expected if kind == "smoothgrad" else np.zeros_like(x), delta=1e-5, mode="max")
