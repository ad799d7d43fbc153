"""openTSNE's phased API (tsne/embedding.py) against the estimator it is made of, the spectral initial
map against SciPy's eigensolver, the uniform kernel and pBIC against their definitions computed here,
and the 3-D Barnes-Hut gradient against the exact one."""
import numpy as np
import pytest

import tsne
from tsne.affinities import uniform_affinities_nn
from tsne.embedding import Affinities, PerplexityBasedNN, TSNEEmbedding, Uniform, initial_map, prepare_initial
from tsne.pbic import choose_perplexity, pbic
from tsne.spectral_init import spectral_embedding


def blobs(n=120, d=6, seed=0):
    """Three clusters in d dimensions: the affinities have a clear spectral and t-SNE structure."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[: n // 3, 0] += 5
    X[n // 3: 2 * n // 3, 1] -= 5
    return X


X = blobs()


# --- the phased API is the estimator, step for step ------------------------------------------
@pytest.mark.parametrize("method, init", [("exact", "pca"), ("exact", "random"), ("barnes_hut", "pca"),
                                          ("barnes_hut", "random"), ("fft", "pca")])
def test_two_phases_are_fit_transform_bit_for_bit(method, init):
    grid = dict(min_num_intervals=10) if method == "fft" else {}  # a coarse grid keeps the test quick
    est = tsne.TSNE(perplexity=10, method=method, init=init, max_iter=750, random_state=0, **grid)
    want = est.fit_transform(X)
    assert est.n_iter_ == 749  # the estimator ran the whole schedule (no early stop)
    # the estimator's 'auto' rate is scikit-learn's for exact / Barnes-Hut (one rate for both phases)
    # and openTSNE's for FFT, which the embedding's 'auto' is
    early, late = ("auto", "auto") if method == "fft" else (est.learning_rate_, est.learning_rate_)
    E = prepare_initial(PerplexityBasedNN(X, perplexity=10, method=method), init, random_state=0, method=method,
                        **grid)
    E = E.optimize(250, exaggeration=12, momentum=0.5, learning_rate=early)
    E = E.optimize(500, momentum=0.8, learning_rate=late, restart=True)  # each TSNE phase starts afresh
    np.testing.assert_array_equal(np.asarray(E), want)
    assert E.iterations_run == 750 and E.kl_divergence == est.kl_divergence_


def test_optimize_continues_its_state_and_returns_a_new_embedding():
    E0 = prepare_initial(PerplexityBasedNN(X, perplexity=10), "pca")
    start = np.asarray(E0)
    once = E0.optimize(120, exaggeration=12, momentum=0.5)
    np.testing.assert_array_equal(np.asarray(E0), start)  # not inplace: the first embedding is kept
    assert E0.iterations_run == 0 and once.iterations_run == 120
    twice = E0.optimize(50, exaggeration=12, momentum=0.5).optimize(70, exaggeration=12, momentum=0.5)
    np.testing.assert_array_equal(np.asarray(twice), np.asarray(once))  # update and gains carried over
    restarted = E0.optimize(50, exaggeration=12, momentum=0.5).optimize(70, exaggeration=12, momentum=0.5,
                                                                        restart=True)
    assert not np.array_equal(np.asarray(restarted), np.asarray(once))
    E1 = E0.copy()
    assert E1.optimize(120, exaggeration=12, momentum=0.5, inplace=True) is E1
    np.testing.assert_array_equal(np.asarray(E1), np.asarray(once))


def test_callback_sees_the_map_in_the_data_order():
    seen = {}
    E = prepare_initial(PerplexityBasedNN(X, perplexity=10), "pca")  # runs in Z-order internally
    assert E._order is not None and not np.array_equal(E._order, np.arange(len(X)))
    E = E.optimize(100, exaggeration=12, callback=lambda i, Y, kl: seen.update({i: Y}), callback_every=50)
    assert sorted(seen) == [50, 100]
    np.testing.assert_array_equal(seen[100], np.asarray(E))


def test_transform_is_the_estimators():
    est = tsne.TSNE(perplexity=10, max_iter=300, random_state=0)
    est.fit(X)
    E = prepare_initial(PerplexityBasedNN(X, perplexity=10), "pca")
    E = E.optimize(250, exaggeration=12, momentum=0.5, learning_rate=est.learning_rate_)
    E = E.optimize(50, momentum=0.8, learning_rate=est.learning_rate_, restart=True)
    np.testing.assert_array_equal(np.asarray(E), est.embedding_)
    new = blobs(n=9, seed=1)
    np.testing.assert_array_equal(E.transform(new), est.transform(new))


# --- spectral initial map ----------------------------------------------------------------------
def eigsh_diffusion_map(P, n_components):
    """The reference: SciPy's ARPACK on the generalised problem P v = lambda D v (openTSNE's call),
    eigenvectors times their eigenvalues, the trivial one dropped, column 0 scaled to std 1e-4."""
    sp = pytest.importorskip("scipy.sparse")
    from scipy.sparse.linalg import eigsh

    A = sp.csr_matrix((P.data, P.indices, P.indptr), shape=(P.n, P.n))
    D = sp.diags(np.ravel(A.sum(axis=1)))
    values, vectors = eigsh(A, M=D, k=n_components + 1, which="LM", tol=0,
                            v0=np.random.default_rng(1).uniform(-1, 1, P.n))
    order = np.argsort(values)[::-1]
    Y = (vectors[:, order] * values[order])[:, 1:]
    return Y / np.std(Y[:, 0]) * 1e-4


@pytest.mark.parametrize("solver", ["dense", "arpack"])
@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_spectral_is_scipys_eigenvectors_up_to_sign(monkeypatch, solver, n_components):
    from tsne import spectral_init

    if solver == "arpack":
        monkeypatch.setattr(spectral_init, "_DENSE_LIMIT", 0)
    P = PerplexityBasedNN(X, perplexity=10).P
    Y = spectral_embedding(P, n_components, random_state=0)
    want = eigsh_diffusion_map(P, n_components)
    want *= np.sign(np.sum(want * Y, axis=0))
    assert np.abs(Y - want).max() <= 1e-8 * np.abs(want).max()
    # the sign is fixed: each column's largest-magnitude entry is positive
    assert np.all(Y[np.argmax(np.abs(Y), axis=0), np.arange(n_components)] > 0)


def test_spectral_of_a_dense_p_is_that_of_its_non_zeros():
    P = tsne.joint_probabilities(tsne.squared_distances(X), 10.0)
    np.testing.assert_allclose(spectral_embedding(P, 2), spectral_embedding(tsne.SparseAffinities.from_dense(P), 2),
                               rtol=0, atol=1e-12 * 1e-4)


def test_spectral_directions_are_opentsnes():
    """openTSNE 1.0.4 scales the columns by eigenvalues in ascending order while its vectors are in
    descending order (fixed by its PR #282): the directions agree, column 0 exactly."""
    init = pytest.importorskip("openTSNE.initialization")
    sp = pytest.importorskip("scipy.sparse")
    P = PerplexityBasedNN(X, perplexity=10).P
    Y = spectral_embedding(P, 3)
    theirs = init.spectral(sp.csr_matrix((P.data, P.indices, P.indptr), shape=(P.n, P.n)), 3, tol=0,
                           add_jitter=False, random_state=0)
    cosine = np.sum(Y * theirs, axis=0) / np.linalg.norm(Y, axis=0) / np.linalg.norm(theirs, axis=0)
    np.testing.assert_allclose(np.abs(cosine), 1.0, rtol=0, atol=1e-10)
    assert np.abs(np.abs(theirs[:, 0]) - np.abs(Y[:, 0])).max() <= 1e-8 * np.abs(Y).max()


def test_spectral_start_keeps_the_clusters_apart():
    """The point of a spectral start: the three blobs are separated before any optimisation."""
    Y = initial_map(PerplexityBasedNN(X, perplexity=10), "spectral")
    labels = np.repeat([0, 1, 2], len(X) // 3)
    centres = np.array([Y[labels == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(Y[labels == c] - centres[c], axis=1).max() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a)]
    assert min(gaps) > spread


# --- the uniform kernel ----------------------------------------------------------------------
def brute_force_uniform(X, k, symmetrize):
    """P by its definition over the full distance matrix: 1/k on each row's k nearest others."""
    d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    C = np.zeros_like(d)
    np.put_along_axis(C, np.argsort(d, axis=1, kind="stable")[:, :k], 1.0 / k, axis=1)
    P = ((C + C.T) > 0).astype(float) if symmetrize == "max" else (C + C.T) / 2
    return P / P.sum()


@pytest.mark.parametrize("symmetrize", ["max", "mean"])
def test_uniform_is_its_definition(symmetrize):
    P = Uniform(X, k_neighbors=7, symmetrize=symmetrize).P
    want = brute_force_uniform(X, 7, symmetrize)
    assert np.abs(P.toarray() - want).max() <= 1e-15
    assert np.array_equal(P.toarray() > 0, want > 0)


def test_uniform_is_opentsnes():
    affinity = pytest.importorskip("openTSNE.affinity")
    theirs = affinity.Uniform(X, k_neighbors=7, method="exact", symmetrize=True).P.toarray()
    np.testing.assert_allclose(Uniform(X, k_neighbors=7).P.toarray(), theirs, rtol=1e-12, atol=0)


def test_uniform_affinities_embed():
    E = prepare_initial(Uniform(X, k_neighbors=10), "spectral")
    E = E.optimize(250, exaggeration=12, momentum=0.5).optimize(250, momentum=0.8)
    assert np.all(np.isfinite(np.asarray(E))) and 0 < E.kl_divergence < 1.5


# --- pBIC --------------------------------------------------------------------------------------
def test_pbic_is_its_formula_over_the_grid():
    Xs, grid = X[::2], [3.0, 8.0, 15.0]
    params = dict(method="exact", max_iter=250, random_state=0)
    choice = choose_perplexity(Xs, grid, **params)
    n = len(Xs)
    fits = [tsne.TSNE(perplexity=p, **params).fit(Xs) for p in grid]
    by_hand = [2 * f.kl_divergence_ + np.log(n) * p / n for f, p in zip(fits, grid)]
    np.testing.assert_allclose(choice.pbic, by_hand, rtol=1e-14)
    np.testing.assert_allclose(pbic([f.kl_divergence_ for f in fits], grid, n), by_hand, rtol=1e-14)
    best = int(np.argmin(by_hand))
    assert choice.perplexity == grid[best]
    np.testing.assert_array_equal(choice.embedding, fits[best].embedding_)


# --- 3-D Barnes-Hut ----------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", [dict(dof=2.0), dict(dof=0.7, exponent=0.7)])
def test_barnes_hut_3d_gradient_is_the_exact_one_at_angle_0(kernel):
    P = PerplexityBasedNN(blobs(n=300), perplexity=10).P
    Y = np.random.default_rng(1).standard_normal((300, 3))
    kl, grad = tsne.kl_divergence(P, Y, **kernel)
    kl0, grad0 = tsne.kl_divergence_bh(P, Y, 0.0, **kernel)
    kl5, grad5 = tsne.kl_divergence_bh(P, Y, 0.5, **kernel)
    scale = np.abs(grad).max()
    assert np.abs(grad0 - grad).max() <= 1e-12 * scale and abs(kl0 - kl) <= 1e-12 * kl
    error = np.abs(grad5 - grad).max() / scale
    assert 0 < error < 2e-2  # approximated (cells summarised), and close


def test_barnes_hut_3d_fit_is_exact_fit_at_angle_0():
    """n_components=3 through the whole estimator: at angle 0 the tree's map is the exact method's
    on the same sparse P, up to the rounding of the sums."""
    Xs = X[::2]
    A = PerplexityBasedNN(Xs, perplexity=8)
    E = prepare_initial(A, "pca", n_components=3, method="barnes_hut", angle=0.0, locality_order=False)
    exact = TSNEEmbedding(initial_map(A, "pca", 3), A, method="exact")
    E = E.optimize(100, exaggeration=12, momentum=0.5)
    exact = exact.optimize(100, exaggeration=12, momentum=0.5)
    np.testing.assert_allclose(np.asarray(E), np.asarray(exact), rtol=0, atol=1e-9 * np.abs(np.asarray(E)).max())


# --- refused inputs ----------------------------------------------------------------------------
E_SMALL = None


def small_embedding():
    global E_SMALL
    if E_SMALL is None:
        E_SMALL = prepare_initial(PerplexityBasedNN(X[:30], perplexity=5), "pca")
    return E_SMALL


@pytest.mark.parametrize("call, error, name", [
    (lambda: small_embedding().optimize(0), ValueError, "n_iter"),
    (lambda: small_embedding().optimize(10.0), TypeError, "n_iter"),
    (lambda: small_embedding().optimize(10, momentum=1.0), ValueError, "momentum"),
    (lambda: small_embedding().optimize(10, exaggeration=-1), ValueError, "exaggeration"),
    (lambda: small_embedding().optimize(10, learning_rate="fast"), ValueError, "learning_rate"),
    (lambda: small_embedding().optimize(10, restart="yes"), TypeError, "restart"),
    (lambda: small_embedding().transform(np.ones((2, 5))), ValueError, "X"),
    (lambda: initial_map(PerplexityBasedNN(X[:30], perplexity=5), "umap"), ValueError, "initialization"),
    (lambda: initial_map(PerplexityBasedNN(X[:30], perplexity=5), np.ones((29, 2))), ValueError, "initialization"),
    (lambda: initial_map(Affinities(tsne.joint_probabilities(tsne.squared_distances(X[:30]), 5.0)), "pca"),
     ValueError, "initialization"),
    (lambda: initial_map(np.eye(3), "pca"), TypeError, "affinities"),
    (lambda: initial_map(PerplexityBasedNN(X[:30], perplexity=5), "random", random_state=-1), ValueError,
     "random_state"),
    (lambda: TSNEEmbedding(np.ones((30, 4)), PerplexityBasedNN(X[:30], perplexity=5)), ValueError, "initial"),
    (lambda: TSNEEmbedding(np.ones((30, 2)), PerplexityBasedNN(X[:30], perplexity=5), method="tree"), ValueError,
     "method"),
    (lambda: PerplexityBasedNN(X[:30], perplexity=30), ValueError, "perplexity"),
    (lambda: Uniform(X[:30], k_neighbors=30), ValueError, "k_neighbors"),
    (lambda: Uniform(X[:30], k_neighbors=5, symmetrize="min"), ValueError, "symmetrize"),
    (lambda: uniform_affinities_nn(np.ones((4, 2))), TypeError, "neighbor_indices"),
    (lambda: uniform_affinities_nn(np.full((4, 2), 4)), ValueError, "neighbor_indices"),
    (lambda: spectral_embedding(tsne.SparseAffinities.from_dense(np.eye(3)[::-1] * 0.5), 3), ValueError,
     "n_components"),
    (lambda: spectral_embedding(np.triu(np.ones((4, 4)), 1), 1), ValueError, "P"),
    (lambda: choose_perplexity(X[:30], [5.0], perplexity=5.0), TypeError, "perplexity"),
    (lambda: choose_perplexity(X[:30], []), ValueError, "perplexities"),
    (lambda: pbic(0.5, 5.0, 1), ValueError, "n_samples"),
])
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()
