"""The input distances t-SNE's affinities start from, for every metric scikit-learn's TSNE takes.

scikit-learn's convention (``TSNE._fit``, 1.9), kept here so that a metric gives the same P in
both packages: metric='euclidean' enters as squared Euclidean distances (computed squared, never
square-rooted); every other metric's distances -- 'precomputed' ones included -- are squared
before the perplexity search (so 'sqeuclidean' enters as d^4, as it does in scikit-learn).

Where the numbers come from:

- dense data with 'euclidean' or 'sqeuclidean': this package's blocked BLAS distances
  (``neighbors.squared_distances``) and exact kNN (``neighbors.nearest_neighbors``);
- 'precomputed': the given matrix (dense), or a sparse kNN graph (``sparse_input.py``, Barnes-Hut
  and FFT only);
- any other metric, a callable, or sparse data: scikit-learn's ``pairwise_distances`` (exact) and
  ``NearestNeighbors`` (Barnes-Hut, FFT), with ``metric_params`` passed on (mahalanobis ``V`` or
  ``VI``, minkowski ``p``, ...), imported only then: ``import tsne`` and a default fit do not load
  scikit-learn.

Two more things make the same distances give the same P bit for bit, whichever path computed them:
neighbours come nearest first, equal distances by ascending index (scikit-learn's search may keep
another of several candidates tied at the k-th place); and the squared distances are
rounded to float32 (24 bits) before the perplexity search, as scikit-learn's search casts them.
Distances computed two ways (BLAS here, a kNN library there, a precomputed matrix from SciPy) differ
in their last bits, and the optimisation is chaotic: a 1e-16 relative change of P gave a
different 100-point Barnes-Hut map after 250 iterations (max difference 14 for a map spanning 20).
Rounded, a dense and a sparse precomputed matrix, or a metric and its precomputed distances, give
the same map; the rounding (6e-8 relative) is far below what the perplexity calibration resolves.
Data in float32 stays float32 for scikit-learn's metrics (its distances then are its own float32
ones, as with scikit-learn's TSNE); this package's kernels compute in float64.
"""
import time

import numpy as np

from tsne.neighbors import nearest_neighbors, squared_distances
from tsne.sparse_input import graph_neighbors, is_sparse

OWN_METRICS = ("euclidean", "sqeuclidean")  # computed by this package's kernels for dense data


def valid_metric_names():
    """The metric names scikit-learn's TSNE accepts: its ``_VALID_METRICS`` and 'precomputed'.
    Imported when a name other than 'euclidean' or 'precomputed' is checked, not before."""
    from sklearn.metrics.pairwise import _VALID_METRICS

    return set(_VALID_METRICS) | {"precomputed"}


def _checked(distances, metric):
    """Distances the affinities can use, finite and non-negative, or a ValueError naming the metric
    (with scikit-learn's words for negative ones, which its tests look for)."""
    if np.any(distances < 0):
        raise ValueError(f"metric: All distances should be positive, the metric given is not correct "
                         f"({_name(metric)} gave a negative distance, min {float(np.min(distances))})")
    if not np.all(np.isfinite(distances)):
        raise ValueError(f"metric: {_name(metric)} gave NaN or infinite distances "
                         f"({int(np.sum(~np.isfinite(distances)))} of them); check the data for rows the metric "
                         f"cannot compare (e.g. 'correlation' of a constant row)")
    return distances


def _float32_grid(sq_distances):
    """Squared distances (a float64 array of the caller's own) rounded to the nearest float32 in
    place, kept as float64 (module docstring): an n x n matrix needs a float32 copy only."""
    np.copyto(sq_distances, sq_distances.astype(np.float32))
    return sq_distances


def _from_sklearn(compute, metric, metric_params):
    """compute() with scikit-learn's errors about the metric (mahalanobis without V or VI, a metric
    that refuses sparse data, ...) re-raised naming the arguments, their type and words kept."""
    try:
        return compute()
    except (ValueError, TypeError) as exc:
        kind = ValueError if isinstance(exc, ValueError) else TypeError
        raise kind(f"metric, metric_params: scikit-learn refused metric={_name(metric)} with "
                   f"metric_params={metric_params!r}: {exc}") from exc


def _pairwise_params(metric, metric_params):
    """metric_params as scikit-learn's distance code takes them. 'mahalanobis' can reach SciPy, which
    takes VI only: scikit-learn's ``pairwise_distances`` (exact TSNE) always, its ``NearestNeighbors``
    when it searches by brute force (k >= n / 2), and V then fails with a TypeError. So V becomes
    VI = V^-1 (what its tree searches compute), and V works with every method and size. Without
    either, SciPy takes the data's inverse covariance and the trees refuse, as in scikit-learn."""
    params = dict(metric_params or {})
    if metric == "mahalanobis" and "V" in params and "VI" not in params:
        params["VI"] = np.linalg.inv(params.pop("V"))
    return params


