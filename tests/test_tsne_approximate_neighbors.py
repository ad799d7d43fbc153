"""Approximate nearest neighbours for t-SNE (issue 31): the recall measured against the exact
search, the distances against NumPy, neighbors='exact' untouched, the same map for 1 and 2
threads (each count in its own process) and for one random_state, and bad values refused."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("faiss")

import tsne  # noqa: E402
import tsne.approximate_neighbors as approx  # noqa: E402
from tsne.affinities import affinities_from_data  # noqa: E402
from tsne.approximate_neighbors import approximate_nearest_neighbors, recall_sample, sampled_recall  # noqa: E402
from tsne.fit_progress import FitProgress  # noqa: E402
from tsne.neighbors import nearest_neighbors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _digits(n, seed=0):
    """scikit-learn's digits, shifted by up to a pixel and noised into n images (structured, 64-D)."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    images = load_digits().images
    pick, shifts = rng.integers(0, len(images), n), rng.integers(-1, 2, (n, 2))
    out = np.stack([np.roll(images[i], tuple(s), axis=(0, 1)) for i, s in zip(pick, shifts)])
    return out.reshape(n, -1) + rng.normal(0, 1.0, (n, 64))


@pytest.fixture(scope="module")
def searched():
    X = _digits(3000)
    k = 45
    idx, d2, recall = approximate_nearest_neighbors(X, k, random_state=0)
    return X, k, idx, d2, recall


def test_recall_of_the_true_neighbours_is_at_least_099(searched):
    X, k, idx, _, recall = searched
    true, _ = nearest_neighbors(X, k)
    full = np.mean([len(set(a) & set(b)) for a, b in zip(idx.tolist(), true.tolist())]) / k
    assert full >= approx.MIN_RECALL, full
    assert recall >= approx.MIN_RECALL, recall
    sample = recall_sample(len(X), 0)
    on_sample = np.mean([len(set(idx[i]) & set(true[i])) for i in sample]) / k
    assert abs(recall - on_sample) < 1e-3, (recall, on_sample)  # ties at the k-th place may count either way


def test_neighbours_are_sorted_other_points_at_numpy_distances(searched):
    X, k, idx, d2, _ = searched
    assert idx.shape == d2.shape == (len(X), k) and idx.dtype == np.int64
    assert not np.any(idx == np.arange(len(X))[:, None]) and idx.min() >= 0
    assert all(len(set(row)) == k for row in idx.tolist())
    brute = ((X[:, None, :] - X[idx]) ** 2).sum(-1)
    np.testing.assert_allclose(d2, brute, rtol=1e-12, atol=0)
    order = np.lexsort((idx, d2), axis=1)  # by distance, then index
    np.testing.assert_array_equal(order, np.broadcast_to(np.arange(k), idx.shape))


