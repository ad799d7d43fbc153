"""Approximate k nearest neighbours for t-SNE at scale: a hierarchical navigable small-world graph
(HNSW, Malkov & Yashunin 2018, faiss's ``IndexHNSWFlat``), searched with every point as a query.

The exact search (``neighbors.py``) costs O(n^2 d); HNSW costs about O(n log n) and finds nearly
all of the true neighbours. How many it found is measured, not assumed: the exact neighbours of a
seeded sample of points are computed and compared (``sampled_recall``); the beam (``efSearch``) is
widened on that sample until its recall reaches ``MIN_RECALL`` and narrowed again by bisection to
the smallest width found that reaches it, then every point is searched once.

The same neighbours for any number of threads, and for one ``random_state`` on every run:
- the graph is built on one thread (faiss links a point to a graph that other threads are still
  changing, so with several its edges could depend on their timing), with the points inserted
  in a given order (``TSNE``'s: the Morton order of its PCA map) or one drawn from ``random_state``;
- the search is parallel over queries, each query a walk of its own through the finished graph;
- the distances faiss returns (float32) are thrown away: each row's are recomputed in float64,
  |x_i - x_j|^2 summed over the features in order, and the row sorted by (distance, index), as
  ``nearest_neighbors`` sorts. The rows are fixed, so which thread does which row does not matter.

Why faiss's HNSW (50-D shifted digits, k = 90, 2 shared cores, ``benchmarks/neighbors.py``):
at 50,000 points it took 9.9 s at recall 0.997, where the exact search took 14.4 s; pynndescent
(Numba-based, like this package) found 0.9999 in 18.8 s, compiled for 26-78 s in every new
process (its kernels are not cached), and its neighbours depended on the thread count (383 of
50,000 rows differed between 1 and 2 threads). annoy and hnswlib come as source only (a compiler
at install). faiss-cpu is imported here only, when the approximate search runs.
"""
import numbers

import numba
import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks
from tsne.input_checks import count, random_generator, real_matrix
from tsne.neighbors import insert_sorted, nearest_neighbors

NEIGHBOR_SEARCHES = ("auto", "exact", "approx")
# 'auto' searches exactly below this many points (where the exact search was faster, measured with
# benchmarks/neighbors.py on 50-D PCA'd shifted digits, k = 90, 2 threads)
APPROX_FROM = 30_000
MIN_RECALL = 0.99
RECALL_SAMPLE = 1000  # points whose exact neighbours check the recall
_LINKS = 16  # HNSW's M: edges per point and layer
_EF_CONSTRUCTION = 40  # beam width while building (64: 1.6x the build time, recall 0.9970 -> 0.9984 at 50k)
_MAX_EF = 4096
_QUERY_BLOCK = 1 << 16


def uses_approximate(neighbors, n):
    """Whether ``neighbors`` ('auto', 'exact' or 'approx') means the approximate search on n points."""
    return neighbors == "approx" or (neighbors == "auto" and n >= APPROX_FROM)


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - a dependency in pyproject.toml
        raise ImportError("neighbors='approx' (or 'auto' on large data) needs faiss-cpu: pip install faiss-cpu") from e
    return faiss


def _hnsw_graph(X, order, progress=None):
    """An HNSW index of X's rows (as float32), built on one thread with the points inserted in
    ``order`` (a permutation of the rows), in blocks of ``_QUERY_BLOCK`` rows (so that ``progress``
    can be told): index id t is row order[t] of X, so points near in that order sit near in memory."""
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(X.shape[1], _LINKS)
    index.hnsw.efConstruction = _EF_CONSTRUCTION
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for first in range(0, len(X), _QUERY_BLOCK):
            index.add(np.ascontiguousarray(X[order[first:first + _QUERY_BLOCK]], dtype=np.float32))
            if progress is not None:
                progress.update(min(first + _QUERY_BLOCK, len(X)))
    finally:
        faiss.omp_set_num_threads(before)
    return index


