"""P for large data in half the memory, built directly in the run's order.

At a million points with k = 91 neighbours, P = (P_cond + P_cond^T) / 2n has about 1.2 x 10^8
non-zeros. ``affinities.symmetrize`` (one stable sort of 2 nk int64 keys) needs about 10 GB on the
way, ``locality_order.permuted`` another copy, and the float64 / int64 result 1.9 GB. Here:

- A + A^T by counting instead of sorting: the transpose's row lengths by one pass over the columns,
  each transposed entry placed by its row (so its row comes out sorted), then every row of the sum
  merged from the row of A (k entries, sorted in place) and the row of A^T, twice: once to count,
  once to write. Scratch: one int32 (or int64) per entry of A.
- The rows and columns are renumbered by the run's locality order (``locality_order``) on the way,
  so P is never permuted afterwards.
- The result holds int32 columns and float32 values (p_ij is a sum of two float64 terms, divided by
  the total in float64, rounded once): 8 bytes an entry, not 16. The attraction, which reads every
  entry at every iteration, is bound by that read: at 200,000 deformed digits (2.6 x 10^7
  entries) it took 65 -> 34 ms an iteration (median of 10, 2 threads). float32 keeps p_ij to 6e-8 relative, far inside what approximate neighbours
  (recall 0.99) already change; the exact search keeps float64 (``affinities``).

``TSNE`` uses this for the approximate neighbours (``neighbors='approx'``, or 'auto' from 30,000
points); ``test_tsne_compact_affinities.py`` checks it against ``symmetrize`` and ``permuted``.
"""
import numpy as np
from numba import njit

from tsne.affinities import SparseAffinities
from tsne.chunked_threads import run_in_chunks


@njit(nogil=True, cache=True)
def _transpose(idx, order, rank, t_indptr, t_src):
    """Entries of A (new row r = old row order[r], columns rank[idx[order[r], c]]) placed by column:
    t_src[t_indptr[col] + t] = r * k + c, rows r ascending within each column."""
    n, k = idx.shape
    fill = t_indptr[:-1].copy()
    for r in range(n):
        old = order[r]
        for c in range(k):
            col = rank[idx[old, c]]
            t_src[fill[col]] = r * k + c
            fill[col] += 1


@njit(nogil=True, cache=True)
def _merge_rows(start, stop, idx, vals, order, rank, t_indptr, t_src, scale, indptr, indices, data, count_only):
    """Row r of A + A^T for r in [start, stop): the k entries of A's row (sorted here by column) and
    the entries of A^T's row (already sorted), equal columns added. With ``count_only`` the row's
    length goes to indptr[r + 1]; otherwise the row is written from indptr[r], values times scale."""
    k = idx.shape[1]
    own_c = np.empty(k, dtype=np.int64)
    own_v = np.empty(k)
    for r in range(start, stop):
        old = order[r]
        for c in range(k):
            _insert_by_column(own_c, own_v, c, rank[idx[old, c]], vals[old, c])
        a, b, end = 0, t_indptr[r], t_indptr[r + 1]
        out = 0 if count_only else indptr[r]
        while a < k or b < end:
            # A^T[r, s] = A[s, c] for the entry at position s k + c of A
            s = t_src[b] // k if b < end else -1
            if b == end or (a < k and own_c[a] < s):
                col, v = own_c[a], own_v[a]
                a += 1
            else:
                col, v = s, vals[order[s], t_src[b] - s * k]
                b += 1
                if a < k and own_c[a] == col:  # in both A and A^T: p_j|i + p_i|j
                    v = own_v[a] + v
                    a += 1
            if not count_only:
                indices[out] = col
                data[out] = v * scale
            out += 1
        if count_only:
            indptr[r + 1] = out


@njit(inline="always")
def _insert_by_column(cols, vals, size, col, v):
    """Insert (col, v) into the first ``size`` entries of cols, vals, sorted by column."""
    u = size - 1
    while u >= 0 and cols[u] > col:
        cols[u + 1] = cols[u]
        vals[u + 1] = vals[u]
        u -= 1
    cols[u + 1] = col
    vals[u + 1] = v


def compact_joint_probabilities(neighbor_indices, conditional, order):
    """P = (A + A^T) / sum(A + A^T), A[i, j] = p_j|i over each point's k neighbours, renumbered so
    that new point r is old point order[r], with int32 columns and float32 values.

    Parameters
    ----------
    neighbor_indices : (n, k) int, each row's neighbours (never the row itself, no repeats)
    conditional : (n, k) float64, p_j|i (``perplexity.conditional_probabilities``)
    order : (n,) int permutation of range(n), or None for the data's order

    Returns
    -------
    SparseAffinities (n x n), symmetric, summing to 1 (to float32 rounding): entry (r, s) is
    p_{order[r] order[s]}; indptr int64, indices int32 (int64 from 2^31 points), data float32.
    """
    idx = np.asarray(neighbor_indices)
    vals = np.ascontiguousarray(conditional, dtype=np.float64)
    n, k = idx.shape
    if vals.shape != idx.shape:
        raise ValueError(f"conditional: expected shape {idx.shape} as neighbor_indices, got {vals.shape}")
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    t_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(idx.ravel(), minlength=n)[order], out=t_indptr[1:])  # column rank[c] is old column c
    t_src = np.empty(n * k, dtype=np.int32 if n * k < 2 ** 31 else np.int64)
    _transpose(idx, order, rank, t_indptr, t_src)
    indptr = np.zeros(n + 1, dtype=np.int64)
    nothing = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
    run_in_chunks(_merge_rows, n, idx, vals, order, rank, t_indptr, t_src, 1.0, indptr, *nothing, True)
    np.cumsum(indptr, out=indptr)
    indices = np.empty(indptr[-1], dtype=np.int32 if n < 2 ** 31 else np.int64)
    data = np.empty(indptr[-1], dtype=np.float32)
    # sum(A + A^T) = 2 sum(A), summed row by row in float64 (the same for any thread count)
    scale = 1.0 / max(2.0 * float(vals.sum()), np.finfo(np.float64).eps)
    run_in_chunks(_merge_rows, n, idx, vals, order, rank, t_indptr, t_src, scale, indptr, indices, data, False)
    return SparseAffinities(indptr, indices, data, int(n))
