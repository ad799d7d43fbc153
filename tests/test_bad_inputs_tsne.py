"""Bad inputs to tsne: scikit-learn's parameter constraints and degenerate data, each raising
ValueError/TypeError naming the parameter or the input's problem before any work."""
import os
import sys

import numpy as np
import pytest
from scipy import sparse

import tsne
from tsne import TSNE

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402

X = np.random.default_rng(0).random((40, 5))


def fit(**kw):
    return lambda: TSNE(**{"perplexity": 5, **kw}).fit_transform(X)


def fitted(**kw):
    return TSNE(perplexity=5, max_iter=250, random_state=0, **kw).fit(X)


def pd():
    return pytest.importorskip("pandas")


def transform(X_new, est=None, **kw):
    return lambda: (est or fitted()).transform(X_new, **kw)


TABLE = [
    ("transform before fit", lambda: TSNE().transform(X), "fit"),
    ("transform after precomputed", lambda: TSNE(perplexity=5, max_iter=250, metric="precomputed", init="random")
     .fit(np.sqrt(tsne.squared_distances(X))).transform(X), "precomputed"),
    ("transform features", transform(np.random.rand(5, 4)), "X"),
    ("transform 1-D", transform(np.random.rand(5)), "X"),
    ("transform empty", transform(np.empty((0, 5))), "X"),
    ("transform NaN", transform(np.full((3, 5), np.nan)), "X"),
    ("transform strings", transform(np.array([["a"] * 5])), "X"),
    ("transform perplexity 0", transform(X[:3], perplexity=0), "perplexity"),
    ("transform perplexity >= n", transform(X[:3], perplexity=40), "perplexity"),
    ("transform n_iter 0", transform(X[:3], n_iter=0), "n_iter"),
    ("transform learning_rate -1", transform(X[:3], learning_rate=-1), "learning_rate"),
    ("transform momentum 1", transform(X[:3], momentum=1.0), "momentum"),
    ("transform max_grad_norm 0", transform(X[:3], max_grad_norm=0), "max_grad_norm"),
    ("angle 50", fit(angle=50), "angle"),
    ("angle inf", fit(angle=float("inf")), "angle"),
    ("angle -0.1", fit(angle=-0.1), "angle"),
    ("angle string", fit(angle="0.5"), "angle"),
    ("perplexity 0", fit(perplexity=0), "perplexity"),
    ("perplexity negative", fit(perplexity=-5), "perplexity"),
    ("perplexity nan", fit(perplexity=float("nan")), "perplexity"),
    ("perplexity >= n", fit(perplexity=40), "perplexity"),
    ("perplexity empty list", fit(perplexity=[]), "perplexity"),
    ("perplexity list with 0", fit(perplexity=[5, 0]), "perplexity"),
    ("perplexity list >= n", fit(perplexity=[5, 40]), "perplexity"),
    ("perplexity list of strings", fit(perplexity=["5"]), "perplexity"),
    ("exaggeration 0", fit(exaggeration=0), "exaggeration"),
    ("dof 0", fit(dof=0), "dof"),
    ("dof negative", fit(dof=-1.0), "dof"),
    ("dof inf", fit(dof=float("inf")), "dof"),
    ("dof string", fit(dof="1"), "dof"),
    ("exaggeration string", fit(exaggeration="4"), "exaggeration"),
    ("n_components 0", fit(n_components=0), "n_components"),
    ("n_components float", fit(n_components=2.0), "n_components"),
    ("n_components 4 with BH", fit(n_components=4), "n_components"),
    ("early_exaggeration 0.5", fit(early_exaggeration=0.5), "early_exaggeration"),
    ("learning_rate 0", fit(learning_rate=0), "learning_rate"),
    ("learning_rate word", fit(learning_rate="fast"), "learning_rate"),
    ("max_iter 100", fit(max_iter=100), "max_iter"),
    ("max_iter float", fit(max_iter=1000.0), "max_iter"),
    ("n_iter_without_progress -2", fit(n_iter_without_progress=-2), "n_iter_without_progress"),
    ("min_grad_norm negative", fit(min_grad_norm=-1e-7), "min_grad_norm"),
    ("metric unknown name", fit(metric="cosin"), "metric"),
    ("metric number", fit(metric=2), "metric"),
    ("metric_params list", fit(metric="minkowski", metric_params=[("p", 3)]), "metric_params"),
    ("metric negative (callable)", fit(metric=lambda a, b: -1.0, method="exact"), "metric"),
    ("metric NaN (correlation of a constant row)",
     lambda: TSNE(perplexity=5, metric="correlation", init="random").fit(np.vstack([np.ones(5), X[1:]])), "metric"),
    ("mahalanobis without V (neighbours)", fit(metric="mahalanobis"), "metric_params"),
    ("sqeuclidean exact on sparse X (scipy's metric)",
     lambda: TSNE(perplexity=5, metric="seuclidean", method="exact").fit(sparse.csr_matrix(X)), "metric"),
    ("method fast", fit(method="fast"), "method"),
    ("method FFT (case)", fit(method="FFT"), "method"),
    ("n_components 3 with fft", fit(method="fft", n_components=3), "n_components"),
    ("n_interpolation_points 0", fit(method="fft", n_interpolation_points=0), "n_interpolation_points"),
    ("n_interpolation_points float", fit(method="fft", n_interpolation_points=3.0), "n_interpolation_points"),
    ("min_num_intervals 0", fit(method="fft", min_num_intervals=0), "min_num_intervals"),
    ("ints_in_interval 0", fit(method="fft", ints_in_interval=0), "ints_in_interval"),
    ("ints_in_interval nan", fit(method="fft", ints_in_interval=float("nan")), "ints_in_interval"),
    ("init word", fit(init="spectral"), "init"),
    ("init list", fit(init=[[0.0, 0.0]] * 40), "init"),
    ("init zeros", fit(init=np.zeros((40, 2))), "init"),
    ("init shape", fit(init=np.random.rand(39, 2)), "init"),
    ("init NaN", fit(init=np.full((40, 2), np.nan)), "init"),
    ("verbose negative", fit(verbose=-1), "verbose"),
    ("random_state negative", fit(random_state=-1), "random_state"),
    ("random_state string", fit(random_state="0"), "random_state"),
    ("n_jobs 0", fit(n_jobs=0), "n_jobs"),
    ("n_jobs float", fit(n_jobs=1.5), "n_jobs"),
    ("n_jobs -100", fit(n_jobs=-100), "n_jobs"),
    ("callback 42", fit(callback=42), "callback"),
    ("callback_every 0", fit(callback_every=0), "callback_every"),
    ("X constant (pca)", lambda: TSNE(perplexity=5).fit_transform(np.ones((40, 3))), "X"),
    ("X constant (random)", lambda: TSNE(perplexity=5, init="random").fit_transform(np.full((40, 3), 2.0)), "X"),
    ("X 1-D", lambda: TSNE(perplexity=5).fit_transform(np.ones(40)), "X"),
    ("X strings", lambda: TSNE(perplexity=5).fit_transform(np.array([["a", "b"]] * 40)), "X"),
    ("X NaN", lambda: TSNE(perplexity=5).fit_transform(np.full((40, 3), np.nan)), "X"),
    ("X one sample", lambda: TSNE(perplexity=0.5).fit_transform(np.ones((1, 3))), "X"),
    ("X no features", lambda: TSNE(perplexity=5).fit_transform(np.ones((40, 0))), "X"),
    ("precomputed not square", lambda: TSNE(perplexity=5, metric="precomputed", init="random").fit_transform(X), "X"),
    ("precomputed negative", lambda: TSNE(perplexity=5, metric="precomputed", init="random").fit_transform(-np.ones((40, 40))),
     "X"),
    ("precomputed with pca", lambda: TSNE(perplexity=5, metric="precomputed").fit_transform(np.ones((40, 40))), "init"),
    ("precomputed sparse with exact", lambda: TSNE(perplexity=5, metric="precomputed", init="random", method="exact")
     .fit_transform(sparse.csr_matrix(np.ones((40, 40)))), "X"),
    ("precomputed sparse too few neighbours", lambda: TSNE(perplexity=5, metric="precomputed", init="random")
     .fit_transform(sparse.csr_matrix(np.eye(40) + np.eye(40, k=1))), "X"),
    ("precomputed sparse not square", lambda: TSNE(perplexity=5, metric="precomputed", init="random")
     .fit_transform(sparse.csr_matrix(X)), "X"),
    ("precomputed sparse negative", lambda: TSNE(perplexity=5, metric="precomputed", init="random")
     .fit_transform(sparse.csr_matrix(-np.ones((40, 40)))), "X"),
    ("X sparse NaN", lambda: TSNE(perplexity=5).fit_transform(sparse.csr_matrix(np.full((40, 3), np.nan))), "X"),
    ("X sparse constant", lambda: TSNE(perplexity=5).fit_transform(sparse.csr_matrix(np.ones((40, 3)))), "X"),
    ("X complex", lambda: TSNE(perplexity=5).fit_transform(X + 1j), "X"),
    ("X DataFrame with mixed column names", lambda: TSNE(perplexity=5).fit_transform(
        pd().DataFrame(X, columns=["a", 1, "c", "d", "e"])), "X"),
    ("transform DataFrame with other names", lambda: TSNE(perplexity=5, max_iter=250).fit(
        pd().DataFrame(X, columns=list("abcde"))).transform(pd().DataFrame(X[:3], columns=list("abcdf"))), "X"),
    ("set_output unknown container", lambda: TSNE().set_output(transform="arrow"), "transform"),
    ("get_feature_names_out before fit", lambda: TSNE().get_feature_names_out(), "TSNE"),
    ("get_feature_names_out wrong names", lambda: fitted().get_feature_names_out(["a", "b"]), "input_features"),
    ("set_params unknown", lambda: TSNE().set_params(angel=0.5), "angel"),
    ("pca n_components", lambda: tsne.pca(X, 9), "n_components"),
    ("pca 1-D", lambda: tsne.pca(np.ones(5)), "X"),
    ("kl P not square", lambda: tsne.kl_divergence(np.ones((3, 4)), np.ones((3, 2))), "P"),
    ("kl Y shape", lambda: tsne.kl_divergence(np.ones((3, 3)) / 9, np.ones((4, 2))), "Y"),
]


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name):
    rejects(call, name)


def test_n_jobs_follows_joblib():
    from tsne.parameter_constraints import threads

    assert threads(None, 8) == 8 and threads(3, 8) == 3 and threads(20, 8) == 8
    assert threads(-1, 8) == 8 and threads(-2, 8) == 7
