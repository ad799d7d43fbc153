"""t-SNE: perplexity calibration, gradients, Barnes-Hut, the estimator, and scikit-learn references."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import tsne
from tsne import TSNE

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_tsne_fixtures as ref  # noqa: E402

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None


def entropy_bits(P):
    logs = np.log2(np.where(P > 0, P, 1.0))
    return -(P * logs).sum(axis=1)


def as_sparse(P):
    """A dense (n, n) matrix as SparseAffinities with every off-diagonal entry stored."""
    n = len(P)
    rows, cols = np.nonzero(~np.eye(n, dtype=bool))
    return tsne.affinities.symmetrize(rows, cols, P[rows, cols] / 2, n)


@pytest.fixture(scope="module")
def stored():
    with np.load(ref.FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module", params=["fixture", "live"])
def sk(request, stored):
    if request.param == "fixture":
        return stored
    if not HAVE_SKLEARN:
        pytest.skip("scikit-learn is not installed: live comparison skipped (the fixtures still ran)")
    return ref.sklearn_function_cases()


@pytest.fixture(scope="module")
def digits():
    from demos.digits import load_digits

    return load_digits()[0].reshape(1797, -1).astype(np.float64) * 16


# --- perplexity ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["plain", "duplicates", "far_point", "scales"])
@pytest.mark.parametrize("perplexity", [5.0, 30.0])
def test_every_row_reaches_the_target_perplexity(case, perplexity):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10))
    if case == "duplicates":
        X[10:12] = X[3]  # three identical points: perplexity 5 stays reachable for all
        X[50] = X[51]
    elif case == "far_point":
        X[7] += 1e4
    elif case == "scales":
        X *= np.logspace(-3, 3, 10)
    P = tsne.conditional_probabilities(tsne.squared_distances(X), perplexity)
    assert np.allclose(P.sum(axis=1), 1) and np.all(np.diag(P) == 0)
    np.testing.assert_allclose(2 ** entropy_bits(P), perplexity, rtol=1e-5)
    idx, d2 = tsne.nearest_neighbors(X, int(3 * perplexity + 1))
    Pk = tsne.conditional_probabilities(d2, perplexity, skip_self=False)
    np.testing.assert_allclose(2 ** entropy_bits(Pk), perplexity, rtol=1e-5)


def test_nearest_neighbors_are_exact():
    X = np.random.default_rng(1).standard_normal((500, 7))
    idx, d2 = tsne.nearest_neighbors(X, 12)
    D = tsne.squared_distances(X)
    np.fill_diagonal(D, np.inf)
    expected = np.argsort(D, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(d2, np.take_along_axis(D, expected, axis=1), rtol=1e-10)


def test_nearest_neighbors_do_not_depend_on_threads_or_blocks(monkeypatch):
    """Each thread multiplies and selects its own rows, a block at a time: small blocks (patched)
    and one or two threads give the brute-force neighbours, the same indices every time."""
    import numba

    import tsne.neighbors

    X = np.random.default_rng(2).standard_normal((1500, 9))
    D = tsne.squared_distances(X)
    np.fill_diagonal(D, np.inf)
    expected = np.argsort(D, axis=1, kind="stable")[:, :15]
    monkeypatch.setattr(tsne.neighbors, "_BLOCK_BYTES", 8 * 1500 * 37)  # blocks of 37 rows, shared by the threads
    threads = numba.get_num_threads()
    try:
        for t in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(t)
            idx, d2 = tsne.nearest_neighbors(X, 15)
            np.testing.assert_array_equal(idx, expected)
            np.testing.assert_allclose(d2, np.take_along_axis(D, expected, axis=1), rtol=1e-10)
    finally:
        numba.set_num_threads(threads)


# --- references --------------------------------------------------------------------------------
def test_joint_probabilities_match_sklearn(sk):
    X = sk["X"]
    P = tsne.joint_probabilities(tsne.squared_distances(X), ref.PERPLEXITY)
    # scikit-learn stops its search at an entropy tolerance of 1e-5; ours goes to 1e-10
    assert np.abs(P - sk["P"]).max() < 1e-4 * sk["P"].max()
    assert P.sum() == pytest.approx(1.0) and np.allclose(P, P.T)
    k = int(3 * ref.PERPLEXITY + 1)
    Pnn = tsne.joint_probabilities_nn(*tsne.nearest_neighbors(X, k), ref.PERPLEXITY).toarray()
    assert np.array_equal(Pnn > 0, sk["P_nn"] > 0)  # the same neighbours
    assert np.abs(Pnn - sk["P_nn"]).max() < 1e-4 * sk["P_nn"].max()


def test_kl_divergence_matches_sklearn(sk):
    kl, grad = tsne.kl_divergence(sk["P"], sk["Y"])
    assert kl == pytest.approx(float(sk["kl"]), rel=1e-10)
    np.testing.assert_allclose(grad, sk["kl_grad"], rtol=1e-10, atol=1e-10 * np.abs(grad).max())


@pytest.mark.parametrize("angle", [0.0, 0.5])
def test_barnes_hut_matches_sklearn(sk, angle):
    P = as_sparse(sk["P_nn"])
    kl, grad = tsne.kl_divergence_bh(P, sk["Y"], angle=angle)
    ref_grad = sk[f"kl_bh_grad_{angle}"]
    # scikit-learn computes in float32; at angle 0.5 both trees approximate, differently
    tol = 1e-5 if angle == 0 else 2e-2
    assert np.linalg.norm(grad - ref_grad) / np.linalg.norm(ref_grad) < tol
    assert kl == pytest.approx(float(sk[f"kl_bh_{angle}"]), rel=1e-5 if angle == 0 else 1e-2)


# --- calculus ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dof", [1.0, 2.0])
def test_exact_gradient_matches_finite_differences(stored, dof):
    P = stored["P"][:60, :60]
    P = P / P.sum()
    Y = np.random.default_rng(2).standard_normal((60, 2))
    _, grad = tsne.kl_divergence(P, Y, dof)
    rng = np.random.default_rng(3)
    for _ in range(5):
        v = rng.standard_normal(Y.shape)
        eps = 1e-6
        fd = (tsne.kl_divergence(P, Y + eps * v, dof)[0] - tsne.kl_divergence(P, Y - eps * v, dof)[0]) / (2 * eps)
        assert abs(fd - (grad * v).sum()) < 1e-6 * abs(fd)


@pytest.mark.parametrize("dims", [2, 3])
def test_barnes_hut_at_angle_zero_is_exact(stored, dims):
    P = stored["P"]
    dof = max(dims - 1, 1.0)
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((len(P), dims))
    Y[5] = Y[9]  # duplicate points share a leaf
    kl, grad = tsne.kl_divergence(P, Y, dof)
    kl_bh, grad_bh = tsne.kl_divergence_bh(as_sparse(P), Y, angle=0.0, dof=dof)
    assert np.abs(grad_bh - grad).max() < 1e-10 * np.abs(grad).max()
    assert kl_bh == pytest.approx(kl, rel=1e-10)
    # a sparse P: the exact objective with attraction over the neighbours, Z over all pairs
    Pnn = tsne.joint_probabilities_nn(*tsne.nearest_neighbors(stored["X"], 61), 20.0)
    kl, grad = tsne.kl_divergence(Pnn, Y, dof)
    kl_bh, grad_bh = tsne.kl_divergence_bh(Pnn, Y, angle=0.0, dof=dof)
    assert np.abs(grad_bh - grad).max() < 1e-10 * np.abs(grad).max()
    assert kl_bh == pytest.approx(kl, rel=1e-10)


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
def test_sparse_and_dense_p_give_the_same_kl_and_gradient(stored, dims):
    # the sparse attraction has a register kernel for up to 3 components and a NumPy path beyond
    Pnn = tsne.joint_probabilities_nn(*tsne.nearest_neighbors(stored["X"], 61), 20.0)
    Y = np.random.default_rng(5).standard_normal((Pnn.n, dims))
    kl_sparse, grad_sparse = tsne.kl_divergence(Pnn, Y)
    kl_dense, grad_dense = tsne.kl_divergence(Pnn.toarray(), Y)
    assert np.abs(grad_sparse - grad_dense).max() < 1e-12 * np.abs(grad_dense).max()
    assert kl_sparse == pytest.approx(kl_dense, rel=1e-12)


def test_barnes_hut_error_at_angle_half_on_digits(stored, digits):
    P = tsne.joint_probabilities(tsne.squared_distances(digits), 30.0)
    # the embedding after early exaggeration: clustered, but its gradient does not yet vanish
    # (at convergence attraction and repulsion cancel and any relative error blows up)
    Y = TSNE(method="exact", init=stored["digits_init"], max_iter=250).fit_transform(digits)
    _, exact = tsne.kl_divergence(P, Y)
    _, approx = tsne.kl_divergence_bh(as_sparse(P), Y, angle=0.5)
    err = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
    print(f"Barnes-Hut gradient relative error at angle 0.5 on digits: {err:.4f}")
    assert err < 0.03


# --- the estimator ------------------------------------------------------------------------------
@pytest.mark.skipif(not HAVE_SKLEARN, reason="trustworthiness comes from scikit-learn")
@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
def test_digits_embedding_matches_sklearn(stored, digits, method):
    from sklearn.manifold import trustworthiness

    est = TSNE(method=method, init=stored["digits_init"], random_state=0)
    Y = est.fit_transform(digits)
    P = tsne.joint_probabilities(tsne.squared_distances(digits), 30.0)
    ours = tsne.kl_divergence(P, Y)[0]
    theirs = tsne.kl_divergence(P, stored[f"digits_{method}_embedding"])[0]
    t_ours = trustworthiness(digits, Y, n_neighbors=5)
    t_theirs = trustworthiness(digits, stored[f"digits_{method}_embedding"], n_neighbors=5)
    print(f"{method}: exact KL ours {ours:.4f} sklearn {theirs:.4f}; "
          f"trustworthiness ours {t_ours:.4f} sklearn {t_theirs:.4f}")
    if method == "exact":
        assert ours == pytest.approx(theirs, rel=0.01)
        assert est.kl_divergence_ == pytest.approx(ours, rel=1e-10)
    assert abs(t_ours - t_theirs) < 0.01
    assert est.n_iter_ == 999 and est.embedding_ is Y and est.n_features_in_ == 64
    assert est.learning_rate_ == pytest.approx(max(1797 / 12 / 4, 50))


def test_callback_sees_kl_decrease_after_exaggeration(digits):
    seen = []
    TSNE(method="barnes_hut", random_state=0, max_iter=600, callback=lambda it, Y, kl: seen.append((it, kl)),
         callback_every=50).fit(digits[:500])
    after = [kl for it, kl in seen if it > 250]
    assert [it for it, _ in seen][:3] == [50, 100, 150]
    assert all(b <= a for a, b in zip(after, after[1:])), after
    assert after[-1] < after[0]


@pytest.mark.parametrize("method", ["exact", "barnes_hut"])
def test_same_random_state_same_embedding_with_1_and_2_threads(digits, method):
    X = digits[:400]
    runs = [TSNE(method=method, init="random", random_state=7, max_iter=300, n_jobs=j).fit_transform(X)
            for j in (1, 2, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[1], runs[2])
    other = TSNE(method=method, init="random", random_state=8, max_iter=300).fit_transform(X)
    assert not np.array_equal(runs[0], other)


def test_three_components_and_precomputed_distances(digits):
    X = digits[:300] + 1e-3 * np.random.default_rng(0).standard_normal((300, 64))  # no tied distances
    Y3 = TSNE(n_components=3, random_state=0, max_iter=300).fit_transform(X)
    assert Y3.shape == (300, 3) and np.all(np.isfinite(Y3))
    init = np.random.default_rng(0).standard_normal((300, 2)) * 1e-4
    D = np.sqrt(tsne.squared_distances(X))
    from tsne.affinities import affinities_from_data

    for method in ("exact", "barnes_hut"):
        Pe = affinities_from_data(X, 30.0, method)
        Pp = affinities_from_data(D, 30.0, method, metric="precomputed")
        Pe, Pp = (p if method == "exact" else p.toarray() for p in (Pe, Pp))
        np.testing.assert_allclose(Pe, Pp, rtol=1e-6, atol=1e-12)
    # the optimisation is chaotic: rounding in sqrt then square changes the path, not the quality
    a = TSNE(init=init, max_iter=300)
    b = TSNE(init=init, max_iter=300, metric="precomputed")
    a.fit(X), b.fit(D)
    assert b.kl_divergence_ == pytest.approx(a.kl_divergence_, rel=0.03)


def test_pca_matches_sklearn_up_to_sign(digits):
    decomposition = pytest.importorskip("sklearn.decomposition")
    ours = tsne.pca(digits, 3)
    theirs = decomposition.PCA(3, svd_solver="full").fit_transform(digits)
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-7, atol=1e-7 * np.abs(theirs).max())


@pytest.mark.parametrize("kwargs, X, match", [
    (dict(perplexity=50), np.ones((50, 3)), r"perplexity \(50\) must be less than n_samples \(50\)"),
    (dict(), np.ones((1, 3)), "at least 2 samples"),
    (dict(), np.array([[0.0, np.nan], [1.0, 2.0], [3, 4]]), "NaN or inf"),
    (dict(), np.array([[0.0, np.inf], [1.0, 2.0], [3, 4]]), "NaN or inf"),
    (dict(n_components=4), np.random.rand(40, 5), "'n_components' should be .* for method='barnes_hut'"),
    (dict(init=np.zeros((39, 2))), np.random.rand(40, 5), r"init: expected an array of shape \(40, 2\)"),
    (dict(metric="precomputed", init="random"), np.random.rand(40, 5), "X should be a square distance matrix"),
    (dict(metric="precomputed", init="random"), -np.ones((40, 40)), "X should contain positive distances"),
    (dict(method="fast"), np.random.rand(40, 5), "method: expected 'barnes_hut', 'exact' or 'fft'"),
    (dict(metric="cosinus"), np.random.rand(40, 5), "metric: expected a metric name of scikit-learn's"),
    (dict(max_iter=100), np.random.rand(40, 5), "max_iter"),
    (dict(perplexity=5), np.ones((0, 3)), "at least 2 samples"),
    (dict(learning_rate=-1), np.random.rand(40, 5), "learning_rate"),
])
def test_bad_input_raises_a_clear_error(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        TSNE(**{"perplexity": 5, **kwargs}).fit_transform(X)


def test_function_level_errors():
    with pytest.raises(ValueError, match="perplexity"):
        tsne.conditional_probabilities(np.ones((5, 5)), 10)
    with pytest.raises(ValueError, match="square"):
        tsne.joint_probabilities(np.ones((4, 5)), 2)
    with pytest.raises(ValueError, match="k: expected"):
        tsne.nearest_neighbors(np.ones((5, 2)), 5)
    with pytest.raises(ValueError, match="Y: expected an embedding of shape"):
        tsne.kl_divergence(np.ones((4, 4)), np.ones((5, 2)))
    with pytest.raises(TypeError, match="numeric"):
        TSNE().fit_transform(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="dof"):
        tsne.kl_divergence(np.full((4, 4), 1 / 12), np.random.rand(4, 2), dof=0)
    P = tsne.affinities.affinities_from_data(np.random.rand(20, 3), 3.0, "barnes_hut")
    for fn in (tsne.kl_divergence_bh, tsne.kl_divergence_fft):
        with pytest.raises(ValueError, match="dof"):
            fn(P, np.random.rand(20, 2), dof=-1)
    with pytest.raises(ValueError, match="perplexity"):
        tsne.conditional_probabilities(np.ones((5, 5)), [])


def test_get_and_set_params_follow_sklearn():
    est = TSNE(perplexity=5.0, method="exact")
    params = est.get_params()
    assert params["perplexity"] == 5.0 and params["method"] == "exact" and "self" not in params
    assert set(params) >= {"n_components", "early_exaggeration", "learning_rate", "max_iter", "angle", "callback"}
    assert est.set_params(angle=0.3).angle == 0.3
    with pytest.raises(ValueError, match="unknown parameter 'angel'"):
        est.set_params(angel=0.3)


def test_sparse_affinities_from_a_dense_matrix_give_the_same_kl_and_a_dense_p_is_refused_clearly():
    """A learner holding joint_probabilities' dense P can still try Barnes-Hut and the FFT on it:
    with angle 0 Barnes-Hut is exact for the same P."""
    from tsne.barnes_hut import kl_divergence_bh
    from tsne.fft_interpolation import kl_divergence_fft
    from tsne.kl import kl_divergence

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    P = tsne.joint_probabilities(((X[:, None] - X[None]) ** 2).sum(-1), 10.0)
    Y = rng.standard_normal((50, 2))
    S = tsne.SparseAffinities.from_dense(P)
    np.testing.assert_array_equal(S.toarray(), P)
    exact = kl_divergence(P, Y)[0]
    assert abs(kl_divergence_bh(S, Y, angle=0)[0] - exact) < 1e-12
    assert abs(kl_divergence_fft(S, Y)[0] - exact) < 1e-3 * exact
    for fn in (kl_divergence_bh, kl_divergence_fft):
        with pytest.raises(TypeError, match=r"P: kl_divergence_.* takes the sparse affinities .* got ndarray"):
            fn(P, Y)