def _name(metric):
    """The metric as an error message names it."""
    return repr(metric) if isinstance(metric, str) else f"the callable {getattr(metric, '__name__', metric)!r}"


def distance_matrix(X, metric="euclidean", metric_params=None, n_jobs=None, verbose=0):
    """All pairwise input distances in scikit-learn's convention (module docstring), for exact t-SNE.

    Parameters
    ----------
    X : (n, d) float32 or float64 array or SciPy sparse matrix; with metric='precomputed' a dense
        (n, n) non-negative distance matrix
    metric : a name scikit-learn's TSNE accepts, 'precomputed' or a callable(x, y) -> float
    metric_params : dict or None, the metric's keyword arguments
    n_jobs : passed to scikit-learn's ``pairwise_distances``

    Returns
    -------
    (n, n) float64 (on the float32 grid): squared Euclidean distances for 'euclidean', the metric's
    distances squared otherwise.
    """
    if metric == "precomputed":
        return _float32_grid(X.astype(np.float64) ** 2)
    if verbose:
        print("[t-SNE] Computing pairwise distances...")
    if metric in OWN_METRICS and not is_sparse(X):
        D = squared_distances(np.asarray(X, dtype=np.float64))
        return _float32_grid(D if metric == "euclidean" else D * D)
    from sklearn.metrics import pairwise_distances  # only here: a default fit never loads scikit-learn

    if metric == "euclidean":  # sparse data: squared directly, as scikit-learn does
        D = _checked(pairwise_distances(X, metric="euclidean", squared=True), metric)
        return _float32_grid(D.astype(np.float64))
    params = _pairwise_params(metric, metric_params)
    D = _checked(_from_sklearn(lambda: pairwise_distances(X, metric=metric, n_jobs=n_jobs, **params),
                               metric, metric_params), metric)
    return _float32_grid(D.astype(np.float64) ** 2)


def neighbor_distances(X, k, metric="euclidean", metric_params=None, n_jobs=None, verbose=0):
    """Every point's k nearest other points and the squared distances to them (module docstring's
    convention), for the Barnes-Hut and FFT methods.

    Parameters
    ----------
    X : (n, d) float32 or float64 array or SciPy sparse matrix; with metric='precomputed' a dense
        (n, n) distance matrix or a sparse kNN distance graph (its stored entries are the candidates)
    k : int, 1 <= k < n
    metric, metric_params : as ``distance_matrix``; n_jobs: passed to scikit-learn's ``NearestNeighbors``

    Returns
    -------
    indices : (n, k) int64, nearest first, equal distances by ascending index; never the point itself
    sq_distances : (n, k) float64, on the float32 grid
    """
    n = X.shape[0]
    if verbose:
        print(f"[t-SNE] Computing {k} nearest neighbors...")
    t0 = time.perf_counter()
    t_index = 0.0  # this package's searches build no index
    if metric in OWN_METRICS and not is_sparse(X):
        idx, sq = nearest_neighbors(np.asarray(X, dtype=np.float64), k)
        sq = sq if metric == "euclidean" else sq * sq
    else:
        if metric != "precomputed":
            idx, dist, t_index = _sklearn_neighbors(X, k, metric, metric_params, n_jobs)
        elif is_sparse(X):
            idx, dist = graph_neighbors(X, k)
        else:
            D = X.copy()
            np.fill_diagonal(D, np.inf)
            idx = np.argsort(D, axis=1, kind="stable")[:, :k]
            dist = np.take_along_axis(D, idx, axis=1)
        # squared in float64, exactly for float32 distances: one rounding to float32 below, as
        # scikit-learn's float32 square
        sq = _checked(np.asarray(dist, dtype=np.float64), metric) ** 2
    if verbose:
        print(f"[t-SNE] Indexed {n} samples in {t_index:.3f}s...")
        print(f"[t-SNE] Computed neighbors for {n} samples in {time.perf_counter() - t0:.3f}s...")
    return idx.astype(np.int64, copy=False), _float32_grid(sq)


def _sklearn_neighbors(X, k, metric, metric_params, n_jobs):
    """scikit-learn's kNN for any other metric or sparse data: (indices, distances, seconds spent
    indexing), re-sorted so that equal distances come by ascending index as on the other paths."""
    from sklearn.neighbors import NearestNeighbors  # only here: a default fit never loads scikit-learn

    t0 = time.perf_counter()
    params = _pairwise_params(metric, metric_params) or None
    index = _from_sklearn(lambda: NearestNeighbors(n_neighbors=k, metric=metric, metric_params=params,
                                                   n_jobs=n_jobs).fit(X), metric, metric_params)
    t_index = time.perf_counter() - t0
    dist, idx = _from_sklearn(index.kneighbors, metric, metric_params)
    order = np.lexsort((idx, dist), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1), t_index
