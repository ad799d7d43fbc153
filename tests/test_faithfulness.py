"""ROAD, infidelity and max-sensitivity (methods/faithfulness.py, issue #29).

Infidelity and max-sensitivity are compared live with Captum 0.9's ``captum.metrics`` on the
reference GAPNet twins (float64), both given the same deterministic perturbation, to 1e-8 relative
to the largest value. The rest are identities: infidelity vanishes for a linear model with its
exact attribution; the gradient of a linear model does not move under perturbation; the imputation
restores a linear ramp; a perfect attribution beats a random one on ROAD.
"""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
from methods.faithfulness import infidelity, noisy_linear_imputation, road, sensitivity_max
from minigrad import Tensor, no_grad

sys.path.insert(0, os.path.dirname(__file__))
from gapnet_twins import gapnet_twins  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (2, 3, 8, 8))


def _relative(ours, theirs):
    theirs = np.asarray(theirs, dtype=np.float64)
    return np.abs(np.asarray(ours) - theirs).max() / np.abs(theirs).max()


def _wave(copies):
    """A deterministic perturbation of a batch of copies, different for every copy and value."""
    flat = np.arange(copies.size, dtype=np.float64).reshape(copies.shape)
    return 0.02 * np.sin(0.37 * flat + 3.0 * copies)


def _torch_wave(copies):
    import torch
    flat = torch.arange(copies.numel(), dtype=torch.float64).reshape(copies.shape)
    return 0.02 * torch.sin(0.37 * flat + 3.0 * copies)


def _linear_model(c, h, w, classes=3, seed=0):
    net = L.Sequential(L.Flatten(), L.Linear(c * h * w, classes, rng=seed))
    return net, net[1].weight.data.reshape(classes, c, h, w)


# ------------------------------------------------------------------------------- infidelity
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("max_examples_per_batch", [None, 5])
def test_infidelity_equals_captum(normalize, max_examples_per_batch):
    pytest.importorskip("torch")
    metrics = pytest.importorskip("captum.metrics")
    import torch
    theirs, ours = gapnet_twins()
    target = [0, 3]
    attr = methods.input_x_gradient(ours, X, target)
    expected = metrics.infidelity(theirs, lambda x: (_torch_wave(x), x - _torch_wave(x)), torch.tensor(X),
                                  torch.tensor(attr), target=target, n_perturb_samples=7, normalize=normalize,
                                  max_examples_per_batch=max_examples_per_batch).numpy()
    got = infidelity(ours, X, target, attr, perturb_fn=lambda x: (_wave(x), x - _wave(x)), n_perturb_samples=7,
                     normalize=normalize, max_examples_per_batch=max_examples_per_batch)
    assert got.shape == expected.shape == (2,)
    assert _relative(got, expected) < 1e-8


@pytest.mark.parametrize("attribution", ["gradient", "input_x_gradient"])
def test_infidelity_is_zero_for_a_linear_model_and_its_exact_attribution(attribution):
    """f(x) = w . x + b: the gradient with additive perturbations I, x - I, and gradient x input with
    relative ones (I = u, x - u x: Captum's ``infidelity_perturb_func_decorator(True)``) both account
    for f(x) - f(x - I) exactly."""
    net, w = _linear_model(2, 5, 5)
    x = RNG.uniform(0.5, 1.5, (3, 2, 5, 5))
    attr = getattr(methods, attribution)(net, x, 1)
    if attribution == "gradient":
        np.testing.assert_allclose(attr, np.broadcast_to(w[1], x.shape), rtol=1e-12)
        perturb = lambda c: (0.1 * c * c, c - 0.1 * c * c)  # noqa: E731
    else:
        perturb = lambda c: (np.cos(c), c - c * np.cos(c))  # noqa: E731
    exact = infidelity(net, x, 1, attr, perturb_fn=perturb)
    assert np.all(exact < 1e-20)
    wrong = infidelity(net, x, 1, attr * 1.5, perturb_fn=perturb)
    assert np.all(wrong > 1e-6)  # the identity can fail


def test_normalized_infidelity_ignores_the_attributions_scale():
    net, x, target, attr = _toy_case()
    unit = infidelity(net, x, target, attr, normalize=True, seed=3)
    np.testing.assert_allclose(infidelity(net, x, target, 4.0 * attr, normalize=True, seed=3), unit, rtol=1e-10)
    plain = infidelity(net, x, target, attr, seed=3)
    assert not np.allclose(infidelity(net, x, target, 4.0 * attr, seed=3), plain, rtol=1e-3, atol=0)


