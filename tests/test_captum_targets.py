"""Captum 0.9's tests/attr/test_targets.py, for the methods minigrad has, written anew.

Captum generates one test per (config of captum/testing/attr/helpers/test_config.py whose target is
a list or a tensor, algorithm): the attributions of the whole batch, with one target per sample (an
int, a tensor, an index tuple into a multi-axis output), must equal each sample's attributions
computed alone with its own target, and (for one target per sample) with that target given as a
one-element list/tensor, within ``target_delta`` (1e-4) in ``assertTensorTuplesAlmostEqual``'s
``mode="max"``: equal shapes, every entry within the delta. The cases here are those configs for
saliency, input x gradient, guided backprop, deconvolution, integrated gradients, occlusion, LRP and
layer Grad-CAM, each named as Captum's generated test (``test_target_<config>_<Algorithm>`` with
``NoiseTunnel`` appended for NoiseTunnel configs), plus Captum's two explicit error tests.

Translations:

* Captum's configs draw inputs with ``torch.randn``; these draw them from NumPy (same shapes and
  scales). The assertion is an identity between two ways of computing one thing, so any inputs do.
* Checked in addition (not Captum's): the batch's attributions are not all zero, so that the
  identity is not vacuous on the drawn inputs.
* A torch tensor target is a NumPy integer array; ``tensor([0])`` (one target for the batch) is
  ``np.array([0])``.
* A single (N, F) input is the 1-tuple ``(x,)`` (results come back as tuples); Captum's single
  occlusion window ``(2,)`` is ``((2,),)``.
* NoiseTunnel is ``methods.smoothgrad`` with Captum's ``stdevs=0.0`` (so its noise draws, which
  differ from torch's, play no part), ``n_samples=20`` and Captum's default ``nt_samples_batch_size``
  (None, all at once) unless the config sets it.
* ``LayerGradCam`` at BasicModel_MultiLayer's ``relu`` (an (N, K) layer) is ``methods.gradcam`` at
  ``model.relu``: one value per sample, (N,), where Captum's has shape (N, 1) (README, "Differences
  from Captum"); the comparison is per sample either way.
* Captum's AssertionErrors on a missing or malformed target are ValueError/TypeError here.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import BasicModel_MultiLayer, BasicModel_MultiLayer_MultiInput, assert_almost_equal  # noqa: E402

import methods  # noqa: E402

_rng = np.random.default_rng(0)


def _randn(*shape):
    return _rng.standard_normal(shape)


# One target per sample of the batch, as index tuples into the (N, 2, 2, 2) multidim output.
_TUPLES = [(1, 0, 0), (0, 1, 1), (1, 1, 1), (0, 0, 0)]
_MULTIDIM = (None, True)  # BasicModel_MultiLayer's (add_input, multidim_output)

_GRADIENT_METHODS = ("IntegratedGradients", "InputXGradient", "Saliency", "GuidedBackprop", "Deconvolution", "LRP")
_LAYER_METHODS = ("LayerGradCam",)

# Captum's configs with a list or tensor target (test_config.py), restricted to our methods:
# (name, algorithms, model factory, attribute args, options).
_CONFIGS = [
    ("basic_multi_target", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=[0, 1, 1, 0]), {}),
    ("basic_multi_input_multi_target", _GRADIENT_METHODS, BasicModel_MultiLayer_MultiInput,
     dict(inputs=(10 * _randn(6, 3), 5 * _randn(6, 3)), additional_forward_args=(2 * _randn(6, 3), 5),
          target=[0, 1, 1, 0, 0, 1]), {}),
    ("basic_multiple_tuple_target", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=_TUPLES, additional_forward_args=_MULTIDIM), {}),
    ("basic_tensor_single_target", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([0])), {}),
    ("basic_tensor_multi_target", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([1, 1, 0, 0])), {}),
    ("basic_multiple_tuple_target_with_baselines", ("IntegratedGradients",), BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), baselines=(0.5 * _randn(4, 3),), target=_TUPLES,
          additional_forward_args=_MULTIDIM), {}),
    ("basic_tensor_single_target_with_baselines", ("IntegratedGradients",), BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), baselines=(0.5 * _randn(4, 3),), target=np.array([0])), {}),
    ("basic_multiple_tuple_target_with_internal_batching", ("IntegratedGradients",), BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=_TUPLES, additional_forward_args=_MULTIDIM, internal_batch_size=2), {}),
    # NoiseTunnel
    ("basic_multi_input_multi_target_nt", _GRADIENT_METHODS, BasicModel_MultiLayer_MultiInput,
     dict(inputs=(10 * _randn(6, 3), 5 * _randn(6, 3)), additional_forward_args=(2 * _randn(6, 3), 5),
          target=[0, 1, 1, 0, 0, 1], nt_samples=20, stdevs=0.0), dict(noise_tunnel=True)),
    ("basic_multiple_target_with_baseline_nt", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=[0, 1, 1, 0], nt_samples=20, stdevs=0.0), dict(noise_tunnel=True)),
    ("basic_multiple_tuple_target_nt", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=_TUPLES, additional_forward_args=_MULTIDIM, nt_samples=20, stdevs=0.0),
     dict(noise_tunnel=True)),
    ("basic_single_tensor_target_nt", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([0]), nt_samples=20, stdevs=0.0), dict(noise_tunnel=True)),
    ("basic_multi_tensor_target_nt", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([0, 1, 1, 0]), nt_samples=20, stdevs=0.0),
     dict(noise_tunnel=True)),
    ("basic_multi_tensor_target_batched_nt", _GRADIENT_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([0, 1, 1, 0]), nt_samples=20, nt_samples_batch_size=2,
          stdevs=0.0), dict(noise_tunnel=True)),
    # Occlusion
    ("basic_multiple_tuple_target_occlusion", ("Occlusion",), BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=_TUPLES, additional_forward_args=_MULTIDIM,
          sliding_window_shapes=((2,),)), {}),
    # Layer attribution
    ("basic_layer_multiple_target", _LAYER_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=[0, 1, 1, 0]), dict(layer="relu")),
    ("basic_layer_tensor_multiple_target", _LAYER_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=np.array([0, 1, 1, 0])), dict(layer="relu")),
    ("basic_layer_multiple_tuple_target", _LAYER_METHODS, BasicModel_MultiLayer,
     dict(inputs=(_randn(4, 3),), target=_TUPLES, additional_forward_args=_MULTIDIM), dict(layer="relu")),
]

_FUNCTIONS = {
    "IntegratedGradients": methods.integrated_gradients,
    "InputXGradient": methods.input_x_gradient,
    "Saliency": methods.saliency,
    "GuidedBackprop": methods.guided_backprop,
    "Deconvolution": methods.deconvnet,
    "LRP": methods.lrp,
    "Occlusion": methods.occlusion,
    "LayerGradCam": methods.gradcam,
}


def attribute(algorithm, model, args, options):
    """Captum's ``attr_method.attribute(**args)`` for one of our methods, with args in Captum's names."""
    fn = _FUNCTIONS[algorithm]
    x, target = args["inputs"], args["target"]
    kwargs = {"additional_forward_args": args.get("additional_forward_args")}
    if "baselines" in args:
        kwargs["baseline"] = args["baselines"]
    if "internal_batch_size" in args:
        kwargs["internal_batch_size"] = args["internal_batch_size"]
    if algorithm == "Occlusion":
        kwargs["window"] = args["sliding_window_shapes"]
    if algorithm == "LayerGradCam":
        kwargs["layer"] = getattr(model, options["layer"])
    if options.get("noise_tunnel"):
        return methods.smoothgrad(fn, model, x, target, n_samples=args["nt_samples"], stdevs=args["stdevs"],
                                  nt_samples_batch_size=args.get("nt_samples_batch_size"), **kwargs)
    return fn(model, x, target, **kwargs)


def _rows(result, i):
    """Rows i:i+1 of a result (a tuple of arrays, or one array)."""
    return tuple(r[i:i + 1] for r in result) if isinstance(result, tuple) else result[i:i + 1]


def assert_tuples_max_close(actual, expected, delta):
    """Captum's assertTensorTuplesAlmostEqual, mode "max": per element of the tuple, equal shapes and
    every |actual - expected| <= delta."""
    actual = actual if isinstance(actual, tuple) else (actual,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert_almost_equal(a, e, delta, mode="max")


def check_targets(algorithm, model_factory, args, options, target_delta=1e-4):
    """Captum's ``make_single_target_test``: the batch's attributions, sample by sample, equal each
    sample's alone (its own target, its rows of the array args and baselines), and for one target per
    sample also with that target as a one-element list/array."""
    model = model_factory()
    attributions = attribute(algorithm, model, args, options)
    # not Captum's: a guard that the identity is not vacuous (all-zero attributions on these inputs)
    assert any(np.abs(r).max() > 0 for r in (attributions if isinstance(attributions, tuple) else (attributions,)))
    targets = args["target"]
    n = len(args["inputs"][0])
    for i in range(n):
        single = dict(args)
        single["target"] = targets[i] if len(targets) == n else targets
        single["inputs"] = tuple(a[i:i + 1] for a in args["inputs"])
        if args.get("additional_forward_args") is not None:
            single["additional_forward_args"] = tuple(a[i:i + 1] if isinstance(a, np.ndarray) else a
                                                      for a in args["additional_forward_args"])
        if "baselines" in args:
            single["baselines"] = tuple(b[i:i + 1] if isinstance(b, np.ndarray) else b for b in args["baselines"])
        assert_tuples_max_close(_rows(attributions, i), attribute(algorithm, model, single, options), target_delta)
        if len(targets) == n:
            single["target"] = targets[i:i + 1]
            assert_tuples_max_close(_rows(attributions, i), attribute(algorithm, model, single, options),
                                    target_delta)


def _make_test(config_name, algorithm, model_factory, args, options):
    def test():
        check_targets(algorithm, model_factory, args, options)
    name = f"test_target_{config_name}_{algorithm}{'NoiseTunnel' if options.get('noise_tunnel') else ''}"
    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"Captum tests/attr/test_targets.py::TestTargets::{name} (config {config_name!r}, generated)."
    return name, test


for _config in _CONFIGS:
    for _algorithm in _config[1]:
        _name, _test = _make_test(_config[0], _algorithm, *_config[2:])
        assert _name not in globals(), _name
        globals()[_name] = _test
del _config, _algorithm, _name, _test


def test_simple_target_missing_error():
    """Captum tests/attr/test_targets.py::TestTargets::test_simple_target_missing_error: integrated
    gradients without a target on an (N, 2) output is refused."""
    with pytest.raises((ValueError, TypeError)):
        methods.integrated_gradients(BasicModel_MultiLayer(), (np.zeros((1, 3)),), None)


def test_multi_target_error():
    """Captum tests/attr/test_targets.py::TestTargets::test_multi_target_error: a two-index tuple target
    on the (N, 2, 2, 2) multidim output is refused."""
    with pytest.raises((ValueError, TypeError)):
        methods.integrated_gradients(BasicModel_MultiLayer(), (np.zeros((1, 3)),), (1, 0),
                                     additional_forward_args=(None, True))