def test_the_beam_widens_on_the_sample_then_narrows_by_bisection(monkeypatch):
    X = _digits(1500, seed=1)
    seen = []
    search = approx._search
    monkeypatch.setattr(approx, "_search", lambda *a, **kw: seen.append((len(a[3]), a[5])) or search(*a, **kw))
    _, _, recall = approximate_nearest_neighbors(X, 30, random_state=0, min_recall=1.0)
    beams = [ef for rows, ef in seen]
    # the sample alone at each width, then every row once at the chosen width
    assert [rows for rows, _ in seen] == [approx.RECALL_SAMPLE] * (len(seen) - 1) + [len(X)]
    widening = [31]
    while widening[-1] < max(beams[:-1]):
        widening.append(min(max(widening[-1] + 1, 5 * widening[-1] // 4), len(X)))
    assert beams[:len(widening)] == widening  # 1.25x a step from k + 1 up to the first width that passes
    narrowing = beams[len(widening):-1]
    assert all(widening[-2] < b < widening[-1] for b in narrowing)  # bisection between the last two widths
    assert beams[-1] in widening[-1:] + narrowing
    assert recall == 1.0 or beams[-1] == len(X)


def test_smallest_beam_bisects_to_a_32nd_of_the_beam():
    calls = []

    def recall_at(ef):  # a recall that reaches 0.9 at beam 180 exactly
        calls.append(ef)
        return min(1.0, ef / 200)

    ef, recall = approx._smallest_beam(recall_at, 31, 0.9, 1000)
    assert calls[:10] == [31, 38, 47, 58, 72, 90, 112, 140, 175, 218]
    assert 180 <= ef <= 180 + 180 // 32 and recall == ef / 200 >= 0.9
    assert all(175 < c < 218 for c in calls[10:]) and len(calls) <= 10 + 4
    # the first width passes: no narrowing below it; the limit reached: the limit, whatever its recall
    assert approx._smallest_beam(lambda ef: 1.0, 31, 0.9, 1000) == (31, 1.0)
    assert approx._smallest_beam(lambda ef: 0.5, 31, 0.9, 100) == (100, 0.5)


def test_the_build_order_is_the_graphs_and_changes_no_measurement():
    X = _digits(2500, seed=6)
    order = np.random.default_rng(1).permutation(len(X))
    a = approximate_nearest_neighbors(X, 20, random_state=3, build_order=order)
    b = approximate_nearest_neighbors(X, 20, random_state=3, build_order=order, query_order=order)
    c = approximate_nearest_neighbors(X, 20, random_state=4, build_order=order)
    for x, y in zip(a, b):  # the query order changes nothing
        np.testing.assert_array_equal(x, y)
    # the graph follows the given order, not random_state (which still draws the recall sample; its
    # beam here happens to be the same)
    np.testing.assert_array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1], c[1])
    sample = recall_sample(len(X), 3)
    assert sampled_recall(X, a[0], sample) == a[2] >= approx.MIN_RECALL
    with pytest.raises(ValueError, match=r"build_order: expected a permutation of range\(2500\)"):
        approximate_nearest_neighbors(X, 20, build_order=np.arange(len(X)) * 1.0)


def test_the_full_search_has_the_recall_measured_on_the_sample():
    # a query's walk does not depend on the other queries: the recall of the sample's rows in the
    # full result is the recall the calibration measured
    X = _digits(3000, seed=4)
    idx, _, recall = approximate_nearest_neighbors(X, 30, random_state=1, min_recall=0.95)
    sample = recall_sample(len(X), 1)
    assert sampled_recall(X, idx, sample) == recall >= 0.95


def test_same_random_state_same_neighbours():
    X = _digits(1200, seed=2)
    a = approximate_nearest_neighbors(X, 20, random_state=5)
    b = approximate_nearest_neighbors(X, 20, random_state=np.random.default_rng(5))
    c = approximate_nearest_neighbors(X, 20, random_state=5)
    np.testing.assert_array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1], c[1])
    np.testing.assert_array_equal(a[0], b[0])  # an int seeds the same Generator


