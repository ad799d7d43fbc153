"""TSNE's inputs and estimator surface, beside scikit-learn's: sparse data, every metric, sparse
precomputed kNN graphs, error types, verbose lines, and the estimator protocol a pipeline uses
(clone, set_output, feature names, tags). scikit-learn is the reference throughout (a run-time
dependency of the package)."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import clone, config_context
from sklearn.manifold import TSNE as SklearnTSNE
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import KNeighborsTransformer, kneighbors_graph

import tsne
from tsne import TSNE
from tsne.affinities import affinities_from_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = dict(perplexity=10, random_state=0, max_iter=300)
SPARSE_FORMATS = [sparse.csr_matrix, sparse.csr_array, sparse.csc_matrix, sparse.coo_array, sparse.lil_matrix,
                  sparse.dok_array, sparse.bsr_matrix]


@pytest.fixture(scope="module")
def X():
    """60 points in 5-D with no tied distances (a tie at the k-th neighbour may be broken either way)."""
    return np.random.default_rng(0).standard_normal((60, 5))


@pytest.fixture(scope="module")
def X_with_zeros(X):
    Z = X.copy()
    Z[np.random.default_rng(1).random(Z.shape) < 0.4] = 0.0
    return Z


def _dense(P):
    return P if isinstance(P, np.ndarray) else P.toarray()


# --- sparse data -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "barnes_hut", "fft"])
@pytest.mark.parametrize("init", ["pca", "random"])
def test_every_sparse_format_gives_the_map_of_the_dense_data(X_with_zeros, method, init):
    dense = TSNE(method=method, init=init, **FAST).fit_transform(X_with_zeros)
    # every format is read through the same CSR: all of them with one method, two with the others
    for fmt in SPARSE_FORMATS if method == "barnes_hut" else [sparse.csc_array, sparse.lil_matrix]:
        est = TSNE(method=method, init=init, **FAST)
        np.testing.assert_array_equal(est.fit_transform(fmt(X_with_zeros)), dense, err_msg=fmt.__name__)
        assert est.n_features_in_ == 5


def test_sparse_data_keeps_float32_and_large_sparse_data_is_not_densified_for_pca(X_with_zeros, monkeypatch):
    import tsne.sparse_input

    S = sparse.csr_matrix(X_with_zeros)
    assert tsne.fit_input.samples(S.astype(np.float32)).dtype == np.float32  # as scikit-learn keeps it
    # above the densifying budget scikit-learn's PCA centres implicitly: the same components up to rounding
    small = tsne.sparse_input.sparse_pca(S, 2)
    monkeypatch.setattr(tsne.sparse_input, "_DENSE_PCA_BYTES", 0)
    np.testing.assert_allclose(tsne.sparse_input.sparse_pca(S, 2), small, rtol=1e-6, atol=1e-9)


# --- metrics ---------------------------------------------------------------------------------------------
def _manhattan(a, b):
    return np.abs(a - b).sum()


METRICS = [("euclidean", None), ("sqeuclidean", None), ("l2", None), ("manhattan", None), ("cityblock", None),
           ("l1", None), ("chebyshev", None), ("cosine", None), ("correlation", None), ("canberra", None),
           ("minkowski", {"p": 3}), ("mahalanobis", "V"), ("mahalanobis", "VI"), (_manhattan, None)]
IDS = [m if isinstance(m, str) and p in (None, "V", "VI") and m != "minkowski" and p is None else
       f"{getattr(m, '__name__', m)}-{p if isinstance(p, str) else 'p3' if p else ''}" for m, p in METRICS]


def _params(X, params):
    if params == "V":
        return {"V": np.cov(X.T)}
    return {"VI": np.linalg.inv(np.cov(X.T))} if params == "VI" else params


def _reference_affinities(X, metric, params, method, perplexity=10.0):
    """P from scikit-learn's pairwise_distances alone, in scikit-learn's convention: 'euclidean'
    squared, every other metric's distances squared; the neighbour methods keep each row's
    k = 3 perplexity + 1 nearest."""
    kwargs = {"squared": True} if metric == "euclidean" else {"VI": np.linalg.inv(params["V"])} \
        if params and "V" in params else params or {}
    D = pairwise_distances(X, metric=metric, **kwargs)
    D2 = D if metric == "euclidean" else D ** 2
    if method == "exact":
        return tsne.joint_probabilities(D2, perplexity)
    k = int(3 * perplexity + 1)
    masked = np.where(np.eye(len(X), dtype=bool), np.inf, D2)
    idx = np.argsort(masked, axis=1, kind="stable")[:, :k]
    return tsne.joint_probabilities_nn(idx, np.take_along_axis(D2, idx, axis=1), perplexity).toarray()


@pytest.mark.filterwarnings("ignore:Parameter p is found in metric_params")  # scikit-learn's, as its TSNE's
@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
@pytest.mark.parametrize("metric, params", METRICS, ids=IDS)
def test_each_metric_gives_the_affinities_of_sklearns_pairwise_distances(X, metric, params, method):
    params = _params(X, params)
    P = _dense(affinities_from_data(X, 10.0, method, metric, params))
    expected = _reference_affinities(X, metric, params, method)
    np.testing.assert_array_equal(P > 0, expected > 0)  # the same neighbours
    # the only difference: squared distances rounded to float32 (6e-8) before the perplexity search
    np.testing.assert_allclose(P, expected, rtol=1e-5, atol=1e-7 * expected.max())


@pytest.mark.filterwarnings("ignore:Parameter p is found in metric_params")
@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
@pytest.mark.parametrize("metric, params", [("chebyshev", None), ("cosine", None), ("minkowski", {"p": 3}),
                                            ("mahalanobis", "V"), (_manhattan, None)],
                         ids=["chebyshev", "cosine", "minkowski-p3", "mahalanobis-V", "callable"])
def test_a_metric_gives_the_map_of_its_precomputed_distances(X, metric, params, method):
    params = _params(X, params)
    Y = TSNE(metric=metric, metric_params=params, method=method, init="random", **FAST).fit_transform(X)
    kwargs = {"VI": np.linalg.inv(params["V"])} if params and "V" in params else params or {}
    D = pairwise_distances(X, metric=metric, **kwargs)
    np.testing.assert_array_equal(TSNE(metric="precomputed", method=method, init="random", **FAST).fit_transform(D), Y)


def test_float32_data_meets_sklearns_float32_distances():
    # scikit-learn's suite: cosine_distances of float32 data, precomputed, equals metric='cosine'
    X32 = np.random.default_rng(2).standard_normal((50, 3)).astype(np.float32)
    from sklearn.metrics.pairwise import cosine_distances

    for method in ("exact", "barnes_hut"):
        Y = TSNE(metric="cosine", method=method, init="random", **FAST).fit_transform(X32)
        Yp = TSNE(metric="precomputed", method=method, init="random", **FAST).fit_transform(cosine_distances(X32))
        np.testing.assert_array_equal(Y, Yp)
        assert Y.dtype == np.float64


# --- precomputed sparse kNN graphs ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_a_sparse_knn_graph_gives_the_dense_knn_map(X, method):
    k = 31  # 3 * perplexity + 1
    Y = TSNE(method=method, init="random", **FAST).fit_transform(X)
    Y_dense = TSNE(metric="precomputed", method=method, init="random", **FAST).fit_transform(pairwise_distances(X))
    np.testing.assert_array_equal(Y_dense, Y)
    graph = KNeighborsTransformer(n_neighbors=k, mode="distance").fit_transform(X)  # the point itself + k
    for fmt in SPARSE_FORMATS if method == "barnes_hut" else [sparse.coo_matrix]:
        est = TSNE(metric="precomputed", method=method, init="random", **FAST)
        np.testing.assert_array_equal(est.fit_transform(fmt(graph)), Y, err_msg=fmt.__name__)
    # more neighbours than needed: the k nearest are kept; a graph without its diagonal: the diagonal
    # is not a candidate (scikit-learn would drop the nearest neighbour in its place)
    for more in (KNeighborsTransformer(n_neighbors=45, mode="distance").fit_transform(X),
                 kneighbors_graph(X, n_neighbors=k + 1, mode="distance", include_self=False)):
        est = TSNE(metric="precomputed", method=method, init="random", **FAST)
        np.testing.assert_array_equal(est.fit_transform(more), Y)


def test_a_sparse_graph_row_needs_the_point_and_k_neighbours(X):
    graph = KNeighborsTransformer(n_neighbors=30, mode="distance").fit_transform(X)  # one short of 31
    with pytest.raises(ValueError, match="32 neighbors per samples are required, but some samples have only 31"):
        TSNE(metric="precomputed", init="random", perplexity=10).fit(graph)
    TSNE(metric="precomputed", init="random", perplexity=9.6, max_iter=250).fit(graph)  # k = 29 + 1


def test_the_callers_sparse_matrix_is_not_changed(X):
    graph = KNeighborsTransformer(n_neighbors=31, mode="distance").fit_transform(X).tocoo()
    before = (graph.row.copy(), graph.col.copy(), graph.data.copy())
    TSNE(metric="precomputed", init="random", max_iter=250, perplexity=10).fit(graph)
    for a, b in zip(before, (graph.row, graph.col, graph.data)):
        np.testing.assert_array_equal(a, b)


# --- errors: scikit-learn's types --------------------------------------------------------------------
def _neg(a, b):
    return -1.0


BAD = [
    ("not square", dict(metric="precomputed", init="random", perplexity=1), np.ones((3, 2))),
    ("negative", dict(metric="precomputed", init="random", perplexity=1), -np.ones((3, 3))),
    ("sparse negative", dict(metric="precomputed", init="random", perplexity=1), sparse.csr_matrix(-np.ones((3, 3)))),
    ("exact sparse precomputed", dict(metric="precomputed", init="random", perplexity=1, method="exact"),
     sparse.csr_matrix(np.ones((3, 3)))),
    ("too few neighbours", dict(metric="precomputed", init="random", perplexity=1),
     sparse.csr_matrix(np.eye(3))),
    ("pca with precomputed", dict(metric="precomputed", perplexity=1), np.ones((3, 3))),
    ("perplexity >= n", dict(perplexity=5), np.random.rand(5, 2)),
    ("n_components 4 with barnes_hut", dict(n_components=4, perplexity=1), np.random.rand(5, 2)),
    ("negative callable metric", dict(metric=_neg, method="exact", perplexity=1), np.random.rand(5, 2)),
    ("mahalanobis without V (a tree search)", dict(metric="mahalanobis", perplexity=1), np.random.rand(300, 2)),
    ("strings", dict(perplexity=1), np.array([["a", "b"]] * 5)),
    ("NaN", dict(perplexity=1), np.full((5, 2), np.nan)),
]


@pytest.mark.parametrize("case, kwargs, data", BAD, ids=[row[0] for row in BAD])
def test_errors_have_sklearns_types(case, kwargs, data):
    with pytest.raises((ValueError, TypeError)) as theirs:
        SklearnTSNE(**kwargs).fit(data)
    with pytest.raises((ValueError, TypeError)) as ours:
        TSNE(**kwargs).fit(data)
    their_kind = ValueError if isinstance(theirs.value, ValueError) else TypeError
    if case == "strings":  # scikit-learn: ValueError from float("a"); ours a TypeError naming X's dtype
        their_kind = TypeError
    assert isinstance(ours.value, their_kind), (ours.value, theirs.value)


# --- verbose -------------------------------------------------------------------------------------------
def _lines(out):
    """Verbose output without its numbers, iteration lines dropped (the schedules' rounding differs)."""
    import re

    return [re.sub(r"[-\d.]+(e[-+]\d+)?", "#", line) for line in out.splitlines() if "Iteration" not in line]


@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
def test_verbose_prints_sklearns_lines_and_mean_sigma(X, method, capsys):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):  # its OpenMP threads took 10 s here on a busy 2-core machine
        SklearnTSNE(method=method, verbose=2, max_iter=250, random_state=0).fit(X)
    theirs = capsys.readouterr().out
    TSNE(method=method, verbose=2, max_iter=250, random_state=0).fit(X)
    ours = capsys.readouterr().out
    assert [line.replace(" (#s in all)", "") for line in _lines(ours)] == _lines(theirs)

    def sigma(out):
        return float(out.split("Mean sigma: ")[1].split()[0])
    assert sigma(ours) == pytest.approx(sigma(theirs), rel=1e-4)


