"""Spectral initial map (openTSNE's ``initialization.spectral``): the diffusion map of the affinity graph.

With P the symmetric affinities and D = diag(sum_j p_ij), the random walk's transition matrix
D^-1 P has eigenpairs D^-1 P v = lambda v, the generalised problem P v = lambda D v (openTSNE hands
it to ARPACK as ``eigsh(P, M=D)``). Through u = D^(1/2) v it is the symmetric problem

    S u = lambda u,   S = D^(-1/2) P D^(-1/2)   (the normalised affinity matrix),

whose eigenvalues lie in [-1, 1]; the top one, 1, has the constant v and carries no information.
The map is the next ``n_components`` eigenvectors v, each times its eigenvalue (diffusion
coordinates at time 1; Coifman & Lafon 2006), rescaled so that the first column has standard
deviation 1e-4 as every t-SNE initialisation here. An informative start keeps the global layout
that a random one loses (Kobak & Linderman 2021), and this one needs only P, not the data.

The sign of each column is fixed (its largest-magnitude entry positive). Where openTSNE differs:
it asks ARPACK for the largest-magnitude eigenvalues (here the largest, 'LA'), and in 1.0.4 it
multiplies its descending eigenvectors by the eigenvalues in ascending order (fixed upstream,
openTSNE PR #282): its columns point the same way as these but are scaled differently.
"""
import numpy as np

from tsne.affinities import SparseAffinities
from tsne.input_checks import count, random_generator, real_matrix

_DENSE_LIMIT = 2000  # up to this many points a dense eigh (< 2 s, 32 MB); beyond, ARPACK on the sparse S


def _normalised(P):
    """(S, d^-1/2): S = D^-1/2 P D^-1/2 as a dense array (n <= _DENSE_LIMIT) or a SciPy CSR matrix."""
    if isinstance(P, SparseAffinities):
        degree = np.bincount(np.repeat(np.arange(P.n), np.diff(P.indptr)), weights=P.data, minlength=P.n)
    else:
        P = real_matrix(P, "P")
        if P.shape[0] != P.shape[1] or not np.allclose(P, P.T, rtol=1e-10, atol=0.0):
            raise ValueError(f"P: expected a symmetric (n, n) affinity matrix, got shape {P.shape}")
        degree = P.sum(axis=1)
    if not np.all(degree > 0):
        raise ValueError(f"P: every point needs a non-zero affinity to some other point; row "
                         f"{int(np.argmin(degree > 0))} has none")
    scale = 1.0 / np.sqrt(degree)
    if isinstance(P, SparseAffinities):
        rows = np.repeat(np.arange(P.n), np.diff(P.indptr))
        data = P.data * scale[rows] * scale[P.indices]
        if P.n <= _DENSE_LIMIT:
            S = np.zeros((P.n, P.n))
            S[rows, P.indices] = data
            return S, scale
        from scipy.sparse import csr_matrix  # the large case needs ARPACK (scipy comes with scikit-learn)
        return csr_matrix((data, P.indices, P.indptr), shape=(P.n, P.n)), scale
    return P * scale[:, None] * scale[None, :], scale


def _leading_eigenpairs(S, k, rng):
    """The k largest eigenvalues of the symmetric S, in decreasing order, and their unit eigenvectors (n, k)."""
    if isinstance(S, np.ndarray):
        values, vectors = np.linalg.eigh(S)  # ascending
        return values[::-1][:k], vectors[:, ::-1][:, :k]
    from scipy.sparse.linalg import eigsh
    # 'LA': the largest algebraic eigenvalues, the slow modes of the walk (openTSNE asks for the
    # largest magnitude, which can pick an oscillating mode near -1 in a nearly bipartite graph)
    values, vectors = eigsh(S, k=k, which="LA", tol=1e-10, v0=rng.uniform(-1, 1, S.shape[0]))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def spectral_embedding(P, n_components=2, random_state=None):
    """The spectral initial map of the affinities P (module docstring).

    Parameters
    ----------
    P : SparseAffinities or a dense symmetric (n, n) array with no empty row (e.g. ``joint_probabilities``,
        ``joint_probabilities_nn``, ``uniform_affinities_nn``)
    n_components : int in [1, n - 1]
    random_state : None, int, numpy Generator or RandomState: ARPACK's starting vector, used only above 2000 points

    Returns
    -------
    (n, n_components) float64: lambda_k v_k for the 2nd to (n_components + 1)-th eigenpairs of
    P v = lambda D v, each v with v^T D v = 1 and its largest-magnitude entry positive (the sign of an
    eigenvector is arbitrary: this fixes it, as ``pca`` does), all scaled by one factor so that
    column 0 has standard deviation 1e-4.
    """
    S, scale = _normalised(P)
    n = len(scale)
    count(n_components, "n_components", 1, n - 1)
    rng = random_generator(random_state)
    values, vectors = _leading_eigenpairs(S, n_components + 1, rng)
    Y = vectors[:, 1:] * scale[:, None] * values[1:]  # v = D^-1/2 u, then diffusion coordinates
    largest = Y[np.argmax(np.abs(Y), axis=0), np.arange(n_components)]
    Y *= np.where(largest < 0, -1.0, 1.0)
    return Y / np.std(Y[:, 0]) * 1e-4
