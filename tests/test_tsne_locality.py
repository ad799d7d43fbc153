"""The sparse methods (Barnes-Hut, FFT) run on the points in a locality order
(tsne/locality_order.py): the order is a permutation, the renumbered P is the same matrix, and
the caller never sees the run's order."""
import numpy as np
import pytest

from tsne import TSNE
from tsne.affinities import affinities_from_data
from tsne.locality_order import morton_order, permuted


def test_morton_order_is_a_permutation_that_keeps_cells_together():
    rng = np.random.default_rng(0)
    Y = rng.uniform(0, 1, (4000, 2))
    order = morton_order(Y)
    assert np.array_equal(np.sort(order), np.arange(4000))
    # consecutive points along the curve are far closer than random pairs
    step = np.linalg.norm(np.diff(Y[order], axis=0), axis=1).mean()
    assert step < 0.1 * np.linalg.norm(Y[1:] - Y[:-1], axis=1).mean()
    assert np.array_equal(morton_order(Y[:, :1]), np.argsort(Y[:, 0], kind="stable"))


def test_permuted_affinities_are_the_same_matrix():
    X = np.random.default_rng(1).standard_normal((300, 8))
    P = affinities_from_data(X, 10.0, "barnes_hut")
    order = np.random.default_rng(2).permutation(300)
    Q = permuted(P, order)
    assert np.array_equal(Q.toarray(), P.toarray()[np.ix_(order, order)])
    for r in range(300):  # columns stay sorted within each row
        assert np.all(np.diff(Q.indices[Q.indptr[r]:Q.indptr[r + 1]]) > 0)


@pytest.mark.parametrize("method", ["fft", "barnes_hut"])
def test_fit_returns_and_reports_the_data_order(method):
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.standard_normal((150, 5)), rng.standard_normal((150, 5)) + 8])
    seen = []
    est = TSNE(method=method, random_state=0, max_iter=300, callback=lambda i, Y, kl: seen.append(Y),
               callback_every=300)
    Y = est.fit_transform(X)
    # the two clusters come back as the first and the second half of the rows
    first, second = Y[:150].mean(axis=0), Y[150:].mean(axis=0)
    assert np.linalg.norm(first - second) > 3 * max(Y[:150].std(axis=0).max(), Y[150:].std(axis=0).max())
    assert np.array_equal(seen[-1], Y)
