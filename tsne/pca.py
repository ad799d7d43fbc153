"""Principal component analysis of the centred data: by LAPACK's SVD ('full'), by the eigenvectors of
the d x d covariance matrix ('covariance_eigh', scikit-learn's PCA choice for tall data since 1.5),
or randomized (Halko, Martinsson & Tropp 2011, alg. 4.4 with power iterations, scikit-learn's
``randomized_svd``, as scikit-learn's TSNE initialises).

Measured on a million 50-D points (deformed digits, 2 threads): full 4.7 s and 0.83 GB of scratch,
randomized 6.0 s and 0.76 GB (both centre a copy of X), covariance_eigh 0.36 s and 0.05 GB (blocks of
rows are centred and multiplied one at a time; the map within 2e-14 of the full SVD's). ``pca_solver_for``
picks by shape."""
import numbers

import numpy as np

from tsne.input_checks import count, random_generator, real_matrix

SVD_SOLVERS = ("full", "covariance_eigh", "randomized")
_BLOCK_ROWS = 1 << 14


def pca_solver_for(n, d):
    """The solver ``TSNE`` uses for n points of d features: the exact SVD below 30,000 points (as
    before: the results of small fits do not change); then scikit-learn's PCA rule, the covariance
    for tall data (n >= 10 d, d <= 1000), randomized for wide."""
    if n < 30_000:
        return "full"
    return "covariance_eigh" if n >= 10 * d and d <= 1000 else "randomized"


def pca(X, n_components=2, svd_solver="full", random_state=0):
    """Project X (n, d) on its first principal axes -> (n, n_components).

    svd_solver : 'full' (LAPACK's SVD of all of X: exact, and an (n, d) U on the way),
        'covariance_eigh' (C = sum over blocks of rows of (x - mean)^T (x - mean), d x d, its
        eigenvectors by LAPACK; O(n d^2) time, O(d^2) memory; the components' error grows with
        the condition number squared, harmless for the leading ones), or 'randomized' (a sketch of
        n_components + 10 directions, refined by 7 power iterations: O(n d (n_components + 10))).
        On digits (singular values 567, 542, 505, ...) the three agree to 2.2e-7 of the largest
        coordinate.
    random_state : None, int in [0, 2^32), Generator or RandomState: the randomized solver's sketch
        (a Generator or RandomState gives one draw for its seed).

    Signs follow scikit-learn's ``svd_flip`` convention (the largest-magnitude entry of each
    component's loading vector is positive), so results are deterministic.
    """
    X = real_matrix(X, "X")
    if X.shape[0] < 2:
        raise ValueError(f"X: expected a 2-D array with at least 2 samples, got shape {X.shape}")
    count(n_components, "n_components", 1, min(X.shape))
    if not isinstance(svd_solver, str) or svd_solver not in SVD_SOLVERS:
        raise ValueError(f"svd_solver: expected one of {SVD_SOLVERS}, got {svd_solver!r}")
    rng = random_generator(random_state)  # checked whichever solver runs
    mean = X.mean(axis=0)
    if svd_solver == "covariance_eigh":
        cov = np.zeros((X.shape[1], X.shape[1]))
        for a in range(0, len(X), _BLOCK_ROWS):
            block = X[a:a + _BLOCK_ROWS] - mean
            cov += block.T @ block
        values, vectors = np.linalg.eigh(cov)
        Vt = vectors[:, ::-1][:, :n_components].T  # largest first
        signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
        signs[signs == 0] = 1
        Vt = Vt * signs[:, None]
        return np.concatenate([(X[a:a + _BLOCK_ROWS] - mean) @ Vt.T for a in range(0, len(X), _BLOCK_ROWS)])
    Xc = X - mean
    if svd_solver == "full":
        U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    else:
        from sklearn.utils.extmath import randomized_svd

        U, S, Vt = randomized_svd(Xc, n_components, n_oversamples=10, n_iter=7, flip_sign=False,
                                  random_state=random_state if isinstance(random_state, numbers.Integral)
                                  else int(rng.integers(2 ** 32) if isinstance(rng, np.random.Generator)
                                           else rng.randint(2 ** 32)))
    signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1
    return (U[:, :n_components] * S[:n_components]) * signs[:n_components]
