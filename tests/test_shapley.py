"""methods.shapley: exact Shapley values and Shapley value sampling against Captum 0.9's
ShapleyValues / ShapleyValueSampling on the reference GAPNet's torch twin, the Shapley axioms
(efficiency, symmetry, dummy, additivity) on hand-made games, and the sampler's convergence.

Captum accumulates Shapley attributions in a float32 tensor (``torch.zeros(..., dtype=torch.float)``
in ``ShapleyValueSampling.attribute``), whatever the model's dtype, so its numbers carry float32
rounding (~1e-7 relative). ``captum_in_float64`` runs Captum's own code with that one buffer in
float64, which is what the 1e-8 comparisons use; the plain float32 run is compared at 1e-5.
"""
import itertools
import math
import os
import sys

import numpy as np
import pytest

import layers as L
from methods.shapley import MAX_EXACT_FEATURES, shapley_value_sampling, shapley_values

sys.path.insert(0, os.path.dirname(__file__))
from grouped_features import five_groups as _five_groups  # noqa: E402
from grouped_features import per_group as _per_group  # noqa: E402
from grouped_features import random_input as _x  # noqa: E402
from grouped_features import relative_error as _relative  # noqa: E402

TARGET = [1, 3]


@pytest.fixture(scope="module")
def twins():
    pytest.importorskip("captum")
    from gapnet_twins import gapnet_twins
    return gapnet_twins()


@pytest.fixture
def captum_in_float64(monkeypatch):
    """Captum's shapley_value module with its attribution buffers in float64 (see the module docstring)."""
    import torch
    from captum.attr._core import shapley_value

    class Float64Buffers:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def zeros(*shape, dtype=None, **kw):
            return torch.zeros(*shape, dtype=torch.float64 if dtype == torch.float32 else dtype, **kw)

    monkeypatch.setattr(shapley_value, "torch", Float64Buffers())


def _captum(cls, torch_net, x, target, mask, permutations=None, **options):
    import torch
    from captum import attr
    method = getattr(attr, cls)(torch_net)
    if permutations is not None:
        method.permutation_generator = lambda n_features, n_samples: iter(np.asarray(permutations).tolist())
    return method.attribute(torch.from_numpy(x), target=torch.tensor(target),
                            feature_mask=torch.from_numpy(np.broadcast_to(mask, (1, 1) + mask.shape).copy()),
                            **options).numpy()


def test_exact_equals_captum(twins, captum_in_float64):
    theirs, ours = twins
    x, mask = _x(), _five_groups()
    got = shapley_values(ours, x, TARGET, baselines=0.3, feature_mask=mask, perturbations_per_eval=3)
    expected = _captum("ShapleyValues", theirs, x, TARGET, mask, baselines=0.3, perturbations_per_eval=4)
    assert got.shape == x.shape
    assert _relative(got, expected) < 1e-8


def test_exact_equals_captum_float32_buffers(twins):
    """Captum as shipped: the same numbers up to its float32 accumulation (M! = 120 additions into a
    float32 buffer, each rounding by up to 2^-24 of the running sum: measured 7e-7 here)."""
    theirs, ours = twins
    x, mask = _x(), _five_groups()
    got = shapley_values(ours, x, TARGET, baselines=0.3, feature_mask=mask)
    expected = _captum("ShapleyValues", theirs, x, TARGET, mask, baselines=0.3)
    assert _relative(got, expected) < 1e-5


def test_sampling_with_given_permutations_equals_captum(twins, captum_in_float64):
    theirs, ours = twins
    x, mask = _x(), _five_groups()
    orders = np.array([np.random.default_rng(i).permutation(5) for i in range(7)])
    got = shapley_value_sampling(ours, x, TARGET, baselines=0.3, feature_mask=mask, permutations=orders,
                                 perturbations_per_eval=4)
    expected = _captum("ShapleyValueSampling", theirs, x, TARGET, mask, permutations=orders, baselines=0.3,
                       n_samples=len(orders), perturbations_per_eval=3)
    assert _relative(got, expected) < 1e-8


def test_efficiency_on_the_network(twins):
    """The values of a sample sum to s(x) - s(baseline): exactly for the exact values, and for any
    number of sampled orders (each order's steps telescope)."""
    _, ours = twins
    x, mask = _x(), _five_groups()
    base = _x(seed=3)
    out_x, out_b = ours(x).data, ours(base).data
    drop = out_x[[0, 1], TARGET] - out_b[[0, 1], TARGET]
    exact = _per_group(shapley_values(ours, x, TARGET, baselines=base, feature_mask=mask), mask)
    sampled = _per_group(shapley_value_sampling(ours, x, TARGET, baselines=base, feature_mask=mask, n_samples=3,
                                                seed=0), mask)
    np.testing.assert_allclose(exact.sum(axis=1), drop, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sampled.sum(axis=1), drop, rtol=1e-10, atol=1e-13)


