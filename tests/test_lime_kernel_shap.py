"""methods.surrogate_models: KernelSHAP and LIME.

- KernelSHAP over all 2^M coalitions is exactly the Shapley values (Lundberg & Lee 2017, Thm. 2);
  sampled, its values still sum to s(x) - s(baseline), its coalition sizes follow the Shapley
  kernel, and with the same coalitions it gives Captum 0.9's ``KernelShap`` numbers up to Captum's
  float32 fit and its finite weight 10^6 for the full and empty coalitions (exact constraints here).
- LIME's weighted linear fit recovers a linear model's coefficients exactly; its weighted Lasso is
  scikit-learn's ``Lasso`` with sample weights (float64, live); with the same coalitions it gives
  Captum's ``Lime`` numbers up to Captum's float32 data.
- Seeded runs reproduce; bad options are named.
"""
import os
import sys

import numpy as np
import pytest

import layers as L
from methods.shapley import shapley_values
from methods.surrogate_models import _shapley_kernel_sample, kernel_shap, lime

sys.path.insert(0, os.path.dirname(__file__))
from grouped_features import five_groups as _five_groups  # noqa: E402
from grouped_features import per_group as _per_group  # noqa: E402
from grouped_features import random_input as _x  # noqa: E402
from grouped_features import relative_error as _relative  # noqa: E402


def _all_coalitions(m):
    return (np.arange(2 ** m)[:, None] >> np.arange(m)) & 1


def _net():
    return L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)


@pytest.fixture(scope="module")
def twins():
    pytest.importorskip("captum")
    from gapnet_twins import gapnet_twins
    return gapnet_twins()


def _captum_coalitions(rows):
    """A Captum perturb_func (a generator function, as Captum requires) yielding ``rows`` in order."""
    import torch

    def coalitions(original_inp, **kwargs):
        for row in rows:
            yield torch.from_numpy(np.asarray(row, dtype=np.int64)[None])
    return coalitions


def test_kernel_shap_over_all_coalitions_is_exact_shapley():
    net, x, mask = _net(), _x(), _five_groups()
    exact = shapley_values(net, x, [1, 3], baselines=0.3, feature_mask=mask)
    got = kernel_shap(net, x, [1, 3], baselines=0.3, feature_mask=mask, coalitions=_all_coalitions(5),
                      perturbations_per_eval=8)
    assert _relative(got, exact) < 1e-10


def test_kernel_shap_sampled_sums_to_the_score_change():
    net, x, mask = _net(), _x(), _five_groups()
    out_x, out_b = net(x).data, net(np.full_like(x, 0.3)).data
    phi = _per_group(kernel_shap(net, x, [1, 3], baselines=0.3, feature_mask=mask, n_samples=9, seed=0), mask)
    np.testing.assert_allclose(phi.sum(axis=1), out_x[[0, 1], [1, 3]] - out_b[[0, 1], [1, 3]], rtol=1e-10, atol=1e-13)


def test_kernel_shap_sizes_follow_the_shapley_kernel():
    """Coalition sizes k in 1..M-1 are drawn with probability proportional to (M-1) / (k (M-k)); each
    of 20000 counts within 5 binomial standard deviations; within a size, every group equally often."""
    m, count = 6, 20000
    z = _shapley_kernel_sample(np.random.default_rng(0), m, count)
    k = np.arange(1, m)
    p = (1 / (k * (m - k))) / (1 / (k * (m - k))).sum()
    counts = np.bincount(z.sum(axis=1), minlength=m + 1)
    assert counts[0] == counts[m] == 0
    assert (np.abs(counts[1:m] - count * p) <= 5 * np.sqrt(count * p * (1 - p))).all()
    share = z.mean(axis=0)  # each group's inclusion rate, 1/2 by symmetry of the kernel in k and M-k
    assert (np.abs(share - 0.5) <= 5 * np.sqrt(0.25 / count)).all()


def test_kernel_shap_same_coalitions_as_captum(twins):
    """Our draws for sample 0 (the same Generator calls kernel_shap makes) fed to Captum's KernelShap."""
    theirs, ours = twins
    import torch
    from captum.attr import KernelShap
    x, mask, n_samples = _x()[:1], _five_groups(), 40
    got = kernel_shap(ours, x, 1, baselines=0.3, feature_mask=mask, n_samples=n_samples, seed=5)
    ends = np.array([[1] * 5, [0] * 5])
    rows = np.concatenate([ends, _shapley_kernel_sample(np.random.default_rng(5), 5, n_samples - 2)])
    method = KernelShap(theirs)
    method.perturb_func = _captum_coalitions(rows)
    expected = method.attribute(torch.from_numpy(x), target=1, baselines=0.3, n_samples=n_samples,
                                feature_mask=torch.from_numpy(np.broadcast_to(mask, (1, 1, 6, 6)).copy())).numpy()
    assert _relative(got, expected) < 1e-4  # Captum: float32 fit, weight 1e6 instead of a constraint


class Linear(L.Module):
    """s(x) = w . x + b over the flattened image, one output."""

    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = w, b

    def forward(self, x):
        return (x.reshape(x.shape[0], -1) @ self.w.reshape(-1, 1)) + self.b


