"""Sanity checks (Adebayo et al. 2018): rank correlation, SSIM, cascading randomisation."""
import numpy as np
import pytest

import layers as L
import methods
from demos.shapes import make_shapes


def test_rank_correlation_and_ssim_identities():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((12, 12))
    assert methods.rank_correlation(a, a) == pytest.approx(1.0)
    assert methods.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert methods.rank_correlation(a, 3 * a ** 3 + 1) == pytest.approx(1.0)  # ranks only
    assert methods.ssim(a, a) == pytest.approx(1.0)
    assert methods.ssim(a, 2 * a + 5) == pytest.approx(1.0)  # each map is scaled to [0, 1] first
    assert methods.ssim(a, rng.standard_normal((12, 12))) < 0.5
    with pytest.raises(ValueError, match="same shape"):
        methods.ssim(a, a[:8])


def test_rank_correlation_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    a = np.round(rng.standard_normal(200), 1)  # many ties
    b = np.where(rng.random(200) < 0.3, 0.0, a + rng.standard_normal(200))
    assert methods.rank_correlation(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, rel=1e-12)


@pytest.fixture(scope="module")
def trained():
    X, y, _ = make_shapes(1500, size=20, seed=2)
    net = L.GAPNet(num_classes=6, seed=0)
    L.fit(net, X[:1200], y[:1200], epochs=4, batch_size=32, optimizer=L.Adam(net.parameters(), lr=3e-3),
          progress_bar=False, verbose=False)
    return net, X[1200:1208].astype(np.float64), y[1200:1208]


def test_cascading_randomization_separates_gradient_from_guided_backprop(trained):
    net, x, y = trained
    before = net.state_dict()
    grad = methods.model_randomization(methods.gradient, net, x, y)
    guided = methods.model_randomization(methods.guided_backprop, net, x, y)
    assert grad["layers"] == ["fc", "features.6", "features.3", "features.0"]
    for k, v in before.items():  # the model comes back unchanged
        np.testing.assert_array_equal(net.state_dict()[k], v)
    g, gb = grad["spearman_abs"][-1].mean(), guided["spearman_abs"][-1].mean()
    print(f"rank correlation (abs) after randomising every layer: gradient {g:.3f}, guided backprop {gb:.3f}; "
          f"per layer gradient {np.round(grad['spearman_abs'].mean(1), 3)}, "
          f"guided {np.round(guided['spearman_abs'].mean(1), 3)}")
    # the paper's finding: guided backprop stays closer to its original map at every step of the
    # cascade (it mostly reflects the input), the gradient decorrelates faster
    gap = guided["spearman_abs"].mean(axis=1) - grad["spearman_abs"].mean(axis=1)
    assert np.all(gap > 0) and gap.max() > 0.15 and gap.mean() > 0.1
    single = methods.model_randomization(methods.gradient, net, x, y, cascade=False)
    assert single["spearman"].shape == (4, 8) and np.all(single["ssim"] <= 1 + 1e-12)
