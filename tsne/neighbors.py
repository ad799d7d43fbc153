"""Exact squared Euclidean distances and k nearest neighbours by blocked BLAS products.

    |x_i - y_j|^2 = |x_i|^2 + |y_j|^2 - 2 x_i . y_j   (clipped at 0),

the products x_i . y_j a block of rows of X at a time. The same bits for any number of threads:
a BLAS product's rounding depends on the shape of the call and on BLAS's own threads (OpenBLAS
0.3.31 here: regrouping the rows into blocks of 2 to 512 changed the last bits of up to every row
with 3, 5 or 17 features; the same block on 2 BLAS threads, with 17 or 784 features). With blocks
cut per thread, the kNN distances of 60 points of 5-D noise on 1 and 2 threads differed by 2e-15,
and their Barnes-Hut maps after 300 iterations by 77 units. So the blocks are fixed by the number
of columns alone (``_block_rows``), never by the thread count; the threads share the blocks out,
each block is one single-threaded BLAS call, and every later step works row by row. The dense
matrix and the neighbours use the same blocks, so their distances agree bit for bit.
"""
import contextlib

import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks
from tsne.input_checks import count, real_matrix

try:  # installed with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

_BLOCK_BYTES = 32 << 20  # one block of products (one per busy thread): memory stays flat at 70k points
_NO_SELF = -(1 << 62)  # the self column of rows that are not columns: self_column + t is never a column
# neighbours among more rows than this are searched in tiles of this many rows of Y (fewer: in whole
# rows of products, ``_in_blocks``, as before), by blocks of _TILE_BLOCK_ROWS rows of X
_COLUMN_TILE = 1 << 16
_TILE_BLOCK_ROWS = _BLOCK_BYTES // (8 * _COLUMN_TILE)


