"""What ``TSNE.fit`` and ``transform`` accept: X (dense, sparse, a DataFrame) and ``init`` checked
against the data, in scikit-learn's order (``TSNE._fit``, 1.9) with its error types, and its words
where its test suite looks for them. Each message names the argument, what was expected and what
was given; the parameters alone are checked before, by ``parameter_constraints.py``.
"""
import os

import numpy as np

from tsne.input_checks import real_matrix
from tsne.sparse_input import as_csr, is_sparse

# the embedding dimensions each method's repulsion supports (the exact sum takes any)
COMPONENTS = {"barnes_hut": (1, 2, 3), "fft": (1, 2)}
_WHY = {"barnes_hut": "it relies on a binary tree, quadtree or octree", "fft": "it interpolates on a 1-D or 2-D grid"}


def samples(X, name="X"):
    """X as float32 (if it was) or float64: a (n, d) array of finite numbers, or a CSR copy of a
    sparse X (any format); a TypeError for non-numeric data, a ValueError otherwise (shared by fit
    and transform). float32 is kept as scikit-learn keeps it, so that its metrics see the same data."""
    if is_sparse(X):
        X = as_csr(X, name)
        if X.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
        return X
    if np.iscomplexobj(np.asarray(X)):  # scikit-learn's error (a ValueError) and message
        raise ValueError(f"{name}: Complex data not supported, got dtype {np.asarray(X).dtype}")
    return real_matrix(X, name, keep_float32=True, min_rows=0)  # the estimator says how many it needs


def check_fit_input(est, X):
    """X for ``est.fit`` (float64 ndarray or CSR), checked against the estimator's parameters."""
    X = samples(X)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X: t-SNE needs at least 2 samples, got {n}")
    if X.shape[1] == 0:
        raise ValueError("X: has no features (shape (n, 0))")
    if not np.max(est.perplexity) < n:
        raise ValueError(f"perplexity: expected a value below n_samples; perplexity ({est.perplexity}) must be "
                         f"less than n_samples ({n})")
    if est.metric == "precomputed":
        _check_precomputed(est, X)
    supported = COMPONENTS.get(est.method)
    if supported is not None and est.n_components not in supported:
        listed = ", ".join(map(str, supported[:-1])) + f" or {supported[-1]}"
        raise ValueError(f"'n_components' should be {listed} for method={est.method!r} as {_WHY[est.method]}, "
                         f"got {est.n_components}; use method='exact' for other dimensions")
    if not isinstance(est.init, str):
        _check_init(est.init, (n, est.n_components))
    if est.metric != "precomputed" and _identical_rows(X):
        raise ValueError(f"X: all {n} samples are identical: there is no structure to embed "
                         f"(and init='pca' would divide by a zero standard deviation)")
    if est.neighbors == "approx":
        _check_approx_neighbors(est, X)
    if est.method == "exact":
        check_exact_memory(n)
    return X


def _check_approx_neighbors(est, X):
    """neighbors='approx' searches Euclidean neighbours of dense rows, for the neighbour methods only."""
    if est.method == "exact":
        raise ValueError("neighbors: 'approx' needs method='barnes_hut' or 'fft' (method='exact' uses all pairs), "
                         "got method='exact'")
    if est.metric != "euclidean" or is_sparse(X):
        raise ValueError(f"neighbors: 'approx' searches Euclidean neighbours of dense X, got metric={est.metric!r} "
                         f"on {'sparse' if is_sparse(X) else 'dense'} X; use neighbors='exact' or 'auto'")


# exact t-SNE holds n x n float64 matrices: the distances and P (the gradient's loop is O(n) beyond P)
EXACT_MATRICES = 2


def available_memory():
    """Bytes this process may still allocate: MemAvailable (Linux), capped by RLIMIT_AS; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            avail = max(soft - used, 0) if avail is None else min(avail, max(soft - used, 0))
    except (ImportError, OSError, ValueError):
        pass
    return avail


def check_exact_memory(n):
    """Refuse method='exact' before allocating when its n x n matrices cannot fit in memory."""
    need = EXACT_MATRICES * 8 * n * n
    avail = available_memory()
    if avail is not None and need > avail:
        raise ValueError(f"method='exact' on {n} samples needs about {need / 2 ** 30:.1f} GiB ({EXACT_MATRICES} "
                         f"matrices of {n} x {n} float64), more than the {avail / 2 ** 30:.1f} GiB available; "
                         f"use method='barnes_hut' or 'fft', which grow linearly with n")


def _check_precomputed(est, X):
    """A precomputed X: a square non-negative distance matrix, sparse only for the neighbour methods."""
    if isinstance(est.init, str) and est.init == "pca":
        raise ValueError('init: The parameter init="pca" cannot be used with metric="precomputed". '
                         "Use init='random' or an array of shape (n_samples, n_components)")
    if X.shape[0] != X.shape[1]:
        raise ValueError(f"X: with metric='precomputed', X should be a square distance matrix "
                         f"(n_samples, n_samples), got shape {X.shape}")
    smallest = (X.data.min() if X.nnz else 0.0) if is_sparse(X) else X.min()
    if smallest < 0:
        raise ValueError(f"X: with metric='precomputed', X should contain positive distances (all >= 0), "
                         f"got a minimum of {smallest}")
    if not is_sparse(X):
        _check_distance_matrix(X)
    if est.method == "exact" and is_sparse(X):
        raise TypeError('X: TSNE with method="exact" does not accept sparse precomputed distance matrix. '
                        'Use method="barnes_hut" (or "fft") with a kNN graph, or provide the dense distance '
                        f"matrix; got a sparse {type(X).__name__}")


def _check_distance_matrix(D):
    """A dense precomputed matrix must be distances: symmetric with a zero diagonal (up to rounding).
    (A sparse one is a kNN graph, asymmetric by nature, with its diagonal not stored.)"""
    scale = float(np.max(np.abs(D))) if D.size else 0.0
    tol = 1e-7 * scale + 1e-12
    diagonal = np.abs(np.diagonal(D))
    if diagonal.max(initial=0.0) > tol:
        i = int(np.argmax(diagonal))
        raise ValueError(f"X: with metric='precomputed', X should be a distance matrix with a zero diagonal, "
                         f"got X[{i}, {i}] = {D[i, i]!r}")
    asym = np.abs(D - D.T)
    if asym.max(initial=0.0) > tol:
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise ValueError(f"X: with metric='precomputed', X should be a symmetric distance matrix, got "
                         f"X[{i}, {j}] = {D[i, j]!r} but X[{j}, {i}] = {D[j, i]!r}")


def _check_init(init, shape):
    """An initial embedding given as an array: the right shape, finite, not all one point."""
    init = np.asarray(init, dtype=np.float64)
    if init.shape != shape:
        raise ValueError(f"init: expected an array of shape {shape} (n_samples, n_components), got {init.shape}")
    if not np.all(np.isfinite(init)):
        raise ValueError("init: contains NaN or inf")
    if np.all(init == init[0]):
        raise ValueError("init: every point starts at the same position, where the gradient is zero "
                         "by symmetry and nothing would move; give distinct starting points")


def _identical_rows(X):
    """Whether every row of X (dense or CSR) equals the first."""
    if is_sparse(X):
        return bool(np.all(X.max(axis=0).toarray() == X.min(axis=0).toarray()))
    return bool(np.all(X == X[0]))