class HandMadeGame(L.Module):
    """s(x) = x_a x_b + 2 x_c + 0 x_d on a (1, 2, 2) image (a, b, c, d row-major): c is additive, d
    a dummy, and a and b are symmetric players when x_a = x_b and their baselines are equal."""

    def forward(self, x):
        v = x.reshape(x.shape[0], 4)
        return (v[:, 0] * v[:, 1] + 2 * v[:, 2] + 0 * v[:, 3]).reshape(x.shape[0], 1)


def test_symmetry_dummy_and_additivity_on_a_hand_made_game():
    x = np.array([[[[1.5, 1.5], [0.7, 3.0]]], [[[-0.25, -0.25], [-1.0, 9.0]]]])
    base = np.array([[[[0.5, 0.5], [0.2, -1.0]]]])
    phi = shapley_values(HandMadeGame(), x, 0, baselines=base).reshape(2, 4)
    b = base.reshape(4)
    v = x.reshape(2, 4)
    np.testing.assert_allclose(phi[:, 0], phi[:, 1], rtol=1e-12)  # symmetric players: a and b
    np.testing.assert_allclose(phi[:, 3], 0.0, atol=1e-14)  # the dummy d
    np.testing.assert_allclose(phi[:, 2], 2 * (v[:, 2] - b[2]), rtol=1e-12)  # the additive term
    np.testing.assert_allclose(phi[:, 0] + phi[:, 1], v[:, 0] * v[:, 1] - b[0] * b[1], rtol=1e-12)


def test_exact_is_the_mean_over_all_orders_and_sampling_converges(twins):
    """The mean over all M! orders is the exact value; K random orders estimate it with standard
    error sigma_i / sqrt(K), sigma_i the spread of group i's steps over all M! orders (computed here,
    not assumed). With K = 300 every estimate must be within 5 standard errors (a failure by chance
    has probability < 1e-5 per value)."""
    _, ours = twins
    x, mask = _x(), _five_groups()
    mask4 = np.minimum(mask, 3)  # 4 groups: 24 orders
    exact = _per_group(shapley_values(ours, x, TARGET, feature_mask=mask4), mask4)
    orders = list(itertools.permutations(range(4)))
    steps = np.stack([_per_group(shapley_value_sampling(ours, x, TARGET, feature_mask=mask4, permutations=[o]), mask4)
                      for o in orders])  # (24, N, M) one order each
    np.testing.assert_allclose(steps.mean(axis=0), exact, rtol=1e-10, atol=1e-13)
    k = 300
    sampled = _per_group(shapley_value_sampling(ours, x, TARGET, feature_mask=mask4, n_samples=k, seed=0,
                                                perturbations_per_eval=8), mask4)
    standard_error = steps.std(axis=0) / math.sqrt(k)
    assert (np.abs(sampled - exact) <= 5 * standard_error + 1e-12).all()


def test_seeded_runs_reproduce():
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    x, mask = _x(), _five_groups()
    first = shapley_value_sampling(net, x, TARGET, feature_mask=mask, n_samples=4, seed=7)
    again = shapley_value_sampling(net, x, TARGET, feature_mask=mask, n_samples=4, seed=7)
    generator = shapley_value_sampling(net, x, TARGET, feature_mask=mask, n_samples=4,
                                       seed=np.random.default_rng(7))
    other = shapley_value_sampling(net, x, TARGET, feature_mask=mask, n_samples=4, seed=8)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, generator)
    assert not np.array_equal(first, other)


def test_too_many_features_names_the_mask_and_the_count():
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    with pytest.raises(ValueError, match=r"feature_mask.*M = 108"):
        shapley_values(net, _x(), TARGET)  # every value of (3, 6, 6) a feature
    many = np.arange(36).reshape(6, 6) % (MAX_EXACT_FEATURES + 1)
    with pytest.raises(ValueError, match=rf"feature_mask.*M = {MAX_EXACT_FEATURES + 1}"):
        shapley_values(net, _x(), TARGET, feature_mask=many)


@pytest.mark.parametrize("permutations", [[[0, 1, 2, 3]], [[0, 1, 2, 3, 3]], [[0.0, 1, 2, 3, 4]],
                                          np.zeros((0, 5), int)])
def test_bad_permutations_are_named(permutations):
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    with pytest.raises(ValueError, match="permutations"):
        shapley_value_sampling(net, _x(), TARGET, feature_mask=_five_groups(), permutations=permutations)


@pytest.mark.parametrize("options, error", [(dict(n_samples=0), ValueError), (dict(seed=-1), ValueError),
                                            (dict(seed=1.5), TypeError)])
def test_bad_sampling_options_are_named(options, error):
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    name = next(iter(options))
    with pytest.raises(error, match=name):
        shapley_value_sampling(net, _x(), TARGET, feature_mask=_five_groups(), **options)
