"""SciPy sparse input to TSNE: data (n_samples, n_features) in any sparse format, and precomputed
kNN distance graphs such as ``sklearn.neighbors.KNeighborsTransformer(mode='distance')`` makes.

Every format (CSR, CSC, COO, LIL, DOK, BSR, DIA; matrices and arrays) is read through ``tocsr``.
SciPy is never imported here: a sparse matrix can only exist once ``scipy.sparse`` is loaded, so
``is_sparse`` looks it up among the loaded modules (``import tsne`` stays NumPy/Numba-only).

A precomputed sparse graph follows scikit-learn's ``NearestNeighbors(metric='precomputed')``:
the stored entries of row i (explicit zeros included: a duplicate point is at distance 0) are
its candidate neighbours, the diagonal entry is the point itself, and a row must hold k + 1
entries for k neighbours (the point and its k neighbours, as ``KNeighborsTransformer`` stores
them). One difference: when a row does not store its diagonal, scikit-learn drops the nearest
real neighbour in its place; here the diagonal is simply not a candidate.
"""
import sys

import numpy as np

from tsne.pca import pca

_DENSE_PCA_BYTES = 256 << 20  # a sparse X up to this size is densified for the PCA initialisation


def is_sparse(X):
    """Whether X is a SciPy sparse matrix or array (without importing SciPy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def as_csr(X, name="X"):
    """A CSR copy of a sparse X (float32 kept, anything else float64), duplicates summed and columns
    sorted within each row, or a ValueError naming ``name`` when a stored value is NaN or infinite."""
    # astype copies: the caller's matrix is never changed
    X = X.tocsr().astype(np.float32 if X.dtype == np.float32 else np.float64)
    X.sum_duplicates()
    bad = ~np.isfinite(X.data)
    if bad.any():
        raise ValueError(f"{name}: contains NaN or inf ({int(bad.sum())} stored values)")
    return X


def graph_neighbors(G, k):
    """The k nearest neighbours of every row of a sparse precomputed distance graph.

    Parameters
    ----------
    G : (n, n) CSR from ``as_csr``, non-negative; stored entries are the candidates
    k : int, 1 <= k < n

    Returns
    -------
    indices : (n, k) int64, nearest first, equal distances by ascending index (as a dense
        precomputed matrix gives them), never the point itself
    distances : (n, k) float64, as stored
    """
    n = G.shape[0]
    stored = np.diff(G.indptr)
    if stored.min() < k + 1:
        raise ValueError(f"X: {k + 1} neighbors per samples are required, but some samples have only "
                         f"{stored.min()} neighbors in precomputed graph matrix (row {int(np.argmin(stored))}): "
                         f"a row needs the point itself and k = min(n_samples - 1, 3 * perplexity + 1) = {k} "
                         f"neighbours; lower the perplexity or recompute the graph with more neighbours")
    rows = np.repeat(np.arange(n), stored)
    others = G.indices != rows
    rows, cols, dist = rows[others], G.indices[others].astype(np.int64), G.data[others]
    order = np.lexsort((cols, dist, rows))  # by row, then distance, then index
    rows, cols, dist = rows[order], cols[order], dist[order]
    per_row = np.bincount(rows, minlength=n)  # >= k: at most one diagonal entry once duplicates are summed
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    first = rank < k
    return cols[first].reshape(n, k), dist[first].reshape(n, k)


def sparse_pca(X, n_components):
    """Principal components of a sparse X (n, d) -> (n, n_components), signs as ``tsne.pca``'s.

    Up to 256 MB dense, X is densified and ``tsne.pca`` gives exactly the dense data's components;
    beyond, scikit-learn's PCA centres implicitly (ARPACK or the covariance's eigenvectors, its
    choice), with the same sign convention (largest loading positive, ``svd_flip``)."""
    if X.shape[0] * X.shape[1] * 8 <= _DENSE_PCA_BYTES:
        return pca(X.toarray(), n_components)
    from sklearn.decomposition import PCA  # only for data too large to densify

    return PCA(n_components, random_state=0).fit_transform(X)