def _toy_case():
    _, net = gapnet_twins()
    return net, X, 2, methods.input_x_gradient(net, X, 2)


def test_infidelity_default_perturbation_is_seeded_and_single_images_drop_the_batch_axis():
    net, x, target, attr = _toy_case()
    a = infidelity(net, x, target, attr, seed=5)
    assert np.array_equal(a, infidelity(net, x, target, attr, seed=np.random.default_rng(5)))
    assert not np.array_equal(a, infidelity(net, x, target, attr, seed=6))
    one = infidelity(net, x[0], target, attr[0], seed=5, n_perturb_samples=4)
    assert isinstance(one, float) and one == infidelity(net, x[:1], target, attr[:1], seed=5, n_perturb_samples=4)[0]


# -------------------------------------------------------------------------- sensitivity_max
@pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")
@pytest.mark.parametrize("case", ["input_x_gradient", "inf_norm_batches", "integrated_gradients"])
def test_sensitivity_max_equals_captum(case):
    pytest.importorskip("torch")
    captum = pytest.importorskip("captum")
    import captum.attr
    import captum.metrics
    import torch
    theirs, ours = gapnet_twins()
    target = [1, 2]
    options, their_options = {}, {}
    norm_ord, batch = ("fro", None) if case != "inf_norm_batches" else (float("inf"), 6)
    if case == "integrated_gradients":
        base = RNG.uniform(0, 0.2, X.shape)
        mine, explain = methods.integrated_gradients, captum.attr.IntegratedGradients(theirs).attribute
        options, their_options = dict(n_steps=6, baseline=base), dict(n_steps=6, baselines=torch.tensor(base))
    else:
        mine, explain = methods.input_x_gradient, captum.attr.InputXGradient(theirs).attribute
    expected = captum.metrics.sensitivity_max(explain, torch.tensor(X), perturb_func=lambda x: x + _torch_wave(x),
                                              n_perturb_samples=5, norm_ord=norm_ord, max_examples_per_batch=batch,
                                              target=target, **their_options).numpy()
    got = sensitivity_max(mine, ours, X, target, perturb_fn=lambda x: x + _wave(x), n_perturb_samples=5,
                          norm_ord=norm_ord, max_examples_per_batch=batch, **options)
    assert got.shape == expected.shape == (2,)
    # Captum's IG rounds its quadrature weights to float32 (``torch.tensor(step_sizes).float()``):
    # its attributions differ from a float64 sum by ~5e-9 relative, and the difference of two of
    # them, which sensitivity measures, by a few times that
    assert _relative(got, expected) < (1e-7 if case == "integrated_gradients" else 1e-8)


def test_sensitivity_max_identities():
    """The gradient of a linear model is the same everywhere: sensitivity 0. The identity
    explanation Phi(x) = x under the default perturbation moves by at most the radius (inf-norm)."""
    net, _ = _linear_model(2, 4, 4)
    x = RNG.uniform(0.5, 1.0, (2, 2, 4, 4))
    assert np.all(sensitivity_max(methods.gradient, net, x, 0, seed=0) == 0)
    identity = lambda model, x, target: x  # noqa: E731
    s = sensitivity_max(identity, net, x, 0, perturb_radius=0.05, norm_ord=float("inf"), seed=1)
    top = np.abs(x).reshape(2, -1).max(axis=1)
    assert np.all(s <= 0.05 / top * (1 + 1e-12)) and np.all(s > 0.5 * 0.05 / top)
    assert sensitivity_max(identity, net, x[0], 0, seed=1) == sensitivity_max(identity, net, x[:1], 0, seed=1)[0]


# ----------------------------------------------------------------------------------- ROAD
def test_imputation_restores_a_linear_ramp():
    """A linear function equals the symmetric weighted mean of its neighbours, so a removed region
    not touching the border is filled with the ramp itself (noise 0); kept pixels are untouched
    (noise or not)."""
    ramp = np.fromfunction(lambda c, i, j: 0.3 * i - 0.7 * j + 2.0 * c + 1.0, (3, 10, 11))
    removed = np.zeros((10, 11), dtype=bool)
    removed[4, 5] = True
    removed[2:6, 7:10] = True
    np.testing.assert_allclose(noisy_linear_imputation(ramp, removed, noise=0.0), ramp, rtol=0, atol=1e-12)
    noisy = noisy_linear_imputation(ramp, removed, noise=0.5, seed=0)
    assert np.array_equal(noisy[:, ~removed], ramp[:, ~removed]) and np.abs(noisy - ramp)[:, removed].min() > 0
    curved = ramp ** 2  # the weighted mean of a non-linear image is not the image: the test can fail
    assert np.abs(noisy_linear_imputation(curved, removed, noise=0.0) - curved).max() > 1e-3


