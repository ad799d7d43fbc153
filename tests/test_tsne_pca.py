"""The PCA solvers of large fits (covariance, randomized) against the exact SVD (their reference
path), and the solver TSNE picks by shape."""
import numpy as np

import tsne
import tsne.tsne as tsne_module


def test_randomized_components_match_the_full_svd():
    from sklearn.datasets import load_digits

    X = load_digits().data
    full = tsne.pca(X, 2)
    for solver, seed in (("randomized", 0), ("randomized", 1), ("randomized", np.random.default_rng(5)),
                         ("covariance_eigh", 0)):
        fast = tsne.pca(X, 2, svd_solver=solver, random_state=seed)
        np.testing.assert_allclose(fast, full, rtol=0, atol=1e-6 * np.abs(full).max())  # measured 2.2e-7


def test_tsne_picks_the_solver_by_shape(monkeypatch):
    from tsne.pca import pca_solver_for

    assert [pca_solver_for(n, d) for n, d in ((29_999, 50), (30_000, 50), (30_000, 3001), (10**6, 784))] == \
        ["full", "covariance_eigh", "randomized", "covariance_eigh"]
    seen = []
    pca = tsne_module.pca
    monkeypatch.setattr(tsne_module, "pca", lambda X, k, solver, seed: seen.append(solver) or pca(X, k, solver, seed))
    monkeypatch.setattr(tsne_module, "pca_solver_for", lambda n, d: "covariance_eigh")
    X = np.random.default_rng(0).normal(size=(300, 5))
    tsne.TSNE(max_iter=250, random_state=0).fit(X)
    assert seen == ["covariance_eigh"]
