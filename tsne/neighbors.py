"""Exact squared Euclidean distances and k nearest neighbours by blocked BLAS products."""
import contextlib

import numba
import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks

try:  # installed with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

_BLOCK_BYTES = 64 << 20  # distance rows computed at once, over all threads: keeps memory flat for 70k points


def squared_distances(X, Y=None):
    """||x_i - y_j||^2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clipped at 0: X (n, d), Y (m, d) -> (n, m)."""
    Y = X if Y is None else Y
    d = np.einsum("ij,ij->i", X, X)[:, None] + np.einsum("ij,ij->i", Y, Y)[None, :] - 2.0 * (X @ Y.T)
    np.maximum(d, 0.0, out=d)
    if Y is X:
        np.fill_diagonal(d, 0.0)
    return d


@njit(nogil=True, cache=True)
def _k_smallest(start, stop, gram, norms, k, row0, indices, dists):
    """Per row r of a block of Gram products x_i.x_j (i = row0 + r): the k smallest squared
    distances |x_i|^2 + |x_j|^2 - 2 x_i.x_j (clipped at 0) to other points, nearest first, with a
    max-heap so that most entries cost one comparison."""
    n = gram.shape[1]
    for r in range(start, stop):
        heap_d = np.empty(k)
        heap_i = np.empty(k, dtype=np.int64)
        size = 0
        row = gram[r]
        me = row0 + r
        base = norms[me]
        for j in range(n):
            v = max(base + norms[j] - 2.0 * row[j], 0.0)
            if j == me or (size == k and v >= heap_d[0]):
                continue
            if size < k:  # sift up
                pos = size
                size += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if heap_d[parent] >= v:
                        break
                    heap_d[pos] = heap_d[parent]
                    heap_i[pos] = heap_i[parent]
                    pos = parent
            else:  # replace the root, sift down
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= k:
                        break
                    if child + 1 < k and heap_d[child + 1] > heap_d[child]:
                        child += 1
                    if heap_d[child] <= v:
                        break
                    heap_d[pos] = heap_d[child]
                    heap_i[pos] = heap_i[child]
                    pos = child
            heap_d[pos] = v
            heap_i[pos] = j
        # nearest first, equal distances by ascending index (so the result does not depend on
        # scan order): an insertion sort of the heap by (distance, index). Written out rather than
        # np.argsort + np.sort, whose implementations took ~5 s of Numba compilation (issue 13)
        for t in range(k):
            dists[r, t] = heap_d[t]
            indices[r, t] = heap_i[t]
        for t in range(1, k):
            dv, iv = dists[r, t], indices[r, t]
            u = t - 1
            while u >= 0 and (dists[r, u] > dv or (dists[r, u] == dv and indices[r, u] > iv)):
                dists[r, u + 1] = dists[r, u]
                indices[r, u + 1] = indices[r, u]
                u -= 1
            dists[r, u + 1] = dv
            indices[r, u + 1] = iv


def _rows_neighbors(start, stop, X, norms, k, block, indices, dists):
    """k nearest neighbours of rows start..stop of X, ``block`` rows of products at a time, in one
    buffer (a fresh array per block was page-faulted in again each time, ~2 us a page here)."""
    gram = np.empty((min(block, stop - start), X.shape[0]))
    for a in range(start, stop, block):
        b = min(a + block, stop)
        np.matmul(X[a:b], X.T, out=gram[:b - a])
        _k_smallest(0, b - a, gram[:b - a], norms, k, a, indices[a:b], dists[a:b])


def nearest_neighbors(X, k):
    """The k nearest other points of every row of X, exactly.

    Each thread multiplies and selects its own rows, with BLAS held to one thread meanwhile: when
    one multi-threaded product per block alternated with threaded selection, OpenBLAS's idle
    threads spun (up to 2^28 cycles after each call) on the cores the selection needed. 40k
    points: 7.3 -> 4.9-5.2 s, the same neighbours (OPENBLAS_THREAD_TIMEOUT=4 alone: 6.0 s).

    Parameters
    ----------
    X : (n, d) float array
    k : int, 1 <= k < n

    Returns
    -------
    indices : (n, k) int64, nearest first, equal distances by ascending index (a point is never
        its own neighbour; its duplicates are)
    sq_distances : (n, k) float64 squared Euclidean distances
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k: expected 1 <= k < n_samples = {n}, got {k}")
    norms = np.einsum("ij,ij->i", X, X)
    block = max(1, min(n, _BLOCK_BYTES // (8 * n * numba.get_num_threads())))
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k))
    one_blas_thread = threadpool_limits(1, user_api="blas") if threadpool_limits else contextlib.nullcontext()
    with one_blas_thread:
        run_in_chunks(_rows_neighbors, n, X, norms, k, block, indices, dists)
    return indices, dists
