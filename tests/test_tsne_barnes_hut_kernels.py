"""The Barnes-Hut gradient's fast parts against their plain definitions: the Z-order keys made
a byte at a time through a table against the bits interleaved one by one, and the attraction run
beside the tree build against the two run one after the other (the same bits), and both
attraction loops (scalar, vectorised) against the sum taken entry by entry."""
import numba
import numpy as np
import pytest

import tsne
from tsne import barnes_hut
from tsne.affinities import affinities_from_data
from tsne.chunked_threads import beside


def _keys_bit_by_bit(Y):
    n, dim = Y.shape
    bits = 62 // dim
    lo = Y.min(axis=0)
    span = float((Y.max(axis=0) - lo).max()) or 1.0
    q = ((Y - lo) / span * float((1 << bits) - 1)).astype(np.int64)
    keys = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        for a in range(dim):
            keys |= ((q[:, a] >> b) & 1) << (b * dim + a)
    return keys


@pytest.mark.parametrize("dim", [2, 3])
def test_morton_keys_are_the_interleaved_bits(dim):
    rng = np.random.default_rng(dim)
    Y = np.concatenate([rng.standard_normal((500, dim)) * 40, rng.uniform(-1e-9, 1e-9, (20, dim)),
                        np.zeros((3, dim))])
    np.testing.assert_array_equal(barnes_hut._morton_keys(Y), _keys_bit_by_bit(Y))
    corners = np.array([[0.0] * dim, [1.0] * dim])  # every bit of the quantised corner set
    assert barnes_hut._morton_keys(corners)[1] == (1 << (62 // dim * dim)) - 1


@pytest.mark.parametrize("threads", [1, 2])
def test_attraction_beside_the_tree_is_the_same_gradient(threads):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.standard_normal((400, 5)), rng.standard_normal((400, 5)) + 4])
    P = affinities_from_data(X, 20.0, "barnes_hut")
    Y = rng.standard_normal((800, 2)) * 10
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        kl, grad = tsne.kl_divergence_bh(P, Y, angle=0.5)
        calls = []
        with beside(lambda: calls.append(numba.get_num_threads())):
            calls.append("block")
    finally:
        numba.set_num_threads(before)
    # the reference: the same parts, one after the other, through the module's own pieces
    attract = np.empty_like(Y)
    tsne.kl.sparse_attraction(P.indptr, P.indices, P.data, Y, 1.0, attract)
    order = np.argsort(barnes_hut._morton_keys(Y), kind="stable")
    children, count, com, center, half, is_leaf = barnes_hut._build_tree(Y, order)
    repulse, row_z = np.empty_like(Y), np.empty(len(Y))
    barnes_hut._repulsion(0, (len(Y) + barnes_hut._BLOCK - 1) // barnes_hut._BLOCK, Y, order, children,
                          barnes_hut._pack(count, com, half, is_leaf), center, 0.5, 1.0, 1.0, repulse, row_z)
    kl_ref, grad_ref = tsne.kl.finish_gradient(attract, repulse, row_z, 4.0, lambda z, rows: tsne.kl.sparse_kl_rows(
        P.indptr, P.indices, P.data, Y, 1.0, 1.0, z, rows))
    np.testing.assert_array_equal(grad, grad_ref)
    assert kl == kl_ref
    assert len(calls) == 2 and "block" in calls


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("kernel", ["_sparse_attraction_upto3", "_sparse_attraction_vectorised"])
def test_both_attraction_loops_are_the_sum_over_the_non_zeros(kernel, dim):
    """The scalar and the vectorised loop (``kl.GATHERS_PAY`` picks one per machine) against
    sum_j p_ij (y_i - y_j) / (1 + |y_i - y_j|^2 / alpha) taken entry by entry in NumPy, on rows of
    0 to 40 non-zeros (so the vectorised loop's remainders run too) with float32 P as the fit's."""
    rng = np.random.default_rng(dim)
    n = 300
    lengths = rng.integers(0, 41, n)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(n, m, replace=False)) for m in lengths]).astype(np.int32)
    pvals = rng.uniform(0, 1e-3, indptr[-1]).astype(np.float32)
    Y = rng.standard_normal((n, dim)) * 20
    alpha = 1.7
    rows = np.repeat(np.arange(n), lengths)
    diff = Y[rows] - Y[indices]
    pb = pvals.astype(np.float64) / (1.0 + (diff * diff).sum(axis=1) / alpha)
    expected = np.stack([np.bincount(rows, weights=pb * diff[:, a], minlength=n) for a in range(dim)], axis=1)
    got = np.full_like(Y, np.nan)
    getattr(tsne.kl, kernel)(0, n, indptr, indices, pvals, Y, alpha, got)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    assert np.all(got[lengths == 0] == 0.0)


def test_the_attraction_loop_is_chosen_by_the_cpu_and_used(monkeypatch):
    """Gathers pay except on AMD CPUs with AVX-512 (measured on three machines, ``kl._gathers_pay``);
    ``sparse_attraction`` runs the loop the flag names."""
    for name, features, pays in (("znver3", "+avx,+avx2,+fma", True), ("znver4", "+avx,+avx2,+avx512f,+fma", False),
                                 ("rocketlake", "+avx,+avx2,+avx512f,+fma", True), ("haswell", "+avx,+avx2", True),
                                 ("sapphirerapids", "+avx2,+avx512f,+avx512bw", True)):
        monkeypatch.setattr(numba.config, "CPU_NAME", name)
        monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
        assert tsne.kl._gathers_pay() == pays, name
    for flag, name in ((True, "_sparse_attraction_vectorised"), (False, "_sparse_attraction_upto3")):
        ran = set()
        monkeypatch.setattr(tsne.kl, "GATHERS_PAY", flag)
        monkeypatch.setattr(tsne.kl, name, lambda start, stop, *args, name=name: ran.add(name))
        Y = np.zeros((5, 2))
        tsne.kl.sparse_attraction(np.zeros(6, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), Y, 1.0,
                                  np.empty_like(Y))
        assert ran == {name}
