"""minigrad's t-SNE beside scikit-learn and openTSNE, in one process, printing ratios.

    python benchmarks/tsne.py [--sizes 10000 20000] [--with-70k] [--no-exact] [--no-digits] [--compile]
                              [--exact-points 1000] [--exact-repeats 1]
    python benchmarks/tsne.py --scaling [10000 ... 1000000]   (tsne_scaling.py: time against n beside openTSNE)

For each data set every library embeds the same data with 1000 iterations (250 exaggerated),
perplexity 30, PCA initialisation, 2 threads. Each returned embedding's KL is recomputed by one
function (``tsne.kl_divergence``: dense P on digits; on blobs the sparse kNN P, with Z summed
exactly over all pairs), since the libraries report KL differently. Data: the first 1,000 digits (the exact methods), digits, digits grown to
10k by one-pixel shifts and noise (PCA to 50), and Gaussian blobs.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# this file is named like the package it measures: keep its own folder off the import path
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import tsne  # noqa: E402
from tsne.affinities import affinities_from_data  # noqa: E402


def common_kl(X, Y, dense):
    P = affinities_from_data(X, 30.0, "exact" if dense else "barnes_hut")
    return tsne.kl_divergence(P, Y)[0]


def run_ours(X, method):
    est = tsne.TSNE(method=method, random_state=0, n_jobs=2)
    t = time.perf_counter()
    Y = est.fit_transform(X)
    return Y, time.perf_counter() - t, est.n_iter_ + 1


def run_sklearn(X, method):
    from sklearn.manifold import TSNE

    est = TSNE(method=method, random_state=0, n_jobs=2)
    t = time.perf_counter()
    Y = est.fit_transform(X)
    return Y, time.perf_counter() - t, est.n_iter_ + 1


def run_opentsne(X, method):
    import openTSNE

    est = openTSNE.TSNE(perplexity=30, negative_gradient_method=method, n_jobs=2, random_state=0,
                        initialization="pca", early_exaggeration_iter=250, n_iter=750, verbose=False)
    t = time.perf_counter()
    Y = np.asarray(est.fit(X))
    return Y, time.perf_counter() - t, 1000


def bench(name, X, runs, dense_kl):
    print(f"\n{name}: {X.shape[0]} x {X.shape[1]}", flush=True)
    results = {}
    for label, fn, method in runs:
        Y, wall, iters = fn(X, method)
        kl = common_kl(X, Y, dense_kl)
        results[label] = (wall, iters, kl)
        print(f"  {label:20s} {wall:8.2f} s  {wall / iters * 1e3:8.2f} ms/iter  {iters:5d} iters  "
              f"exact KL {kl:.4f}", flush=True)
    for ours, ref in (("minigrad exact", "sklearn exact"), ("minigrad bh", "sklearn bh"),
                      ("minigrad bh", "openTSNE bh"), ("minigrad bh", "openTSNE fft"),
                      ("minigrad fft", "openTSNE fft"), ("minigrad fft", "minigrad bh"), ("minigrad fft", "sklearn bh")):
        if ours in results and ref in results:
            a, b = results[ours], results[ref]
            print(f"  {ours} / {ref}: time ratio {a[0] / b[0]:.3f} (speed-up {b[0] / a[0]:.2f}x), "
                  f"per-iteration {a[0] / a[1] / (b[0] / b[1]):.3f}, KL {a[2] / b[2] - 1:+.2%}", flush=True)


def shifted_digits(n, seed=0):
    """scikit-learn's digits grown to n images by shifting each by up to one pixel and adding
    noise (structured image data, not blobs), then PCA to 50 dimensions: (n, 50)."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    images = load_digits().images
    pick = rng.integers(0, len(images), n)
    shifts = rng.integers(-1, 2, (n, 2))
    out = np.stack([np.roll(images[i], tuple(s), axis=(0, 1)) for i, s in zip(pick, shifts)])
    X = out.reshape(n, -1) + rng.normal(0, 1.0, (n, 64))
    return tsne.pca(X, 50)


def compile_time():
    """Seconds of a first small fit per method in a fresh process with an empty Numba cache
    (compilation: the issue's target is <= 10 s for the default method), then with the cache."""
    for method in ("barnes_hut", "exact", "fft"):
        code = ("import time, numpy as np; import tsne; X = np.random.default_rng(0).standard_normal((300, 10)); "
                f"t = time.perf_counter(); tsne.TSNE(method='{method}', max_iter=250).fit(X); "
                "print(time.perf_counter() - t)")
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            first, cached = (float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(2))
        print(f"first fit ({method}, 300 points) in a fresh process: {first:.1f} s with an empty Numba cache, "
              f"{cached:.1f} s from the cache", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[10000, 20000])
    p.add_argument("--with-70k", action="store_true", help="also 70,000 points (sklearn alone takes ~10 min)")
    p.add_argument("--no-exact", action="store_true", help="skip scikit-learn's exact method (~50 s)")
    p.add_argument("--no-digits", action="store_true")
    p.add_argument("--exact-points", type=int, default=1000, help="digits for the exact methods (issue 27: 1,000)")
    p.add_argument("--exact-repeats", type=int, default=1)
    p.add_argument("--compile", action="store_true", help="measure Numba compile time in fresh processes")
    p.add_argument("--scaling", type=int, nargs="*", default=None,
                   help="run tsne_scaling.py instead (these sizes, or its default 10k to 1M), plotting to docs/")
    args = p.parse_args(argv)
    if args.scaling is not None:
        here = os.path.dirname(os.path.abspath(__file__))
        sizes = [str(n) for n in args.scaling]
        subprocess.run([sys.executable, os.path.join(here, "tsne_scaling.py"), "--plot",
                        os.path.join(os.path.dirname(here), "docs", "tsne_scaling.png")] + (["--sizes"] + sizes if sizes
                                                                                           else []), check=True)
        return
    import numba
    import openTSNE
    import sklearn
    from sklearn.datasets import load_digits, make_blobs

    print(f"scikit-learn {sklearn.__version__}, openTSNE {openTSNE.__version__}, numba {numba.__version__}")
    if args.compile:
        compile_time()
    ours_bh = ("minigrad bh", run_ours, "barnes_hut")
    ours_fft = ("minigrad fft", run_ours, "fft")
    others_bh = [("sklearn bh", run_sklearn, "barnes_hut"), ("openTSNE bh", run_opentsne, "bh"),
                 ("openTSNE fft", run_opentsne, "fft")]
    run_ours(np.random.default_rng(0).standard_normal((100, 5)), "barnes_hut")  # load the kernels
    if not args.no_digits:
        digits = load_digits().data.astype(np.float64)
        runs = [("minigrad exact", run_ours, "exact")]
        if not args.no_exact:
            runs.append(("sklearn exact", run_sklearn, "exact"))
        for _ in range(args.exact_repeats):  # the exact fits are short: repeat for the noise
            bench(f"the first {args.exact_points} digits", digits[:args.exact_points], runs, dense_kl=True)
        bench("digits", digits, [ours_bh, ours_fft] + others_bh, dense_kl=True)
        bench("shifted digits 10k, PCA 50", shifted_digits(10000), [ours_bh, ours_fft] + others_bh, dense_kl=False)
    for n in args.sizes + ([70000] if args.with_70k else []):
        X, _ = make_blobs(n, n_features=50, centers=10, cluster_std=3, random_state=0)
        bench(f"blobs {n // 1000}k", X, [ours_bh, ours_fft] + others_bh, dense_kl=False)


if __name__ == "__main__":
    main()