def test_road_removes_the_relevant_pixels_first():
    """A linear model reading a sparse image of bright dots: the perfect attribution w * x sends
    the score down faster than a random map when the most relevant pixels go first, and keeps it
    up longer when the least relevant go first."""
    h = w = 16
    net, weight = _linear_model(1, h, w, classes=2)
    weight[0] = np.abs(weight[0])
    x = np.zeros((1, 1, h, w))
    x[0, 0, 1::4, 2::4] = 1.0
    perfect = (x * weight[0])[:, 0]
    random = RNG.uniform(0, 1, (1, h, w))
    curves = {(name, order): road(net, x, 0, attr, order=order, noise=0.0)[0]
              for name, attr in (("perfect", perfect), ("random", random))
              for order in ("most_relevant_first", "least_relevant_first")}
    assert curves["perfect", "most_relevant_first"][0] < curves["random", "most_relevant_first"][0]
    assert curves["perfect", "most_relevant_first"].mean() < curves["random", "most_relevant_first"].mean()
    assert curves["perfect", "least_relevant_first"].mean() > curves["random", "least_relevant_first"].mean()


def test_road_at_zero_percent_is_the_models_score():
    _, net = gapnet_twins()
    with no_grad():
        logits = net(Tensor(X)).data
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    attr = RNG.standard_normal(X.shape)
    got = road(net, X, [1, 3], attr, percentiles=(0, 50), seed=0)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got[:, 0], logits[[0, 1], [1, 3]], rtol=1e-12)
    assert not np.allclose(got[:, 1], got[:, 0])
    prob = road(net, X[1], 3, attr[1], percentiles=(0,), probability=True)
    np.testing.assert_allclose(prob, [p[1, 3]], rtol=1e-12)


# ---------------------------------------------------------------------------- a real network
def test_resnet18_infidelity_equals_captum_and_road_starts_at_its_score():
    """ResNet-18 (random weights, eval mode) on one 64x64 image."""
    pytest.importorskip("torch")
    metrics = pytest.importorskip("captum.metrics")
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
    import torchvision_nets
    net = L.resnet18(num_classes=10, seed=0).eval()
    twin = torchvision_nets.resnet18(num_classes=10, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    x = RNG.uniform(0, 1, (3, 64, 64))
    attr = methods.input_x_gradient(net, x, 3)
    expected = metrics.infidelity(twin.eval(), lambda c: (_torch_wave(c), c - _torch_wave(c)), torch.tensor(x[None]),
                                  torch.tensor(attr[None]), target=3, n_perturb_samples=2).numpy()
    got = infidelity(net, x, 3, attr, perturb_fn=lambda c: (_wave(c), c - _wave(c)), n_perturb_samples=2)
    assert isinstance(got, float) and _relative(got, expected) < 1e-8
    with no_grad():
        score = net(Tensor(x[None])).data[0, 3]
    curve = road(net, x, 3, attr, percentiles=(0, 50), seed=0)
    assert curve.shape == (2,) and np.isclose(curve[0], score, rtol=1e-12) and curve[1] != curve[0]


# ----------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("call, fragment", [
    (lambda net: road(net, X, 1, X.sum(1), order="most_relevant"), "order"),
    (lambda net: road(net, X, 1, X.sum(1), percentiles=(10, 100)), "percentiles"),
    (lambda net: road(net, X, 1, X[:, :2]), "attributions"),
    (lambda net: infidelity(net, X, 1, X, perturb_fn=lambda c: c), "perturb_fn"),
    (lambda net: infidelity(net, X, 1, X, perturb_fn=lambda c: (c[:1], c)), "perturb_fn's perturbation"),
    (lambda net: infidelity(net, X, 1, X[:, :, :4]), "attributions"),
    (lambda net: sensitivity_max(methods.gradient, net, X, 1, norm_ord="nuc"), "norm_ord"),
    (lambda net: sensitivity_max(methods.gradient, net, X, 1, perturb_radius=-1.0), "perturb_radius"),
    (lambda net: noisy_linear_imputation(X[0], np.ones((8, 8))), "removed"),
])
def test_bad_arguments_are_refused_by_name(call, fragment):
    _, net = gapnet_twins()
    with pytest.raises((ValueError, TypeError), match=fragment):
        call(net)
