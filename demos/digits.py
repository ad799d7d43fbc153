"""scikit-learn's 8x8 digits (1,797 images bundled with scikit-learn: no download)."""
import numpy as np


def load_digits():
    """images float32 (1797, 1, 8, 8) in [0, 1], labels int64 (1797,).

    Needs scikit-learn (a dependency of the package).
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError("load_digits needs scikit-learn: install it with `pip install scikit-learn`") from e
    d = _sk_load_digits()
    return (d.images[:, None] / 16.0).astype(np.float32), d.target.astype(np.int64)


def split_digits(seed=0, n_train=1437):
    """The digits in a seeded random split, 80/20 by default: (X_train, y_train, X_test, y_test)."""
    X, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order[:n_train]], y[order[:n_train]], X[order[n_train:]], y[order[n_train:]]