def _block_rows(m):
    """Rows of X per block of products against m rows of Y: a function of m only."""
    return max(1, _BLOCK_BYTES // (8 * max(m, 1)))


def _one_blas_thread():
    """Each block is one BLAS call on one thread: the results then do not depend on BLAS's
    threads, and when a multi-threaded product alternated with threaded selection, OpenBLAS's idle
    threads spun (up to 2^28 cycles after each call) on the cores the selection needed (40k
    points: 7.3 -> 4.9-5.2 s, the same neighbours; OPENBLAS_THREAD_TIMEOUT=4 alone: 6.0 s)."""
    return threadpool_limits(1, user_api="blas") if threadpool_limits else contextlib.nullcontext()


def _in_blocks(X, Y, per_block, out=None):
    """per_block(a, b, gram, xx[a:b], yy, self_column) for the fixed blocks [a, b) of X's rows
    (``_block_rows``), on numba.get_num_threads() threads: gram = X[a:b] @ Y.T, written into out[a:b]
    when given, else into one buffer per chunk of blocks (a fresh array per block was page-faulted
    in again each time, ~2 us a page here); xx, yy the rows' squared norms; self_column = a when Y
    is X (row t of the block is column a + t), else _NO_SELF."""
    rows = _block_rows(len(Y))
    xx = np.einsum("ij,ij->i", X, X)
    yy = xx if Y is X else np.einsum("ij,ij->i", Y, Y)

    def blocks(first, last):
        scratch = None if out is not None else np.empty((min(rows, len(X)), len(Y)))
        for blk in range(first, last):
            a = blk * rows
            b = min(a + rows, len(X))
            gram = out[a:b] if out is not None else scratch[:b - a]
            np.matmul(X[a:b], Y.T, out=gram)
            per_block(a, b, gram, xx[a:b], yy, a if Y is X else _NO_SELF)

    with _one_blas_thread():
        run_in_chunks(blocks, (len(X) + rows - 1) // rows)


def _k_smallest_in_tiles(X, Y, k, indices, dists):
    """``nearest_neighbors`` against many rows of Y (more than _COLUMN_TILE): the products a block
    of _TILE_BLOCK_ROWS rows of X by a tile of _COLUMN_TILE rows of Y at a time, each row's heap
    carried from tile to tile. With whole rows of products per block (``_in_blocks``), a million
    reference rows left blocks of 4 rows, and every block read all of Y (0.4 GB at 50 features):
    10,000 new points took minutes. Tiles and blocks are fixed by the shapes alone, never by the
    thread count (module docstring)."""
    xx = np.einsum("ij,ij->i", X, X)
    yy = np.einsum("ij,ij->i", Y, Y)
    self_column = 0 if Y is X else _NO_SELF
    n_blocks = (len(X) + _TILE_BLOCK_ROWS - 1) // _TILE_BLOCK_ROWS

    def blocks(first, last):
        scratch = np.empty((_TILE_BLOCK_ROWS, _COLUMN_TILE))
        heap_d = np.empty((_TILE_BLOCK_ROWS, k))
        heap_i = np.empty((_TILE_BLOCK_ROWS, k), dtype=np.int64)
        sizes = np.empty(_TILE_BLOCK_ROWS, dtype=np.int64)
        for blk in range(first, last):
            a = blk * _TILE_BLOCK_ROWS
            b = min(a + _TILE_BLOCK_ROWS, len(X))
            sizes[:] = 0
            for c0 in range(0, len(Y), _COLUMN_TILE):
                c1 = min(c0 + _COLUMN_TILE, len(Y))
                gram = scratch[:b - a, :c1 - c0]
                np.matmul(X[a:b], Y[c0:c1].T, out=gram)
                _k_smallest_tile(gram, xx[a:b], yy[c0:c1], c0, a + self_column if self_column == 0 else _NO_SELF,
                                 k, heap_d, heap_i, sizes)
            _sorted_heaps(heap_d[:b - a], heap_i[:b - a], indices[a:b], dists[a:b])

    with _one_blas_thread():
        run_in_chunks(blocks, n_blocks)


@njit(inline="always")
def _squared(xx_i, yy_j, g):
    return max(xx_i + yy_j - 2.0 * g, 0.0)


@njit(nogil=True, cache=True)
def _gram_to_squared(gram, xx, yy, self_column):
    """gram (r, m) of products x_i . y_j -> squared distances in place; entry (t, self_column + t) is
    a point against itself, 0 (none when self_column is _NO_SELF)."""
    for t in range(gram.shape[0]):
        base = xx[t]
        for j in range(gram.shape[1]):
            gram[t, j] = _squared(base, yy[j], gram[t, j])
        if self_column >= 0:
            gram[t, self_column + t] = 0.0


def squared_distances(X, Y=None):
    """|x_i - y_j|^2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clipped at 0: X (n, d), Y (m, d) -> (n, m);
    with Y None, X against itself, its diagonal exactly 0."""
    X = real_matrix(X, "X")
    Y = X if Y is None else real_matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y: expected {X.shape[1]} features as X has, got shape {Y.shape}")
    out = np.empty((len(X), len(Y)))
    _in_blocks(X, Y, lambda a, b, gram, xx, yy, self_column: _gram_to_squared(gram, xx, yy, self_column), out)
    return out


@njit(nogil=True, cache=True)
def _k_smallest(gram, xx, yy, self_column, k, indices, dists):
    """Per row t of a block of products x_i . y_j: the k smallest squared distances to the rows of
    Y (``_squared``), skipping column self_column + t (the point itself; none when self_column is
    _NO_SELF), nearest first."""
    heap_d = np.empty((gram.shape[0], k))
    heap_i = np.empty((gram.shape[0], k), dtype=np.int64)
    sizes = np.zeros(gram.shape[0], dtype=np.int64)
    _k_smallest_tile(gram, xx, yy, 0, self_column, k, heap_d, heap_i, sizes)
    _sorted_heaps(heap_d, heap_i, indices, dists)


@njit(nogil=True, cache=True)
def _k_smallest_tile(gram, xx, yy, first_column, self_column, k, heap_d, heap_i, sizes):
    """Feed the columns first_column + [0, m) of a block (products with a tile of m rows of Y, their
    squared norms yy (m,)) into each row's max-heap of its k smallest squared distances so far
    (heap_d, heap_i (rows, k), sizes (rows,)), so that most entries cost one comparison. Column
    self_column + t of row t is the point itself, skipped."""
    m = gram.shape[1]
    for t in range(gram.shape[0]):
        size = sizes[t]
        row = gram[t]
        base = xx[t]
        hd = heap_d[t]
        hi = heap_i[t]
        me = self_column + t - first_column  # not a conditional expression: that made this loop 6% slower
        for j in range(m):
            v = _squared(base, yy[j], row[j])
            if j == me or (size == k and v >= hd[0]):
                continue
            if size < k:  # sift up
                pos = size
                size += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if hd[parent] >= v:
                        break
                    hd[pos] = hd[parent]
                    hi[pos] = hi[parent]
                    pos = parent
            else:  # replace the root, sift down
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= k:
                        break
                    if child + 1 < k and hd[child + 1] > hd[child]:
                        child += 1
                    if hd[child] <= v:
                        break
                    hd[pos] = hd[child]
                    hi[pos] = hi[child]
                    pos = child
            hd[pos] = v
            hi[pos] = first_column + j
        sizes[t] = size


@njit(nogil=True, cache=True)
def _sorted_heaps(heap_d, heap_i, indices, dists):
    """Each row's heap nearest first, equal distances by ascending index (so the result does not
    depend on scan order): an insertion sort by (distance, index). Written out rather than
    np.argsort + np.sort, whose implementations took ~5 s of Numba compilation."""
    for t in range(heap_d.shape[0]):
        for s in range(heap_d.shape[1]):
            insert_sorted(dists[t], indices[t], s, heap_d[t, s], heap_i[t, s])


@njit(inline="always")
def insert_sorted(dists, indices, size, d, j):
    """Insert (d, j) into the row whose first ``size`` entries are sorted by (distance, index),
    ascending; the row has room for one more (entry ``size`` is overwritten)."""
    u = size - 1
    while u >= 0 and (dists[u] > d or (dists[u] == d and indices[u] > j)):
        dists[u + 1] = dists[u]
        indices[u + 1] = indices[u]
        u -= 1
    dists[u + 1] = d
    indices[u + 1] = j


def nearest_neighbors(X, k, reference=None):
    """The k nearest other points of every row of X, exactly; or, given ``reference``, the k
    nearest reference rows of every row of X.

    Parameters
    ----------
    X : (n, d) float array
    k : int, 1 <= k < n (1 <= k <= m with a reference)
    reference : None or (m, d) float array

    Returns
    -------
    indices : (n, k) int64, nearest first, equal distances by ascending index (a point is never
        its own neighbour; its duplicates are)
    sq_distances : (n, k) float64 squared Euclidean distances, bit for bit the entries of
        ``squared_distances(X, reference)`` up to _COLUMN_TILE reference rows (beyond, the products
        are taken in tiles of other shapes, and may differ from them in the last bits)
    """
    X = real_matrix(X, "X")
    Y = X if reference is None else real_matrix(reference, "reference")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"reference: expected {X.shape[1]} features as X has, got shape {Y.shape}")
    candidates = len(Y) - (1 if reference is None else 0)
    k = count(k, "k", 1, candidates)  # 1 <= k < n_samples, or <= the reference points
    indices = np.empty((len(X), k), dtype=np.int64)
    dists = np.empty((len(X), k))
    if len(Y) > _COLUMN_TILE:
        _k_smallest_in_tiles(X, Y, k, indices, dists)
        return indices, dists
    _in_blocks(X, Y, lambda a, b, gram, xx, yy, self_column:
               _k_smallest(gram, xx, yy, self_column, k, indices[a:b], dists[a:b]))
    return indices, dists
