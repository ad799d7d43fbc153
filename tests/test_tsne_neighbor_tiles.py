"""Exact neighbours among many reference rows, searched in tiles of the reference (``neighbors.py``,
for ``TSNE.transform`` into a map of a million points): the same neighbours as one pass over whole
rows of products (the reference path), the distances to rounding, the same bits for any thread
count, and the point itself still left out when X is its own reference."""
import numba
import numpy as np
import pytest

import tsne.neighbors as nb


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setattr(nb, "_COLUMN_TILE", 64)
    monkeypatch.setattr(nb, "_TILE_BLOCK_ROWS", 16)


def _data(n, d, seed):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("shape, k", [((150, 5), 7), ((301, 12), 40), ((65, 3), 64)])
def test_tiles_find_the_same_neighbours(small_tiles, shape, k):
    X, R = _data(37, shape[1], 0), _data(*shape, seed=1)
    want_i, want_d = _one_pass(X, k, R)
    got_i, got_d = nb.nearest_neighbors(X, k, reference=R)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12, atol=1e-12)


def _one_pass(X, k, R):
    """The reference path: whole rows of products (tiles switched off)."""
    tile = nb._COLUMN_TILE
    nb._COLUMN_TILE = 1 << 40
    try:
        return nb.nearest_neighbors(X, k, reference=R)
    finally:
        nb._COLUMN_TILE = tile


def test_the_point_itself_is_left_out(small_tiles):
    X = _data(200, 4, 2)
    idx, d2 = nb.nearest_neighbors(X, 10)
    assert not np.any(idx == np.arange(len(X))[:, None])
    want_i, want_d = _one_pass(X, 10, None)
    np.testing.assert_array_equal(idx, want_i)
    np.testing.assert_allclose(d2, want_d, rtol=1e-12, atol=1e-12)


def test_the_same_bits_for_any_thread_count(small_tiles):
    X, R = _data(90, 6, 3), _data(500, 6, 4)
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append(nb.nearest_neighbors(X, 9, reference=R))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
