"""Issue 30: results do not depend on the number of threads.

Each thread count runs in its own process (NUMBA_NUM_THREADS, OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS all set to it; t-SNE with n_jobs the same), every case of one count in one
process (start-up and Numba's cache loads cost more than the cases). The child checks that the
threads really ran: Numba reports the count, a parallel region sees that many thread ids, the
t-SNE chunk pool runs chunks on that many workers, and TSNE's callback sees n_jobs threads.
The parent then asks for the same bits from every count. The data are Gaussian noise, where the
order of a sum shows in the last bits; for t-SNE, issue 30's 60 points of 5-D noise, on which the
kNN blocks once cut per thread (before 7b1f4d0) put the maps of 1 and 2 threads 77 apart.

Every reduction here is split into blocks fixed by the data's shape and added in a fixed order:
the compiled conv weight gradient (``minigrad/kernels/weight_gradient.py``, whose sum was once split
per thread: 1.2e-7 apart after one epoch), t-SNE's kNN blocks (``tsne/neighbors.py``), the
per-point Barnes-Hut and FFT sums and Z in point order. OpenBLAS 0.3.31 itself is not: on one
thread it takes its single-threaded driver, whose last two blocks of the inner dimension k are cut
at a multiple of GEMM_UNROLL_M where the threaded driver cuts at (k + 1) / 2, and some float64
shapes differ besides (measured: (8 x 6776) @ (6776 x 76) in float32 1.5e-5 apart between
OPENBLAS_NUM_THREADS=1 and 2; OpenBLAS caps 4 at the 2 cores here). So minigrad's products
(``minigrad/kernels/gemm.py``) run on OpenBLAS's single-threaded path in parts fixed by the shape,
on minigrad's own threads; the cases below include inner dimensions far above one block.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = (1, 2, 4)

_CHILD = textwrap.dedent(r'''
    import sys
    import threading
    import time

    import minigrad as mg
    import numba
    import numpy as np

    import layers as L
    import tsne
    import tsne.transform
    from minigrad.kernels import weight_gradient
    from tsne.chunked_threads import run_in_chunks
    from tsne.fft_interpolation import repulsion_fft

    t, out = int(sys.argv[1]), sys.argv[2]
    assert numba.config.NUMBA_NUM_THREADS == t and numba.get_num_threads() == t, numba.get_num_threads()

    sys.path.insert(0, "tests")
    from determinism_probe import thread_ids  # noqa: E402
    seen = set(thread_ids(64 * t).tolist())
    assert seen == set(range(t)), ("Numba's parallel region ran on", seen)

    workers = set()

    def _chunk(start, stop):
        workers.add(threading.get_ident())
        time.sleep(0.01)

    run_in_chunks(_chunk, 64)
    assert len(workers) == t, ("the t-SNE chunk pool ran on", len(workers), "threads")

    res = {}
    X = np.random.default_rng(0).normal(size=(60, 5))  # issue 30's case: kNN blocks per thread put maps 77 apart
    rng = np.random.default_rng(1)
    X_new = rng.normal(size=(20, 5))
    for method in ("exact", "barnes_hut", "fft"):
        jobs = []
        est = tsne.TSNE(method=method, perplexity=10, init="random", random_state=7, max_iter=300, n_jobs=t,
                        callback=lambda i, Y, e: jobs.append(numba.get_num_threads()), callback_every=100)
        res[f"tsne_{method}"] = est.fit_transform(X)
        res[f"tsne_{method}_kl"] = np.array(est.kl_divergence_)
        assert jobs and set(jobs) == {t}, (method, jobs)
        if method != "exact":
            res[f"tsne_{method}_pca"] = tsne.TSNE(method=method, perplexity=10, random_state=7, max_iter=250,
                                                  n_jobs=t).fit_transform(X)
            # the large-data path on noise: HNSW neighbours, the compact P built in the run's order
            res[f"tsne_{method}_approx"] = tsne.TSNE(method=method, perplexity=10, random_state=7, max_iter=250,
                                                     n_jobs=t, neighbors="approx").fit_transform(X)
        numba.set_num_threads(t)  # transform runs on the caller's thread count
        res[f"transform_{method}"] = est.transform(X_new)
        if method == "fft":
            tsne.transform._FFT_PAIRS = 0  # the interpolated repulsion, not the exact sums
            res["transform_fft_interpolated"] = est.transform(X_new)
    # a spread-out map: spectra above _THREADED_PRODUCT are multiplied on threads
    Y = rng.normal(size=(2000, 2)) * 30
    res["fft_repulse"], res["fft_row_z"] = repulsion_fft(Y)
    res["fft_repulse_total"], z = repulsion_fft(Y, row_sums=False)
    res["fft_z"] = np.array(z)

    for dt in (np.float32, np.float64):
        name = np.dtype(dt).name
        Xc = rng.normal(size=(96, 1, 16, 16)).astype(dt)
        yc = rng.integers(0, 4, 96)
        net = L.Sequential(L.Conv2d(1, 6, 5, rng=np.random.default_rng(1), dtype=dt), L.ReLU(), L.MaxPool2d(2),
                           L.Flatten(), L.Linear(6 * 6 * 6, 4, rng=np.random.default_rng(2), dtype=dt))
        history = L.fit(net, Xc, yc, epochs=1, batch_size=32, seed=0, progress_bar=False, verbose=False)
        res[f"fit_{name}_loss"] = np.array(history["loss"])
        for k, v in net.state_dict().items():
            res[f"fit_{name}_{k}"] = v
        # conv2d forward and backward on a shape whose weight gradient takes the compiled pass
        x = mg.Tensor(rng.normal(size=(32, 3, 24, 24)).astype(dt), requires_grad=True)
        w = mg.Tensor(rng.normal(size=(6, 3, 5, 5)).astype(dt), requires_grad=True)
        b = mg.Tensor(rng.normal(size=(6,)).astype(dt), requires_grad=True)
        assert weight_gradient.applies(6, 3 * 5 * 5 + 1)
        o = mg.conv2d(x, w, b, padding=1)
        p = mg.max_pool2d(mg.relu(o), 2)
        gx, gw, gb, go = mg.grad(p, [x, w, b, o], seed=rng.normal(size=p.shape).astype(dt))
        res.update({f"conv_{name}_out": o.data, f"conv_{name}_pool": p.data, f"conv_{name}_gx": gx,
                    f"conv_{name}_gw": gw, f"conv_{name}_gb": gb, f"conv_{name}_gout": go})
    # products whose inner dimension OpenBLAS's drivers cut differently, run on minigrad's threads
    from threadpoolctl import threadpool_info
    from minigrad.kernels import gemm
    # NumPy's own OpenBLAS: faiss-cpu (loaded by the approximate t-SNE fits above) brings another
    blas_threads = next(i["num_threads"] for i in threadpool_info() if i["filepath"] == gemm._NUMPY_OPENBLAS[0])
    for dt in (np.float32, np.float64):
        name = np.dtype(dt).name
        a, b = rng.normal(size=(8, 6776)).astype(dt), rng.normal(size=(6776, 760)).astype(dt)
        res[f"gemm_{name}_long_k"] = gemm.matmul(a, b)
        res[f"gemm_{name}_batched"] = gemm.matmul(rng.normal(size=(6, 64, 577)).astype(dt), b[:577, :300])
        x = mg.Tensor(rng.normal(size=(4, 64, 16, 16)).astype(dt), requires_grad=True)
        w = mg.Tensor(rng.normal(size=(128, 64, 3, 3)).astype(dt), requires_grad=True)
        with mg.kernels("im2col"):  # the one-GEMM path: K = 576 forward, 128 back, 1024 for the weights
            o = mg.conv2d(x, w, padding=1)
            res[f"gemm_{name}_conv_out"] = o.data
            res[f"gemm_{name}_conv_gx"], res[f"gemm_{name}_conv_gw"] = mg.grad(o, [x, w], seed=np.cos(o.data))
        fc = L.Linear(4096, 100, rng=np.random.default_rng(3), dtype=dt)
        xf = mg.Tensor(rng.normal(size=(64, 4096)).astype(dt), requires_grad=True)
        res[f"gemm_{name}_linear_gx"], res[f"gemm_{name}_linear_gw"] = mg.grad(fc(xf), [xf, fc.weight])
    workers = [th for th in threading.enumerate() if th.name == "minigrad-gemm"]
    ran = len(gemm.THREADS_SEEN) if gemm._CBLAS else len(workers) + 1  # Numba's threads, or the pool's
    assert ran == min(t, blas_threads), ("minigrad's products ran on", ran, "threads")
    np.savez(out, **res)
''')


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("threads")
    out = {}
    for t in THREADS:
        env = dict(os.environ, NUMBA_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
        path = tmp / f"threads{t}.npz"
        run = subprocess.run([sys.executable, "-c", _CHILD, str(t), str(path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{t} threads:\n{run.stdout}\n{run.stderr}"
        with np.load(path) as f:
            out[t] = dict(f)
    return out


@pytest.mark.parametrize("prefix", ["tsne_exact", "tsne_barnes_hut", "tsne_fft", "transform", "fft_",
                                    "fit_float32", "fit_float64", "conv_float32", "conv_float64", "gemm_float32",
                                    "gemm_float64"])
def test_the_same_bits_for_any_thread_count(results, prefix):
    base = results[THREADS[0]]
    keys = [k for k in base if k.startswith(prefix)]
    assert keys
    for t in THREADS[1:]:
        assert sorted(k for k in results[t] if k.startswith(prefix)) == sorted(keys)
        worst = {k: float(np.max(np.abs(results[t][k].astype(np.float64) - base[k]), initial=0.0)) for k in keys
                 if not np.array_equal(results[t][k], base[k])}
        assert not worst, f"{THREADS[0]} vs {t} threads differ: {worst}"
