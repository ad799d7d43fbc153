"""The compact P of large fits (issue 31): the same matrix as ``symmetrize`` then ``permuted`` (the
reference path), to float32 rounding; the same bits for any thread count; and the gradient a fit
follows within float32 of the float64 P's."""
import numba
import numpy as np
import pytest

from tsne.affinities import joint_probabilities_nn, symmetrize
from tsne.compact_affinities import compact_joint_probabilities
from tsne.fft_interpolation import kl_divergence_fft
from tsne.locality_order import morton_order, permuted
from tsne.neighbors import nearest_neighbors
from tsne.perplexity import conditional_probabilities


def _knn_graph(n, k, seed):
    """Random (n, k) neighbour lists (no self, no repeats) and positive values."""
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(np.delete(np.arange(n), i), k, replace=False) for i in range(n)])
    return idx, rng.random((n, k))


def _reference(idx, vals, order):
    n, k = idx.shape
    P = symmetrize(np.repeat(np.arange(n), k), idx.ravel(), vals.ravel(), n)
    P = P.scaled(1.0 / P.data.sum())
    return P if order is None else permuted(P, order)


@pytest.mark.parametrize("n, k, with_order", [(300, 7, True), (300, 7, False), (1000, 31, True), (5, 4, True)])
def test_the_same_matrix_as_symmetrize_then_permuted(n, k, with_order):
    idx, vals = _knn_graph(n, k, seed=n + k)
    order = np.random.default_rng(1).permutation(n) if with_order else None
    want, got = _reference(idx, vals, order), compact_joint_probabilities(idx, vals, order)
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    assert got.indices.dtype == np.int32 and got.data.dtype == np.float32 and got.n == n
    # one rounding to float32 of the float64 value (whose normalising sum may differ in the last bit)
    np.testing.assert_allclose(got.data, want.data, rtol=2 ** -24 + 1e-15, atol=0)
    assert abs(float(got.data.astype(np.float64).sum()) - 1.0) < 1e-6


def test_overwrite_gives_the_same_matrix_and_only_then_uses_the_inputs():
    idx, vals = _knn_graph(700, 12, seed=5)
    order = np.random.default_rng(3).permutation(700)
    kept_idx, kept_vals = idx.copy(), vals.copy()
    plain = compact_joint_probabilities(idx, vals, order)
    np.testing.assert_array_equal(idx, kept_idx)  # without overwrite the inputs are left as they were
    np.testing.assert_array_equal(vals, kept_vals)
    scratch = compact_joint_probabilities(idx, vals, order, overwrite=True)
    for a, b in zip(plain[:3], scratch[:3]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(idx, kept_idx)  # used as scratch: rows now in the run's order
    # arrays it cannot use in place (int32 indices, a float32 or strided conditional) are copied
    for i, v in ((kept_idx.astype(np.int32), kept_vals), (kept_idx, kept_vals.astype(np.float32)),
                 (kept_idx, np.asfortranarray(kept_vals))):
        before = v.copy()
        got = compact_joint_probabilities(i, v, order, overwrite=True)
        np.testing.assert_array_equal(v, before)
        np.testing.assert_array_equal(got.indices, plain.indices)
        np.testing.assert_allclose(got.data, plain.data, rtol=2 ** -23)


def test_the_same_bits_for_any_thread_count():
    idx, vals = _knn_graph(2000, 15, seed=3)
    order = np.random.default_rng(2).permutation(2000)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = compact_joint_probabilities(idx, vals, order)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = compact_joint_probabilities(idx, vals, order)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one[:3], many[:3]):
        np.testing.assert_array_equal(a, b)


def test_the_gradient_follows_the_float64_p_to_float32_precision():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1.0, (300, 10)) for c in (0.0, 4.0, 8.0)])
    idx, d2 = nearest_neighbors(X, 31)
    Y = rng.normal(0, 3.0, (len(X), 2))
    order = morton_order(Y)
    full = permuted(joint_probabilities_nn(idx, d2, 10.0), order)
    compact = compact_joint_probabilities(idx, conditional_probabilities(d2, 10.0, skip_self=False), order)
    kl64, g64 = kl_divergence_fft(full, Y[order])
    kl32, g32 = kl_divergence_fft(compact, Y[order])
    assert abs(kl32 - kl64) < 1e-6 * abs(kl64)
    np.testing.assert_allclose(g32, g64, rtol=0, atol=1e-6 * np.abs(g64).max())


def test_mismatched_shapes_refused_naming_the_argument():
    idx, vals = _knn_graph(50, 5, seed=0)
    with pytest.raises(ValueError, match="conditional: expected shape"):
        compact_joint_probabilities(idx, vals[:, :4], None)
