"""Captum 0.9's tests/attr/test_integrated_gradients_classification.py (with its NoiseTunnel cases),
written anew for ``methods.integrated_gradients`` and ``methods.smoothgrad``.

Captum's SigmoidModel and SoftmaxModel (captum/testing/helpers/classification_models.py) keep
torch's random initialisation, so Captum's cases assert identities only: completeness through the
delta, the delta equal to ``compute_convergence_delta``'s, shapes. Ours (tests/captum_models.py)
draw their weights from NumPy: the same architecture, other random numbers. The translations of
test_captum_integrated_gradients.py's docstring apply (our delta's sign, our trapezoid weights,
(N, n_samples) NoiseTunnel deltas).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import SigmoidModel, SoftmaxModel, assert_almost_equal  # noqa: E402
from methods import integrated_gradients, smoothgrad  # noqa: E402
from test_captum_integrated_gradients import external_delta  # noqa: E402


def validate_completeness(model, x, target, kind, method, baseline=None):
    """Captum's ``_validate_completness``: vanilla IG (n_steps=200) has a delta equal to the one from
    the model's outputs (default comparison), |delta| < 0.005, one per sample; NoiseTunnel (10 samples,
    stdevs 2e-4, n_steps=100) has N * 10 deltas; every |delta| < 0.05 and the result has x's shape."""
    n = x.shape[0]
    base = np.zeros_like(x) if baseline is None else baseline
    if kind == "vanilla":
        attributions, delta = integrated_gradients(model, (x,), target, baseline=(base,), method=method,
                                                   n_steps=200, return_convergence_delta=True)
        assert_almost_equal(external_delta(model, (x,), (base,), attributions, target, None), delta)
        assert np.all(np.abs(delta) < 0.005), delta
        assert list(np.shape(delta)) == [n]
    else:
        attributions, delta = smoothgrad(integrated_gradients, model, (x,), target, method=method,
                                         n_samples=10, kind=kind, stdevs=0.0002, nt_samples_batch_size=None,
                                         baseline=(base,), n_steps=100, return_convergence_delta=True)
        assert np.size(delta) == n * 10 and np.shape(delta) == (n, 10)  # Captum's (N * 10,), flattened
    assert np.all(np.abs(delta) < 0.05)
    assert attributions[0].shape == x.shape


#: Captum's three helpers: (model, x, target, baseline). _assert_sigmoid_classification:
#: SigmoidModel(20, 5, 1) at arange(20), target 0; _assert_softmax_classification: SoftmaxModel(40,
#: 20, 10) at arange(40), target 5; _assert_softmax_classification_batch: arange(120) as 3 x 40,
#: targets [5, 5, 2], baseline zeros(1, 40).
CASES = {
    "sigmoid": lambda: (SigmoidModel(20, 5, 1), np.arange(0.0, 20.0)[None], np.array(0), None),
    "softmax": lambda: (SoftmaxModel(40, 20, 10), np.arange(0.0, 40.0)[None], np.array(5), None),
    "softmax_batch": lambda: (SoftmaxModel(40, 20, 10), np.arange(0.0, 120.0).reshape(3, 40), np.array([5, 5, 2]),
                              np.zeros((1, 40))),
}


ROWS = [
    ("sigmoid", "vanilla", "riemann_right", "test_sigmoid_classification_vanilla"),
    ("sigmoid", "smoothgrad", "riemann_left", "test_sigmoid_classification_smoothgrad"),
    ("sigmoid", "smoothgrad_sq", "riemann_middle", "test_sigmoid_classification_smoothgrad_sq"),
    ("sigmoid", "vargrad", "riemann_trapezoid", "test_sigmoid_classification_vargrad"),
    ("softmax", "vanilla", "gausslegendre", "test_softmax_classification_vanilla"),
    ("softmax", "smoothgrad", "riemann_right", "test_softmax_classification_smoothgrad"),
    ("softmax", "smoothgrad_sq", "riemann_left", "test_softmax_classification_smoothgrad_sq"),
    ("softmax", "vargrad", "riemann_middle", "test_softmax_classification_vargrad"),
    ("softmax_batch", "vanilla", "riemann_trapezoid", "test_softmax_classification_vanilla_batch"),
    ("softmax_batch", "smoothgrad", "gausslegendre", "test_softmax_classification_smoothgrad_batch"),
    ("softmax_batch", "smoothgrad_sq", "riemann_right", "test_softmax_classification_smoothgrad_sq_batch"),
    ("softmax_batch", "vargrad", "riemann_left", "test_softmax_classification_vargrad_batch"),
]


@pytest.mark.parametrize("case, kind, method, name", ROWS, ids=[row[-1] for row in ROWS])
def test_classification(case, kind, method, name):
    """Captum tests/attr/test_integrated_gradients_classification.py::Test::<name> (one parameter
    per Captum test, named in the id; random weights: identities only)."""
    model, x, target, baseline = CASES[case]()
    validate_completeness(model, x, target, kind, method, baseline)
