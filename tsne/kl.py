"""Exact t-SNE objective: KL(P || Q) and its gradient (van der Maaten & Hinton 2008, eq. 5).

With the Student-t kernel of alpha degrees of freedom (alpha = 1 in the paper, alpha =
max(n_components - 1, 1) in scikit-learn, after van der Maaten 2009)

    w_ij = (1 + |y_i - y_j|^2 / alpha)^(-(alpha + 1) / 2),   q_ij = w_ij / Z,   Z = sum_{k != l} w_kl,
    KL   = sum_{i != j} p_ij log(p_ij / q_ij),
    dKL/dy_i = (2 (alpha + 1) / alpha) sum_j (p_ij - q_ij) (1 + |y_i - y_j|^2 / alpha)^(-1) (y_i - y_j),

which for alpha = 1 is the paper's 4 sum_j (p_ij - q_ij)(1 + |y_i - y_j|^2)^(-1)(y_i - y_j).
"""
import numpy as np
from numba import njit, prange

MACHINE_EPSILON = np.finfo(np.float64).eps


@njit(parallel=True, cache=True)
def _forces(P, Y, alpha, attract, repulse, row_z):
    """Per row: sum_j p_ij b_ij (y_i - y_j), sum_j w_ij b_ij (y_i - y_j) and sum_j w_ij."""
    n, dim = Y.shape
    expo = (alpha + 1.0) / 2.0
    for i in prange(n):
        z = 0.0
        for a in range(dim):
            attract[i, a] = 0.0
            repulse[i, a] = 0.0
        for j in range(n):
            if j == i:
                continue
            d2 = 0.0
            for a in range(dim):
                t = Y[i, a] - Y[j, a]
                d2 += t * t
            b = 1.0 / (1.0 + d2 / alpha)
            w = b if alpha == 1.0 else b ** expo
            z += w
            pb = P[i, j] * b
            wb = w * b
            for a in range(dim):
                t = Y[i, a] - Y[j, a]
                attract[i, a] += pb * t
                repulse[i, a] += wb * t
        row_z[i] = z


@njit(parallel=True, cache=True)
def _kl_rows(P, Y, alpha, z, out):
    n, dim = Y.shape
    expo = (alpha + 1.0) / 2.0
    eps = 2.220446049250313e-16
    for i in prange(n):
        s = 0.0
        for j in range(n):
            if j == i:
                continue
            d2 = 0.0
            for a in range(dim):
                t = Y[i, a] - Y[j, a]
                d2 += t * t
            b = 1.0 / (1.0 + d2 / alpha)
            w = b if alpha == 1.0 else b ** expo
            p = P[i, j]
            s += p * np.log(max(p, eps) / max(w / z, eps))
        out[i] = s


def check_embedding(Y, n):
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"Y: expected an embedding of shape ({n}, n_components), got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("Y: the embedding contains NaN or inf")
    return Y


def kl_divergence(P, Y, dof=1.0, compute_error=True):
    """KL(P || Q) and its exact gradient, O(n^2).

    Parameters
    ----------
    P : (n, n) joint probabilities (``joint_probabilities``; may be exaggerated)
    Y : (n, n_components) embedding
    dof : alpha, the Student-t degrees of freedom

    Returns
    -------
    kl : float (NaN when ``compute_error`` is False)
    grad : (n, n_components) float64
    """
    P = np.ascontiguousarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P: expected a square (n, n) matrix, got shape {P.shape}")
    Y = check_embedding(Y, P.shape[0])
    attract, repulse = np.empty_like(Y), np.empty_like(Y)
    row_z = np.empty(len(Y))
    _forces(P, Y, float(dof), attract, repulse, row_z)
    z = row_z.sum()
    grad = (2.0 * (dof + 1.0) / dof) * (attract - repulse / z)
    kl = np.nan
    if compute_error:
        rows = np.empty(len(Y))
        _kl_rows(P, Y, float(dof), z, rows)
        kl = float(rows.sum())
    return kl, grad