def _smallest_beam(recall_at, ef, min_recall, limit):
    """(beam, recall): the beam ``_search`` should use, ``recall_at(beam)`` the sample's recall.
    The beam grows from ``ef`` by 1.25x a step until the recall reaches ``min_recall`` (or the beam
    ``limit``), then is bisected between the last two widths down to a 1/32 gap: a full search costs
    about its beam, and a 1.25x step would overshoot by 12% on average (a million deformed digits
    needed 0.9915 at 178 after 0.9868 at 143). Each width is one search of the sample only."""
    low, recall = ef, recall_at(ef)
    while recall < min_recall and ef < limit:
        low, ef = ef, min(max(ef + 1, (5 * ef) // 4), limit)
        recall = recall_at(ef)
    while recall >= min_recall and ef - low > max(1, ef // 32):
        mid = (low + ef) // 2
        r = recall_at(mid)
        if r >= min_recall:
            ef, recall = mid, r
        else:
            low = mid
    return ef, recall


def _laid_out(index, order, storage_order):
    """The index with its vectors and links renumbered so that id t is row storage_order[t] (it was
    row order[t]), and that order: the same graph, but points near in ``storage_order`` sit near in
    memory (faiss's ``permute_entries``)."""
    built_id = np.empty(len(order), dtype=np.int64)
    built_id[order] = np.arange(len(order))
    index.permute_entries(built_id[storage_order])  # new id t holds old id perm[t]
    return index, np.asarray(storage_order, dtype=np.int64)


def _search(index, order, X, rows, k, ef, progress=None, in_place=False):
    """The k nearest other rows of X of each of ``rows`` through the index, with beam ``ef``:
    (indices (len(rows), k) int64, sq_distances (len(rows), k) float64), each row as
    ``_rows_without_self`` makes it (index -1 where the walk found too few); with ``in_place``,
    (n, k) arrays with row rows[r] at row rows[r] (``rows`` a permutation of all of X's rows).
    The queries go in blocks of ``_QUERY_BLOCK`` rows (faiss's float32 distances and int64 ids of a
    million rows would take 1.1 GB at once), each block on numba.get_num_threads() threads, each
    query on its own: the same for any count, and a row's result does not depend on which other
    rows are searched, nor in which order."""
    faiss = _faiss()
    index.hnsw.efSearch = ef
    indices = np.empty((len(rows), k), dtype=np.int64)
    sq_distances = np.empty((len(rows), k))
    before = faiss.omp_get_max_threads()
    try:
        for first in range(0, len(rows), _QUERY_BLOCK):
            block = rows[first:first + _QUERY_BLOCK]
            faiss.omp_set_num_threads(numba.get_num_threads())
            _, ids = index.search(np.ascontiguousarray(X[block], dtype=np.float32), k + 1)
            found = np.where(ids >= 0, order[np.maximum(ids, 0)], -1)
            dest = block if in_place else np.arange(first, first + len(block))
            run_in_chunks(_rows_without_self, len(block), found, block, dest, X, k, indices, sq_distances)
            if progress is not None:
                progress.update(first + len(block))
    finally:
        faiss.omp_set_num_threads(before)
    return indices, sq_distances


@njit(nogil=True, cache=True)
def _rows_without_self(start, stop, found, rows, dest, X, k, indices, sq_distances):
    """For r in [start, stop): row rows[r] of X, whose k + 1 candidates are ``found[r]``: the k
    candidates other than the point itself (the last one dropped when the point is not among
    them), with float64 squared distances summed over the features in order, sorted by (distance,
    index), into indices[dest[r]], sq_distances[dest[r]]. A row short of k candidates keeps index -1."""
    for r in range(start, stop):
        i = rows[r]
        out = dest[r]
        s = 0
        for c in range(found.shape[1]):
            j = found[r, c]
            if j == i or j < 0 or s == k:
                continue
            d = 0.0
            for f in range(X.shape[1]):
                diff = X[i, f] - X[j, f]
                d += diff * diff
            insert_sorted(sq_distances[out], indices[out], s, d, j)
            s += 1
        for c in range(s, k):
            indices[out, c] = -1
            sq_distances[out, c] = np.inf


def recall_sample(n, random_state):
    """The rows whose exact neighbours check the recall: RECALL_SAMPLE of them drawn without
    replacement (all rows of a smaller X), from a generator of their own so that the draw does not
    change the graph's."""
    rng = random_generator(0 if random_state is None else random_state)
    seed = rng.integers(2 ** 32) if isinstance(rng, np.random.Generator) else rng.randint(2 ** 32)
    rng = np.random.default_rng([int(seed), 31])
    return np.sort(rng.choice(n, min(n, RECALL_SAMPLE), replace=False))


def sampled_recall(X, indices, sample):
    """The fraction of the true k nearest neighbours of the rows ``sample`` that ``indices`` holds:
    |found_i & true_i| / k averaged over i in sample, the true ones by ``nearest_neighbors`` (a
    point's equally distant neighbours at the k-th place count as found whichever of them is kept).

    X : (n, d); indices : (n, k) int, every row's neighbours; sample : (m,) int rows. -> float in [0, 1]
    """
    X = real_matrix(X, "X")
    return _recall(_true_neighbors(X, sample, indices.shape[1]), indices[sample])


def _true_neighbors(X, sample, k):
    """For each row i of ``sample``, the set of its true k nearest other rows of X, with every row
    as far as the k-th (any of them is a right k-th neighbour)."""
    true, true_d = nearest_neighbors(X[sample], k + 1, reference=X)  # the point itself is among these
    sets = []
    for r, i in enumerate(sample):
        others = true[r] != i
        keep_t, keep_d = true[r][others][:k], true_d[r][others][:k]
        sets.append(set(keep_t.tolist()) | set(true[r][others][true_d[r][others] == keep_d[-1]].tolist()))
    return sets


def _recall(true_sets, found):
    """The mean over rows of |found[r] & true_sets[r]| / k, found (m, k)."""
    hits = sum(len(t & set(f.tolist())) for t, f in zip(true_sets, found))
    return hits / (len(true_sets) * found.shape[1])


def approximate_nearest_neighbors(X, k, random_state=None, min_recall=MIN_RECALL, verbose=0, progress=None,
                                  query_order=None, build_order=None):
    """The k nearest other points of every row of X, approximately (HNSW), with the recall measured.

    Parameters
    ----------
    X : (n, d) float array
    k : int, 1 <= k < n
    random_state : None, int or numpy Generator: the order in which points enter the graph, when
        ``build_order`` does not give it, and the recall sample
    min_recall : float in [0, 1]: the beam (efSearch) widens from k + 1, 1.25x a step, until the
        recall on the sample reaches it (or the beam reaches n or _MAX_EF), and is then narrowed
        by bisection to the smallest width found that still reaches it (``_smallest_beam``)
    verbose : int, one line per search from 1, one per beam tried from 2
    progress : None or a ``fit_progress.FitProgress``: the graph's and the search's phases
    query_order : None or a permutation of range(n): the order in which the points are searched
        and in which the graph's vectors are laid out in memory, which changes the time, not the
        graph. Similar points one after the other walk through the same parts of the graph while
        they are in cache (a million deformed digits searched in 149 s instead of 162 s; with the
        graph laid out in that order too, 100,000 queries into 500,000 points 11.9 -> 9.6 s)
    build_order : None or a permutation of range(n): the order in which the points enter the graph
        (None: drawn from ``random_state``). ``TSNE`` passes the Morton order of its PCA map, as
        its query order: each new point's walk then runs through the part of the graph its
        predecessor just walked, in cache (500,000 deformed digits: build 48.5 -> 33.2 s, recall
        at beam 178 0.9914 -> 0.9908; a million: 116.9 -> 80.2 s, 0.9915 -> 0.9888). It changes
        the graph, so the neighbours found, not their measured recall

    Returns
    -------
    indices : (n, k) int64, nearest first, equal distances by ascending index, never the point itself
    sq_distances : (n, k) float64, |x_i - x_j|^2 summed in float64
    recall : float, the fraction of the true k nearest neighbours found, on ``RECALL_SAMPLE`` rows
    """
    import time

    X = real_matrix(X, "X")
    n = len(X)
    k = count(k, "k", 1, n - 1)
    if isinstance(min_recall, bool) or not isinstance(min_recall, numbers.Real):
        raise TypeError(f"min_recall: expected a number in [0, 1], got {type(min_recall).__name__} {min_recall!r}")
    if not 0 <= min_recall <= 1:
        raise ValueError(f"min_recall: expected a number in [0, 1], got {min_recall!r}")
    if not isinstance(verbose, bool):
        count(verbose, "verbose", 0)
    t0 = time.perf_counter()
    rows = np.arange(n) if query_order is None else _permutation(query_order, n, "query_order")
    rng = random_generator(random_state) if random_state is not None else np.random.default_rng()
    order = rng.permutation(n) if build_order is None else _permutation(build_order, n, "build_order")
    if progress is not None:
        progress.start("neighbours: HNSW graph", n)
    index = _hnsw_graph(X, order, progress)
    if query_order is not None and not np.array_equal(rows, order):
        index, order = _laid_out(index, order, rows)
    if progress is not None:
        progress.start("neighbours: recall")
    sample = recall_sample(n, random_state)
    true_sets = _true_neighbors(X, sample, k)

    # A query's walk does not depend on the other queries, so the sample's recall at a beam is the
    # recall the full search will have on those rows: choose the beam on the sample alone, then
    # search every row once. (Searching everything at each width cost twice the time: 100,000
    # deformed digits, k = 90, recall 0.988 at the first beam, 31 -> 14 s.)
    def recall_at(ef):
        recall = _recall(true_sets, _search(index, order, X, sample, k, ef)[0])
        if verbose >= 2:
            print(f"[t-SNE] HNSW beam {ef}: recall {recall:.4f} on {len(sample)} samples")
        return recall

    ef, _ = _smallest_beam(recall_at, k + 1, min_recall, min(n, _MAX_EF))
    if progress is not None:
        progress.start("neighbours: search", n)
    indices, sq_distances = _search(index, order, X, rows, k, ef, progress, in_place=True)
    missing = np.flatnonzero(indices[:, -1] < 0)
    if len(missing):  # rows the walk left short (a graph cut in parts): search them exactly
        indices[missing], sq_distances[missing] = _exact_rows(X, missing, k)
    recall = _recall(true_sets, indices[sample])
    if verbose:
        print(f"[t-SNE] Approximate {k} nearest neighbors (HNSW, efSearch {ef}) of {n} samples in "
              f"{time.perf_counter() - t0:.3f}s: recall {recall:.4f} on {len(sample)} of them")
    return indices, sq_distances, recall


def _permutation(order, n, name):
    rows = np.asarray(order)
    if rows.shape != (n,) or rows.dtype.kind not in "iu" or not np.array_equal(np.sort(rows), np.arange(n)):
        raise ValueError(f"{name}: expected a permutation of range({n}), got an array of shape {rows.shape} "
                         f"and dtype {rows.dtype}")
    return rows.astype(np.int64)


def _exact_rows(X, rows, k):
    """Exact neighbours (the point itself left out) of the given rows of X: ((m, k), (m, k))."""
    idx, d2 = nearest_neighbors(X[rows], k + 1, reference=X)
    others = idx != rows[:, None]
    keep = np.cumsum(others, axis=1) <= k
    sel = others & keep
    return idx[sel].reshape(len(rows), k), d2[sel].reshape(len(rows), k)