# --- the estimator protocol ------------------------------------------------------------------------------
def test_params_clone_and_repr():
    init = np.random.default_rng(0).standard_normal((60, 2))
    est = TSNE(perplexity=5.0, metric="minkowski", metric_params={"p": 3}, init=init)
    params = est.get_params()
    assert list(params) == sorted(params) and params["metric_params"] == {"p": 3} and params["init"] is init
    assert set(SklearnTSNE().get_params()) <= set(params)  # every scikit-learn parameter, same name
    twin = clone(est)
    assert type(twin) is TSNE and twin is not est and twin.perplexity == 5.0
    np.testing.assert_array_equal(twin.init, init)
    assert repr(TSNE(perplexity=5, method="exact")) == "TSNE(method='exact', perplexity=5)"
    assert est.set_params(angle=0.3, metric_params=None) is est and est.angle == 0.3


def test_fitted_attributes_and_feature_names(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)], index=np.arange(100, 160))
    est = TSNE(**FAST).fit(df)
    assert est.n_features_in_ == 5 and list(est.feature_names_in_) == list(df.columns)
    assert est.feature_names_in_.dtype == object
    assert est.learning_rate_ == 50 and est.n_iter_ == 299 and est.embedding_.shape == (60, 2)
    names = est.get_feature_names_out()
    assert list(names) == ["tsne0", "tsne1"] and names.dtype == object
    assert list(est.get_feature_names_out(df.columns)) == ["tsne0", "tsne1"]
    est.fit(X)  # an array: no names any more, as scikit-learn's validate_data resets them
    assert not hasattr(est, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TSNE(**FAST).fit(pd.DataFrame(X))  # integer column names: none recorded, no warning


def test_set_output_and_pipelines_give_dataframes(X):
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.DataFrame(X, columns=list("abcde"), index=np.arange(100, 160))
    out = TSNE(**FAST).set_output(transform="pandas").fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["tsne0", "tsne1"]
    assert list(out.index) == list(df.index)
    pipe = make_pipeline(StandardScaler(), TSNE(**FAST)).set_output(transform="pandas")
    out = pipe.fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["tsne0", "tsne1"]
    assert list(pipe[-1].feature_names_in_) == list("abcde")
    with config_context(transform_output="pandas"):  # the global setting, as scikit-learn's TSNE
        assert isinstance(TSNE(**FAST).fit_transform(X), pd.DataFrame)
    assert isinstance(TSNE(**FAST).set_output(transform="default").fit_transform(df), np.ndarray)
    est = clone(TSNE(**FAST).set_output(transform="pandas"))  # clone keeps the output setting
    assert isinstance(est.fit_transform(X), pd.DataFrame) and isinstance(est.embedding_, np.ndarray)


def test_sklearn_tags():
    from sklearn.utils import get_tags

    assert get_tags(TSNE()).input_tags.sparse and not get_tags(TSNE()).input_tags.pairwise
    assert get_tags(TSNE(metric="precomputed")).input_tags.pairwise
    assert get_tags(TSNE()).transformer_tags is not None


def test_import_tsne_and_a_default_fit_load_no_sklearn():
    code = ("import sys, numpy as np, tsne\n"
            "tsne.TSNE(perplexity=5, max_iter=250).fit(np.random.default_rng(0).random((40, 3)))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "PYTHONPATH": ROOT})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