def test_lime_recovers_a_linear_models_coefficients():
    """v(z) = s(baseline) + sum_g z_g c_g with c_g = sum over group g of w_i (x_i - b_i): the weighted
    least squares fit (alpha=0) returns c exactly, whatever the similarity weights (kept away from
    underflow: ||x - x_z|| reaches ~10 here, hence the euclidean kernel's width)."""
    r = np.random.default_rng(1)
    x, base, w = r.standard_normal((2, 3, 6, 6)), r.standard_normal((2, 3, 6, 6)), r.standard_normal((3, 6, 6))
    mask = _five_groups()
    expected = np.stack([[(w * (x[n] - base[n]))[:, mask == g].sum() for g in range(5)] for n in range(2)])
    for mode, width in (("cosine", 0.5), ("euclidean", 10.0)):
        got = lime(Linear(w, 0.7), x, 0, baselines=base, feature_mask=mask, n_samples=30, alpha=0.0,
                   distance_mode=mode, kernel_width=width, seed=0)
        np.testing.assert_allclose(_per_group(got, mask), expected, rtol=1e-9, atol=1e-12)


def test_lime_lasso_is_sklearns_weighted_lasso(twins):
    """Brute force in NumPy/torch: build every perturbed image, score it with the torch twin, weigh
    it by exp(-(1 - cos)^2 / 2), and fit scikit-learn's Lasso with those sample weights."""
    from sklearn.linear_model import Lasso
    import torch
    theirs, ours = twins
    x, mask, alpha = _x()[:1], _five_groups(), 1e-4
    rows = np.random.default_rng(2).random((30, 5)) < 0.5
    got = lime(ours, x, 1, baselines=0.3, feature_mask=mask, coalitions=rows, alpha=alpha)
    images = np.where(rows[:, mask][:, None], x, 0.3)  # (S, 3, 6, 6)
    with torch.no_grad():
        v = theirs(torch.from_numpy(images))[:, 1].numpy()
    flat, original = images.reshape(30, -1), x.reshape(-1)
    cosine = flat @ original / (np.linalg.norm(flat, axis=1) * np.linalg.norm(original))
    weights = np.exp(-(1 - cosine) ** 2 / 2)
    fit = Lasso(alpha=alpha, tol=1e-14, max_iter=10 ** 6).fit(rows.astype(float), v, sample_weight=weights)
    assert np.count_nonzero(fit.coef_) >= 2  # the penalty leaves something to compare
    np.testing.assert_allclose(_per_group(got, mask)[0], fit.coef_, rtol=0, atol=1e-8 * np.abs(fit.coef_).max())


@pytest.mark.parametrize("alpha", [0.0, 1e-4])
def test_lime_same_coalitions_as_captum(twins, alpha):
    """Captum's Lime with the same coalitions: LinearRegression for alpha 0, Lasso otherwise; Captum
    fits in float32 (and its Lasso stops at scikit-learn's default tolerance)."""
    import torch
    from captum._utils.models.linear_model import SkLearnLasso, SkLearnLinearRegression
    from captum.attr import Lime
    theirs, ours = twins
    x, mask = _x()[:1], _five_groups()
    rows = np.random.default_rng(4).random((32, 5)) < 0.5
    got = lime(ours, x, 1, baselines=0.3, feature_mask=mask, coalitions=rows, alpha=alpha)
    method = Lime(theirs, interpretable_model=SkLearnLasso(alpha=alpha) if alpha else SkLearnLinearRegression())
    method.perturb_func = _captum_coalitions(rows)
    expected = method.attribute(torch.from_numpy(x), target=1, baselines=0.3, n_samples=len(rows),
                                feature_mask=torch.from_numpy(np.broadcast_to(mask, (1, 1, 6, 6)).copy())).numpy()
    assert _relative(got, expected) < (1e-5 if alpha == 0 else 1e-3)


@pytest.mark.parametrize("method, options", [(kernel_shap, {}), (lime, dict(alpha=1e-4))])
def test_seeded_runs_reproduce(method, options):
    """(LIME's default alpha 0.01 zeroes every coefficient of this small net's small score changes.)"""
    net, x, mask = _net(), _x(), _five_groups()
    first = method(net, x, [1, 3], feature_mask=mask, n_samples=12, seed=3, **options)
    again = method(net, x, [1, 3], feature_mask=mask, n_samples=12, seed=np.random.default_rng(3), **options)
    other = method(net, x, [1, 3], feature_mask=mask, n_samples=12, seed=4, **options)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first).max() > 0 and not np.array_equal(first, other)


@pytest.mark.parametrize("method, options, error, name", [
    (kernel_shap, dict(n_samples=1), ValueError, "n_samples"),
    (kernel_shap, dict(coalitions=np.ones((3, 4), int)), ValueError, "coalitions"),
    (kernel_shap, dict(coalitions=np.full((3, 5), 2)), ValueError, "coalitions"),
    (lime, dict(kernel_width=0.0), ValueError, "kernel_width"),
    (lime, dict(distance_mode="manhattan"), ValueError, "distance_mode"),
    (lime, dict(alpha=-1.0), ValueError, "alpha"),
    (lime, dict(seed="0"), TypeError, "seed"),
    (lime, dict(distance_mode="euclidean", kernel_width=1e-3, coalitions=np.eye(5, dtype=int)), ValueError,
     "kernel_width"),  # every weight underflows to 0
])
def test_bad_options_are_named(method, options, error, name):
    with pytest.raises(error, match=name):
        method(_net(), _x(), [1, 3], feature_mask=_five_groups(), **options)
