"""Principal component analysis by SVD of the centred data."""
import numpy as np

from tsne.input_checks import count, real_matrix


def pca(X, n_components=2):
    """Project X (n, d) on its first principal axes -> (n, n_components).

    Signs follow scikit-learn's ``svd_flip`` convention (the largest-magnitude entry of each
    component's loading vector is positive), so results are deterministic.
    """
    X = real_matrix(X, "X")
    if X.shape[0] < 2:
        raise ValueError(f"X: expected a 2-D array with at least 2 samples, got shape {X.shape}")
    count(n_components, "n_components", 1, min(X.shape))
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1
    return (U[:, :n_components] * S[:n_components]) * signs[:n_components]
