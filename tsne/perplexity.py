"""Per-point binary search of the Gaussian precision so that each P_i has the target perplexity.

p_j|i = exp(-beta_i d_ij^2) / sum_{k != i} exp(-beta_i d_ik^2)   (van der Maaten & Hinton 2008, eq. 1,
with beta_i = 1 / (2 sigma_i^2)), and beta_i is chosen so that Perp(P_i) = 2^H(P_i) equals the
target, H(P_i) = -sum_j p_j|i log2 p_j|i (eq. 4).
"""
import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks
from tsne.input_checks import real_matrix

_MAX_STEPS = 200
_MAX_BETA = 1e300


@njit(cache=True)
def _search_row(d, skip, log_perplexity, tol, p):
    """Fill p with the conditional distribution of one row of squared distances ``d``.

    The row's smallest distance is subtracted before exponentiating: it cancels in the
    normalisation and keeps a point far from all others from underflowing to 0/0.
    Returns the precision beta found (p_j ~ exp(-beta d_j)).
    """
    m = d.shape[0]
    dmin = np.inf
    for j in range(m):
        if j != skip and d[j] < dmin:
            dmin = d[j]
    beta, lo, hi = 1.0, 0.0, np.inf
    # start at a scale where the kernel is neither flat nor a spike
    spread = 0.0
    for j in range(m):
        if j != skip:
            spread += d[j] - dmin
    if spread > 0:
        beta = m / spread
    entropy, total = 0.0, 1.0
    for _ in range(_MAX_STEPS):
        total = 0.0
        mean = 0.0
        second = 0.0
        for j in range(m):
            if j == skip:
                p[j] = 0.0
                continue
            dj = d[j] - dmin
            e = np.exp(-dj * beta)
            p[j] = e
            total += e
            mean += dj * e
            second += dj * dj * e
        mean /= total
        entropy = np.log(total) + beta * mean
        diff = entropy - log_perplexity
        if abs(diff) <= tol:
            break
        if diff > 0:  # too flat: sharpen
            lo = beta
        else:
            hi = beta
        # Newton on H(beta), dH/dbeta = -beta Var[d]; bisect when it would leave the bracket
        var = second / total - mean * mean
        step = beta + diff / (beta * var) if var > 0 and beta > 0 else -1.0
        if lo < step < hi:
            beta = step
        elif hi == np.inf:
            # a target below what the row can reach (perplexity < 1, or fewer than its tied nearest
            # candidates) is never met and beta grows without end: capped, so that at the nearest
            # candidate d * beta stays 0 * beta = 0 and not 0 * inf = NaN
            beta = min(beta * 2.0, _MAX_BETA)
        else:
            beta = 0.5 * (lo + hi)
    for j in range(m):
        p[j] /= total
    return beta


@njit(nogil=True, cache=True)
def _search_rows(start, stop, d, skip_self, log_perplexity, tol, p, precisions):
    for i in range(start, stop):
        precisions[i] = _search_row(d[i], i if skip_self else -1, log_perplexity, tol, p[i])


def conditional_probabilities(sq_distances, perplexity, skip_self=True, tol=1e-10, verbose=0):
    """p_j|i for every row of squared distances, each row calibrated to ``perplexity``.

    Parameters
    ----------
    sq_distances : (n, m) float array of squared distances d_ij^2. With ``skip_self`` the
        matrix is square and the diagonal is ignored (dense t-SNE); without, each row holds
        the distances to a point's m nearest neighbours (Barnes-Hut t-SNE).
    perplexity : float, 0 < perplexity < number of candidates per row + 1 (scikit-learn's
        0 < perplexity < n_samples, the candidates being the other points). A target no row can
        reach gets the nearest the search comes: above the number of candidates, uniform over them
        (as scikit-learn); below 1, all the mass on the nearest candidate(s) (scikit-learn's search
        underflows there, to rows of zeros). Or a sequence of them for
        multiscale affinities (Lee et al. 2015; openTSNE's ``Multiscale``): the mean of the rows
        calibrated to each perplexity, so that no single neighbourhood size is chosen
    tol : tolerance on the entropy in nats; 1e-10 gives the perplexity to ~1e-10 relative.
        A row whose k nearest candidates are tied (e.g. k identical points) cannot go below
        perplexity k; it then gets the sharpest distribution, uniform over the ties.

    verbose : int; from 1 prints scikit-learn's lines (``_binary_search_perplexity``): the rows
        done and the "mean sigma" sqrt(n / sum_i beta_i), beta_i the precision of row i

    Returns
    -------
    P : (n, m) float64, rows summing to 1 (zero on the diagonal with ``skip_self``).
    """
    d = real_matrix(sq_distances, "sq_distances", finite=False)  # finiteness checked below, with the sign
    candidates = d.shape[1] - (1 if skip_self else 0)
    if np.ndim(perplexity) == 1:
        if len(perplexity) == 0:
            raise ValueError("perplexity: expected a float or a non-empty list of floats, got an empty list")
        scales = [conditional_probabilities(d, float(q), skip_self, tol, verbose) for q in perplexity]
        return sum(scales) / len(perplexity)
    if not 0.0 < perplexity < candidates + 1:  # scikit-learn's 0 < perplexity < n_samples
        raise ValueError(f"perplexity: expected a value in (0, {candidates + 1}) for rows of {candidates} "
                         f"candidate neighbours, got {perplexity}")
    if not np.all(np.isfinite(d)) or d.min() < 0:
        raise ValueError("sq_distances: expected finite, non-negative squared distances")
    p = np.empty_like(d)
    precisions = np.empty(d.shape[0])
    run_in_chunks(_search_rows, d.shape[0], d, skip_self, np.log(perplexity), tol, p, precisions)
    if verbose:
        n = d.shape[0]
        print(f"[t-SNE] Computed conditional probabilities for sample {n} / {n}")
        print(f"[t-SNE] Mean sigma: {np.sqrt(n / precisions.sum()):.6f}")
    return p
