"""Joint probabilities p_ij = (p_j|i + p_i|j) / 2n, dense (exact t-SNE) or sparse over the
nearest neighbours (Barnes-Hut t-SNE, van der Maaten 2014, sec. 4.1)."""
import time
from typing import NamedTuple

import numpy as np

from tsne.distances import distance_matrix, neighbor_distances
from tsne.input_checks import real_matrix
from tsne.kl import MACHINE_EPSILON
from tsne.perplexity import conditional_probabilities


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

    @classmethod
    def from_dense(cls, P):
        """The non-zeros of a dense (n, n) matrix, e.g. ``joint_probabilities``'s, in this form."""
        P = np.asarray(P, dtype=np.float64)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(f"P: expected a square (n, n) matrix, got shape {P.shape}")
        rows, cols = np.nonzero(P)
        return cls(np.searchsorted(rows, np.arange(len(P) + 1)).astype(np.int64), cols.astype(np.int64),
                   P[rows, cols], len(P))


def check_sparse(P, who):
    """``P`` if it is a ``SparseAffinities``; else a TypeError that says what to pass instead."""
    if not isinstance(P, SparseAffinities):
        raise TypeError(f"P: {who} takes the sparse affinities of joint_probabilities_nn (a SparseAffinities), "
                        f"got {type(P).__name__}; for a dense (n, n) P use kl_divergence, or "
                        f"SparseAffinities.from_dense(P)")
    return P


def joint_probabilities(distances, perplexity, squared=True, verbose=0):
    """Dense P: p_ij = (p_j|i + p_i|j) / sum, with sum = 2n (eq. 1 and sec. 3.1 of the paper).

    Parameters
    ----------
    distances : (n, n) distance matrix (squared Euclidean when ``squared``; otherwise squared here)
    perplexity : float in [1, n - 1)
    verbose : int, scikit-learn's progress lines from 1 (``conditional_probabilities``)

    Returns
    -------
    P : (n, n) float64, symmetric, zero diagonal, summing to 1; entries at least machine epsilon
        off the diagonal (as scikit-learn, so log p is finite).
    """
    d = real_matrix(distances, "distances", finite=False)  # conditional_probabilities checks the values
    if d.shape[0] != d.shape[1]:
        raise ValueError(f"distances: expected a square (n, n) matrix, got shape {d.shape}")
    cond = conditional_probabilities(d if squared else d * d, perplexity, skip_self=True, verbose=verbose)
    P = cond + cond.T
    P /= max(P.sum(), MACHINE_EPSILON)
    np.maximum(P, MACHINE_EPSILON, out=P)
    np.fill_diagonal(P, 0.0)
    return P


def symmetrize(rows, cols, vals, n):
    """A + A^T for a sparse A given as coordinates (row, col, value), as CSR with sorted
    columns and duplicates added up.

    NumPy only (one stable sort of the 2 nnz keys row * n + col): the Numba version took 4 s to
    compile, a tenth of a first fit's wait."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    keys = np.concatenate([rows * n + cols, cols * n + rows])  # entry (i, j) of A, then (j, i) of A^T
    both = np.concatenate([vals, vals])
    order = np.argsort(keys, kind="stable")
    keys, both = keys[order], both[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
    data = np.add.reduceat(both, first) if len(first) else both[:0]
    indices = keys[first] % n
    indptr = np.searchsorted(keys[first] // n, np.arange(n + 1), side="left").astype(np.int64)
    return SparseAffinities(indptr, indices, data, int(n))


def joint_probabilities_nn(neighbor_indices, neighbor_sq_distances, perplexity, verbose=0):
    """Sparse P over the nearest neighbours: p_j|i over each point's k neighbours, then
    P = (P_cond + P_cond^T) / sum (scikit-learn's ``_joint_probabilities_nn``).

    Parameters
    ----------
    neighbor_indices : (n, k) int, from ``nearest_neighbors``
    neighbor_sq_distances : (n, k) squared distances to them
    perplexity : float in [1, k)
    verbose : int, scikit-learn's progress lines from 1, and the time taken from 2

    Returns
    -------
    SparseAffinities, symmetric, summing to 1.
    """
    t0 = time.perf_counter()
    idx = np.asarray(neighbor_indices)
    n, k = idx.shape
    cond = conditional_probabilities(neighbor_sq_distances, perplexity, skip_self=False, verbose=verbose)
    P = symmetrize(np.repeat(np.arange(n), k), idx.ravel(), cond.ravel(), n)
    if verbose >= 2:
        print(f"[t-SNE] Computed conditional probabilities in {time.perf_counter() - t0:.3f}s")
    return P.scaled(1.0 / max(P.data.sum(), MACHINE_EPSILON))


_plus_transpose = symmetrize  # ``uniform_affinities_nn`` takes openTSNE's argument name ``symmetrize``


def uniform_affinities_nn(neighbor_indices, symmetrize="max"):
    """Sparse P of the uniform kernel (openTSNE's ``affinity.Uniform``): p_j|i = 1/k over each point's
    k nearest neighbours, symmetrised and normalised to sum 1.

    symmetrize='max' (openTSNE's default): p_ij proportional to 1 when j is among i's neighbours or
    i among j's (the union of the kNN graph, every edge the same weight); 'mean': p_ij =
    (p_j|i + p_i|j) / 2n, as ``joint_probabilities_nn`` symmetrises the Gaussian's.

    Parameters
    ----------
    neighbor_indices : (n, k) int, from ``nearest_neighbors`` (never the point itself)
    symmetrize : 'max' or 'mean'

    Returns
    -------
    SparseAffinities, symmetric, summing to 1.
    """
    idx = np.asarray(neighbor_indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"neighbor_indices: expected an int array, got dtype {idx.dtype}")
    if idx.ndim != 2 or idx.shape[1] < 1 or idx.min(initial=0) < 0 or idx.max(initial=0) >= len(idx):
        raise ValueError(f"neighbor_indices: expected an (n, k >= 1) array of indices in [0, n), got shape "
                         f"{idx.shape} with values in [{idx.min(initial=0)}, {idx.max(initial=0)}]")
    if symmetrize not in ("max", "mean"):
        raise ValueError(f"symmetrize: expected 'max' or 'mean', got {symmetrize!r}")
    n, k = idx.shape
    P = _plus_transpose(np.repeat(np.arange(n), k), idx.ravel(), np.full(n * k, 1.0 / k), n)
    if symmetrize == "max":  # an edge in one or both directions weighs the same
        P = P._replace(data=np.ones_like(P.data))
    return P.scaled(1.0 / max(P.data.sum(), MACHINE_EPSILON))


def affinities_from_data(X, perplexity, method, metric="euclidean", metric_params=None, n_jobs=None, verbose=0):
    """P for the data X (n, d), dense or sparse, or for precomputed distances (metric='precomputed':
    a dense (n, n) matrix, or a sparse kNN graph for the neighbour methods); ``perplexity`` a float
    or a list of them (multiscale, see ``conditional_probabilities``). The distances follow
    scikit-learn's convention for every metric (``distances.py``): dense over all pairs for
    method='exact', over the k = 3 perplexity + 1 nearest neighbours otherwise."""
    n = X.shape[0]
    if method == "exact":
        return joint_probabilities(distance_matrix(X, metric, metric_params, n_jobs, verbose), perplexity,
                                   verbose=verbose)
    k = min(n - 1, int(3.0 * np.max(perplexity) + 1))  # the largest perplexity of a multiscale list
    idx, d2 = neighbor_distances(X, k, metric, metric_params, n_jobs, verbose)
    return joint_probabilities_nn(idx, d2, perplexity, verbose=verbose)
