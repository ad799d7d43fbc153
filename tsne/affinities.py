"""Joint probabilities p_ij = (p_j|i + p_i|j) / 2n, dense (exact t-SNE) or sparse over the
nearest neighbours (Barnes-Hut t-SNE, van der Maaten 2014, sec. 4.1)."""
from typing import NamedTuple

import numpy as np

from tsne.neighbors import nearest_neighbors, squared_distances
from tsne.perplexity import conditional_probabilities

MACHINE_EPSILON = np.finfo(np.float64).eps


class SparseAffinities(NamedTuple):
    """A symmetric sparse matrix in CSR form: row i holds ``data[indptr[i]:indptr[i+1]]`` at
    columns ``indices[...]`` (sorted). ``toarray()`` gives the dense (n, n) matrix."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n: int

    def toarray(self):
        out = np.zeros((self.n, self.n))
        rows = np.repeat(np.arange(self.n), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    def scaled(self, factor):
        return self._replace(data=self.data * factor)


def joint_probabilities(distances, perplexity, squared=True):
    """Dense P: p_ij = (p_j|i + p_i|j) / sum, with sum = 2n (eq. 1 and sec. 3.1 of the paper).

    Parameters
    ----------
    distances : (n, n) distance matrix (squared Euclidean when ``squared``; otherwise squared here)
    perplexity : float in [1, n - 1)

    Returns
    -------
    P : (n, n) float64, symmetric, zero diagonal, summing to 1; entries at least machine epsilon
        off the diagonal (as scikit-learn, so log p is finite).
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances: expected a square (n, n) matrix, got shape {d.shape}")
    cond = conditional_probabilities(d if squared else d * d, perplexity, skip_self=True)
    P = cond + cond.T
    P /= max(P.sum(), MACHINE_EPSILON)
    np.maximum(P, MACHINE_EPSILON, out=P)
    np.fill_diagonal(P, 0.0)
    return P


def symmetrize(rows, cols, vals, n):
    """(A + A^T) for a sparse A given as coordinates, as CSR with duplicates summed."""
    r = np.concatenate([rows, cols])
    c = np.concatenate([cols, rows])
    v = np.concatenate([vals, vals])
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    starts = np.flatnonzero(first)
    data = np.add.reduceat(v, starts)
    indices = c[starts]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, r[starts] + 1, 1)
    return SparseAffinities(np.cumsum(indptr), indices.astype(np.int64), data, n)


def joint_probabilities_nn(neighbor_indices, neighbor_sq_distances, perplexity):
    """Sparse P over the nearest neighbours: p_j|i over each point's k neighbours, then
    P = (P_cond + P_cond^T) / sum (scikit-learn's ``_joint_probabilities_nn``).

    Parameters
    ----------
    neighbor_indices : (n, k) int, from ``nearest_neighbors``
    neighbor_sq_distances : (n, k) squared distances to them
    perplexity : float in [1, k)

    Returns
    -------
    SparseAffinities, symmetric, summing to 1.
    """
    idx = np.asarray(neighbor_indices)
    n, k = idx.shape
    cond = conditional_probabilities(neighbor_sq_distances, perplexity, skip_self=False)
    P = symmetrize(np.repeat(np.arange(n), k), idx.ravel(), cond.ravel(), n)
    return P.scaled(1.0 / max(P.data.sum(), MACHINE_EPSILON))


def affinities_from_data(X, perplexity, method, metric="euclidean"):
    """P for the data (or a precomputed distance matrix with metric='precomputed')."""
    n = X.shape[0]
    if method == "exact":
        D = X * X if metric == "precomputed" else squared_distances(X)
        return joint_probabilities(D, perplexity)
    k = min(n - 1, int(3.0 * perplexity + 1))
    if metric == "precomputed":
        D = X.copy()
        np.fill_diagonal(D, np.inf)
        idx = np.argsort(D, axis=1, kind="stable")[:, :k]
        d2 = np.take_along_axis(D, idx, axis=1) ** 2
    else:
        idx, d2 = nearest_neighbors(X, k)
    return joint_probabilities_nn(idx, d2, perplexity)
