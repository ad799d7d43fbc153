"""Placing new points into a finished embedding, the reference points held fixed (openTSNE's
``prepare_partial`` + ``optimize``; Poličar et al. 2019, "openTSNE", sec. "Adding new data points").

Each new point x_i gets affinities to its k = 3 * perplexity nearest reference points only,
p_j|i calibrated to ``perplexity`` and summing to 1 over j (no symmetrising: the reference points
do not move). It starts at the median embedding position of its 25 nearest reference points and
descends its own KL(P_i || Q_i), with q_ij = w_ij / Z_i and Z_i = sum_j w_ij over the reference
points: the new points neither attract nor repel one another, so each is placed as if alone.
Steps follow openTSNE's ``transform``: the gradient without its constant factor,

    g_i = exaggeration * sum_j p_ij b_ij (y_i - r_j) - sum_j w_ij b_ij (y_i - r_j) / Z_i,

clipped to norm ``max_grad_norm`` per point, learning rate 0.1, momentum 0.8, 250 iterations.
"""
import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks
from tsne.fft_interpolation import repulsion_fft
from tsne.kl import MACHINE_EPSILON, kernel_shape
from tsne.neighbors import nearest_neighbors
from tsne.optimizer import gradient_descent
from tsne.perplexity import conditional_probabilities

_INIT_NEIGHBORS = 25  # openTSNE's k for the median initialisation
_FFT_PAIRS = 10_000_000


@njit(nogil=True, cache=True, fastmath=True)
def _repulsion_from(start, stop, Y, R, alpha, expo, repulse, row_z):
    """Exact sums over the reference points R for new points [start, stop) (any dimension), O(n m)."""
    dim = Y.shape[1]
    inv_alpha = 1.0 / alpha
    for i in range(start, stop):
        z = 0.0
        for a in range(dim):
            repulse[i, a] = 0.0
        for j in range(R.shape[0]):
            d2 = 0.0
            for a in range(dim):
                t = Y[i, a] - R[j, a]
                d2 += t * t
            b = 1.0 / (1.0 + d2 * inv_alpha)
            w = b if expo == 1.0 else b ** expo
            z += w
            for a in range(dim):
                repulse[i, a] += w * b * (Y[i, a] - R[j, a])
        row_z[i] = z


def embed_new_points(X_new, X_ref, Y_ref, perplexity=5.0, dof=1.0, exponent=None, n_iter=250,
                     learning_rate=0.1, exaggeration=1.5, momentum=0.8, max_grad_norm=0.25, use_fft=True,
                     fft_params=None):
    """New points' positions in the fixed embedding Y_ref of X_ref (module docstring).

    X_new (n_new, n_features), X_ref (n_ref, n_features), Y_ref (n_ref, d) -> (n_new, d).
    ``use_fft`` (d <= 2) sums the repulsion by interpolation (``fft_interpolation.py``) instead of
    exactly when there are more than 10^7 new-reference pairs; ``fft_params`` are its settings.
    """
    alpha, expo, _ = kernel_shape(dof, exponent)
    k = min(len(X_ref) - 1, int(3.0 * np.max(perplexity) + 1))
    idx, d2 = nearest_neighbors(X_new, max(k, min(_INIT_NEIGHBORS, len(X_ref))), reference=X_ref)
    P = conditional_probabilities(d2[:, :k], perplexity, skip_self=False)  # rows sum to 1
    neighbors = idx[:, :k]
    Y = np.median(Y_ref[idx[:, :_INIT_NEIGHBORS]], axis=1)
    # the grid costs tens of ms per iteration whatever the number of points; exact sums cost
    # ~5 ns per pair: interpolate only when there are more than ~10^7 pairs (measured on digits)
    use_fft = use_fft and Y_ref.shape[1] <= 2 and len(X_new) * len(X_ref) > _FFT_PAIRS

    def repulsion(Y):
        if use_fft:
            return repulsion_fft(Y, alpha, exponent=expo, sources=Y_ref, **(fft_params or {}))
        repulse, row_z = np.empty_like(Y), np.empty(len(Y))
        run_in_chunks(_repulsion_from, len(Y), np.ascontiguousarray(Y), Y_ref, alpha, expo, repulse, row_z)
        return repulse, row_z

    def objective(Y, compute_error):
        diff = Y[:, None, :] - Y_ref[neighbors]  # (n_new, k, d)
        b = 1.0 / (1.0 + np.einsum("ijd,ijd->ij", diff, diff) / alpha)
        attract = np.einsum("ij,ijd->id", P * b, diff)
        repulse, row_z = repulsion(Y)
        row_z = np.maximum(row_z, MACHINE_EPSILON)
        grad = exaggeration * attract - repulse / row_z[:, None]
        norm = np.linalg.norm(grad, axis=1)
        if max_grad_norm is not None:  # openTSNE: keeps points that start far out from shooting off
            grad *= np.minimum(1.0, max_grad_norm / (norm + 1e-6))[:, None]
        kl = np.nan
        if compute_error:
            q = (b if expo == 1.0 else b ** expo) / row_z[:, None]
            kl = float(np.sum(P * np.log(np.maximum(P, MACHINE_EPSILON) / np.maximum(q, MACHINE_EPSILON))))
        return kl, grad

    Y, _, _ = gradient_descent(objective, Y, 0, n_iter, momentum=momentum, learning_rate=learning_rate,
                               n_iter_without_progress=n_iter, min_grad_norm=0.0)
    return Y
