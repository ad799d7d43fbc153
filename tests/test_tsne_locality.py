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


def test_permuted_compact_affinities_keep_their_types_and_values():
    """The large-data P (int32 columns, float32 values, built in a run order) renumbered again:
    the same entries, bit for bit, in the same types; a permutation and its inverse give P back."""
    from tsne.compact_affinities import compact_joint_probabilities
    from tsne.neighbors import nearest_neighbors
    from tsne.perplexity import conditional_probabilities

    rng = np.random.default_rng(4)
    X = rng.standard_normal((400, 6))
    idx, dist = nearest_neighbors(X, 30)
    P = compact_joint_probabilities(idx, conditional_probabilities(dist, 10.0, skip_self=False), rng.permutation(400))
    order = rng.permutation(400)
    Q = permuted(P, order)
    assert (Q.indptr.dtype, Q.indices.dtype, Q.data.dtype) == (P.indptr.dtype, np.int32, np.float32)
    assert np.array_equal(Q.toarray(), P.toarray()[np.ix_(order, order)])
    back = permuted(Q, np.argsort(order))
    for a, b in zip(back[:3], P[:3]):
        assert np.array_equal(a, b)


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
