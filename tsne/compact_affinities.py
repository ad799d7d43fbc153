"""P for large data in half the memory, built directly in the run's order.

At a million points with k = 91 neighbours, P = (P_cond + P_cond^T) / 2n has about 1.2 x 10^8
non-zeros. ``affinities.symmetrize`` (one stable sort of 2 nk int64 keys) needs about 10 GB on the
way, ``locality_order.permuted`` another copy, and the float64 / int64 result 1.9 GB. Here:

- A + A^T by counting instead of sorting: the transpose's row lengths by one pass over the columns,
  each transposed entry placed by its row (so its row comes out sorted), then every row of the sum
  merged from the row of A (k entries, sorted in place) and the row of A^T, twice: once to count,
  once to write. Scratch: one int32 (or int64) per entry of A.
- The rows and columns are renumbered by the run's locality order (``locality_order``) first, in
  place (``overwrite``), so that P is never permuted afterwards and the merge, which reads the rows
  of A^T's entries, finds them near the row it writes: a neighbour of point r sits near r in that
  order, not in the data's.
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
def _into_run_order(idx, vals, order):
    """In place: row r of idx and vals becomes old row order[r], by following the permutation's
    cycles (one held row of scratch, not a copy of the arrays: 1.1 GB at a million points)."""
    n = len(order)
    done = np.zeros(n, dtype=np.bool_)
    held_c, held_v = idx[0].copy(), vals[0].copy()
    for first in range(n):
        if done[first]:
            continue
        held_c[:] = idx[first]
        held_v[:] = vals[first]
        r = first
        while True:  # row r takes row order[r], which then takes order[order[r]], ...
            done[r] = True
            src = order[r]
            if src == first:
                idx[r] = held_c
                vals[r] = held_v
                break
            idx[r] = idx[src]
            vals[r] = vals[src]
            r = src


@njit(nogil=True, cache=True)
def _ranked_sorted_rows(start, stop, idx, vals, rank):
    """Rows [start, stop) of idx, vals in place: columns renumbered by rank, sorted by column."""
    k = idx.shape[1]
    for r in range(start, stop):
        for c in range(k):
            _insert_by_column(idx[r], vals[r], c, rank[idx[r, c]], vals[r, c])


@njit(nogil=True, cache=True)
def _transpose(idx, t_indptr, t_src):
    """Entries of A placed by column: t_src[t_indptr[col] + t] = r * k + c for A[r, c] in column
    col, rows r ascending within each column."""
    n, k = idx.shape
    fill = t_indptr[:-1].copy()
    for r in range(n):
        for c in range(k):
            col = idx[r, c]
            t_src[fill[col]] = r * k + c
            fill[col] += 1


@njit(nogil=True, cache=True)
def _merge_rows(start, stop, idx, vals, t_indptr, t_src, scale, indptr, indices, data, count_only):
    """Row r of A + A^T for r in [start, stop): the k entries of A's row and the entries of A^T's
    row (both sorted by column), equal columns added. With ``count_only`` the row's length goes to
    indptr[r + 1]; otherwise the row is written from indptr[r], values times scale."""
    k = idx.shape[1]
    flat_vals = vals.reshape(-1)
    for r in range(start, stop):
        a, b, end = 0, t_indptr[r], t_indptr[r + 1]
        out = 0 if count_only else indptr[r]
        while a < k or b < end:
            # A^T[r, s] = A[s, c] for the entry at position s k + c of A
            s = t_src[b] // k if b < end else -1
            if b == end or (a < k and idx[r, a] < s):
                col, v = idx[r, a], vals[r, a]
                a += 1
            else:
                col, v = s, flat_vals[t_src[b]]
                b += 1
                if a < k and idx[r, a] == col:  # in both A and A^T: p_j|i + p_i|j
                    v = vals[r, a] + v
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


def compact_joint_probabilities(neighbor_indices, conditional, order, overwrite=False):
    """P = (A + A^T) / sum(A + A^T), A[i, j] = p_j|i over each point's k neighbours, renumbered so
    that new point r is old point order[r], with int32 columns and float32 values.

    Parameters
    ----------
    neighbor_indices : (n, k) int, each row's neighbours (never the row itself, no repeats)
    conditional : (n, k) float64, p_j|i (``perplexity.conditional_probabilities``)
    order : (n,) int permutation of range(n), or None for the data's order
    overwrite : bool, whether the two arrays (int64 and C-contiguous float64) may be used as
        scratch (``TSNE``, which drops them afterwards; scipy's ``overwrite_a``). They are put in
        the run's order first (rows renumbered and sorted by column, in place), so that the
        merge reads the rows of A near row r, not scattered over the data's order (a million
        deformed digits 31.8-33.5 -> 11.9-15.9 s, 500,000 11.3-12.2 -> 5.9-6.5 s, the same
        bits). Without it they are copied first.

    Returns
    -------
    SparseAffinities (n x n), symmetric, summing to 1 (to float32 rounding): entry (r, s) is
    p_{order[r] order[s]}; indptr int64, indices int32 (int64 from 2^31 points), data float32.
    """
    idx = np.asarray(neighbor_indices)
    vals = np.asarray(conditional)
    n, k = idx.shape
    if vals.shape != idx.shape:
        raise ValueError(f"conditional: expected shape {idx.shape} as neighbor_indices, got {vals.shape}")
    # sum(A + A^T) = 2 sum(A), summed in the data's order (the same bits however the rows move)
    scale = 1.0 / max(2.0 * float(vals.sum(dtype=np.float64)), np.finfo(np.float64).eps)
    in_place = overwrite and idx.dtype == np.int64 and vals.dtype == np.float64 and idx.flags.c_contiguous \
        and vals.flags.c_contiguous and idx.flags.writeable and vals.flags.writeable
    idx = idx if in_place else np.array(idx, dtype=np.int64, order="C")
    vals = vals if in_place else np.array(vals, dtype=np.float64, order="C")
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    _into_run_order(idx, vals, order)
    run_in_chunks(_ranked_sorted_rows, n, idx, vals, rank)
    t_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(idx.ravel(), minlength=n), out=t_indptr[1:])
    t_src = np.empty(n * k, dtype=np.int32 if n * k < 2 ** 31 else np.int64)
    _transpose(idx, t_indptr, t_src)
    indptr = np.zeros(n + 1, dtype=np.int64)
    nothing = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
    run_in_chunks(_merge_rows, n, idx, vals, t_indptr, t_src, 1.0, indptr, *nothing, True)
    np.cumsum(indptr, out=indptr)
    indices = np.empty(indptr[-1], dtype=np.int32 if n < 2 ** 31 else np.int64)
    data = np.empty(indptr[-1], dtype=np.float32)
    run_in_chunks(_merge_rows, n, idx, vals, t_indptr, t_src, scale, indptr, indices, data, False)
    return SparseAffinities(indptr, indices, data, int(n))
