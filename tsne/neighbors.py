"""Exact squared Euclidean distances and k nearest neighbours by blocked BLAS products."""
import numpy as np

_BLOCK_BYTES = 64 << 20  # distance rows computed at once: keeps memory flat for 70k points


def squared_distances(X, Y=None):
    """||x_i - y_j||^2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clipped at 0: X (n, d), Y (m, d) -> (n, m)."""
    Y = X if Y is None else Y
    d = np.einsum("ij,ij->i", X, X)[:, None] + np.einsum("ij,ij->i", Y, Y)[None, :] - 2.0 * (X @ Y.T)
    np.maximum(d, 0.0, out=d)
    if Y is X:
        np.fill_diagonal(d, 0.0)
    return d


def nearest_neighbors(X, k):
    """The k nearest other points of every row of X, exactly.

    Parameters
    ----------
    X : (n, d) float array
    k : int, 1 <= k < n

    Returns
    -------
    indices : (n, k) int64, nearest first (a point is never its own neighbour, duplicates are)
    sq_distances : (n, k) float64 squared Euclidean distances
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k: expected 1 <= k < n_samples = {n}, got {k}")
    norms = np.einsum("ij,ij->i", X, X)
    block = max(1, min(n, _BLOCK_BYTES // (8 * n)))
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k))
    rows = np.arange(block)
    for start in range(0, n, block):
        stop = min(start + block, n)
        d = norms[start:stop, None] + norms[None, :] - 2.0 * (X[start:stop] @ X.T)
        np.maximum(d, 0.0, out=d)
        r = rows[:stop - start]
        d[r, start + r] = np.inf  # not its own neighbour
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(pd, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        dists[start:stop] = np.take_along_axis(pd, order, axis=1)
    return indices, dists