def test_exact_neighbors_never_call_the_approximate_search(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the approximate search ran")

    X = _digits(400, seed=3)
    monkeypatch.setattr(approx, "approximate_nearest_neighbors", refuse)
    monkeypatch.setattr(tsne.tsne, "approximate_nearest_neighbors", refuse)
    monkeypatch.setattr(approx, "APPROX_FROM", 10)  # 'auto' would search approximately: 'exact' must not
    est = tsne.TSNE(neighbors="exact", method="fft", max_iter=250, random_state=0)
    Y = est.fit_transform(X)
    assert est.neighbor_recall_ is None
    # the map of the exact neighbours' P, built by hand from the same parts
    P = affinities_from_data(X, 30.0, "fft")
    got, in_order = est._affinities(X, len(X), None, FitProgress(False))
    np.testing.assert_array_equal(P.data, got.data)
    np.testing.assert_array_equal(P.indices, got.indices)
    monkeypatch.setattr(approx, "APPROX_FROM", 30_000)
    np.testing.assert_array_equal(Y, tsne.TSNE(method="fft", max_iter=250, random_state=0).fit_transform(X))


def test_auto_switches_at_the_threshold(monkeypatch):
    X = _digits(400, seed=4)
    est = tsne.TSNE(max_iter=250, random_state=0)
    est.fit(X)
    assert est.neighbor_recall_ is None  # below APPROX_FROM: exact
    monkeypatch.setattr(approx, "APPROX_FROM", 400)
    est.fit(X)
    assert est.neighbor_recall_ >= approx.MIN_RECALL


_CHILD = textwrap.dedent(r'''
    import sys
    import numba
    import numpy as np
    import tsne
    from sklearn.datasets import load_digits

    t, out = int(sys.argv[1]), sys.argv[2]
    assert numba.get_num_threads() == t
    rng = np.random.default_rng(0)
    X = load_digits().data[:1000] + rng.normal(0, 1.0, (1000, 64))
    res = {}
    for method in ("barnes_hut", "fft"):
        est = tsne.TSNE(neighbors="approx", method=method, max_iter=250, random_state=0, n_jobs=t)
        res[method] = est.fit_transform(X)
        res[method + "_recall"] = np.array(est.neighbor_recall_)
    np.savez(out, **res)
''')


def test_the_same_map_for_1_and_2_threads(tmp_path):
    results = []
    for t in (1, 2):
        path = tmp_path / f"t{t}.npz"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
        run = subprocess.run([sys.executable, "-c", _CHILD, str(t), str(path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        results.append(dict(np.load(path)))
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)
    assert results[0]["fft_recall"] >= approx.MIN_RECALL


@pytest.mark.parametrize("params, error", [
    (dict(neighbors="annoy"), ValueError),
    (dict(neighbors="pynndescent"), ValueError),
    (dict(neighbors=None), TypeError),
    (dict(neighbors=1), TypeError),
    (dict(neighbors="approx", method="exact"), ValueError),
    (dict(neighbors="approx", metric="cosine"), ValueError),
])
def test_bad_neighbors_refused_naming_the_argument(params, error):
    X = _digits(100, seed=5)
    with pytest.raises(error, match="neighbors"):
        tsne.TSNE(perplexity=5.0, max_iter=250, **params).fit(X)


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(k=0), ValueError, "k"),
    (dict(k=100), ValueError, "k"),
    (dict(k=2.0), TypeError, "k"),
    (dict(k=5, min_recall=1.5), ValueError, "min_recall"),
    (dict(k=5, min_recall="high"), TypeError, "min_recall"),
    (dict(k=5, random_state=-1), ValueError, "random_state"),
    (dict(k=5, verbose=-1), ValueError, "verbose"),
    (dict(k=5, verbose="yes"), TypeError, "verbose"),
])
def test_bad_search_arguments_refused_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        approximate_nearest_neighbors(_digits(100, seed=6), **kwargs)


def test_sampled_recall_counts_a_brute_force_overlap():
    X = _digits(300, seed=7)
    true, _ = nearest_neighbors(X, 10)
    damaged = true.copy()
    damaged[::3, -1] = damaged[::3, 0]  # a third of the rows lose one true neighbour (repeated instead)
    sample = np.arange(300)
    assert sampled_recall(X, true, sample) == 1.0
    assert sampled_recall(X, damaged, sample) == pytest.approx(1 - 100 / 3000)


def test_the_query_order_changes_nothing_but_the_time():
    X = _digits(2500, seed=6)
    plain = approximate_nearest_neighbors(X, 20, random_state=3)
    shuffled = approximate_nearest_neighbors(X, 20, random_state=3,
                                             query_order=np.random.default_rng(0).permutation(len(X)))
    for a, b in zip(plain, shuffled):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="query_order: expected a permutation"):
        approximate_nearest_neighbors(X, 20, random_state=3, query_order=np.zeros(len(X), dtype=int))
