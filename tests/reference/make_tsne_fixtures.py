"""Write scikit-learn reference values for ``tsne`` to ``sklearn_tsne.npz``.

    python tests/reference/make_tsne_fixtures.py      (about a minute: sklearn's exact t-SNE)

Function-level values (``sklearn_function_cases``) are cheap and also recomputed live by the
tests when scikit-learn imports; the full runs on digits are stored only.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "sklearn_tsne.npz")
PERPLEXITY = 20.0


def small_data():
    """300 digits (64 features) with a little noise, so that no two distances tie (ties at the
    k-th neighbour would be broken differently by different kNN codes), and a fixed 2-D embedding."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    X = load_digits().data[:300].astype(np.float64) + 1e-3 * rng.standard_normal((300, 64))
    Y = rng.standard_normal((300, 2)) * 3
    return X, Y


def sklearn_function_cases():
    from scipy.spatial.distance import squareform
    from sklearn.manifold import _t_sne
    from sklearn.neighbors import NearestNeighbors

    X, Y = small_data()
    n = len(X)
    out = {"X": X, "Y": Y}
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    P = squareform(_t_sne._joint_probabilities(D, PERPLEXITY, 0))
    out["P"] = P
    k = min(n - 1, int(3.0 * PERPLEXITY + 1))
    knn = NearestNeighbors(n_neighbors=k, metric="euclidean").fit(X)
    graph = knn.kneighbors_graph(mode="distance")
    graph.data **= 2
    Pnn = _t_sne._joint_probabilities_nn(graph, PERPLEXITY, 0)
    out["P_nn"] = Pnn.toarray()
    kl, grad = _t_sne._kl_divergence(Y.ravel(), squareform(P, checks=False), 1, n, 2)
    out["kl"], out["kl_grad"] = np.array(kl), grad.reshape(n, 2)
    for angle in (0.0, 0.5):
        kl, grad = _t_sne._kl_divergence_bh(Y.ravel().copy(), Pnn, 1, n, 2, angle=angle)
        out[f"kl_bh_{angle}"], out[f"kl_bh_grad_{angle}"] = np.array(kl), grad.reshape(n, 2)
    return out


def sklearn_digits_runs():
    """sklearn's TSNE on all of digits from one shared PCA init, exact and Barnes-Hut."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    X = load_digits().data.astype(np.float64)
    init = PCA(n_components=2, svd_solver="full").fit_transform(X)
    init = init / np.std(init[:, 0]) * 1e-4
    out = {"digits_init": init}
    for method in ("exact", "barnes_hut"):
        tsne = TSNE(method=method, init=init, random_state=0, n_jobs=2)
        out[f"digits_{method}_embedding"] = tsne.fit_transform(X)
        out[f"digits_{method}_kl_reported"] = np.array(tsne.kl_divergence_)
    return out


if __name__ == "__main__":
    import sklearn

    cases = {**sklearn_function_cases(), **sklearn_digits_runs()}
    np.savez_compressed(FIXTURE, sklearn_version=np.array(sklearn.__version__), **cases)
    print(f"wrote {len(cases)} arrays to {FIXTURE} (scikit-learn {sklearn.__version__})", file=sys.stderr)
