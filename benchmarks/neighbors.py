"""Exact against approximate k nearest neighbours (k = 90, perplexity 30) on 50-D structured data.

    python benchmarks/neighbors.py [--sizes 20000 50000 100000 200000] [--exact-up-to 100000]
                                   [--threads 2] [--determinism] [--pynndescent]

Data: scikit-learn's digits grown to n images by one-pixel shifts and noise, PCA to 50
(``benchmarks/tsne.py``'s ``shifted_digits``). For each size: the time of the exact search
(``tsne.neighbors.nearest_neighbors``, up to ``--exact-up-to`` points; beyond, its O(n^2) estimate
from the largest size measured) and of the approximate one (``tsne.approximate_neighbors``: HNSW
built on one thread, searched on ``--threads``), with the approximate search's recall of the true
neighbours on 1000 sampled points. ``--determinism`` runs the approximate search again on 1 thread
and says whether the neighbours are the same bits; ``--pynndescent`` times pynndescent too (if
installed; its first call compiles). The load average is printed beside every number: the machine
is shared.
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

# benchmarks/tsne.py would shadow the package: keep this folder off the import path
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
import numba  # noqa: E402

from tsne.approximate_neighbors import (approximate_nearest_neighbors, sampled_recall,  # noqa: E402
                                        recall_sample)
from tsne.neighbors import nearest_neighbors  # noqa: E402

K = 90  # 3 perplexity, perplexity 30


def shifted_digits(n, seed=0):
    """``benchmarks/tsne.py``'s generator, loaded from its file (it is not a package)."""
    spec = importlib.util.spec_from_file_location("tsne_benchmark", os.path.join(HERE, "tsne.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.shifted_digits(n, seed)


def load():
    return f"load {os.getloadavg()[0]:.1f}"


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def pynndescent_neighbors(X, k, threads):
    """pynndescent's kNN graph (its defaults, random_state 0), the point itself left out."""
    from pynndescent import NNDescent

    nnd = NNDescent(X.astype(np.float32), n_neighbors=k + 1, random_state=0, n_jobs=threads)
    idx = nnd.neighbor_graph[0]
    return np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[20000, 50000, 100000, 200000])
    p.add_argument("--exact-up-to", type=int, default=100000, help="estimate the exact search above this size")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--determinism", action="store_true", help="also run the approximate search on 1 thread")
    p.add_argument("--pynndescent", action="store_true", help="also time pynndescent")
    args = p.parse_args(argv)
    if max(args.sizes) > 200000:
        p.error("--sizes: at most 200000 points on this shared 2-core machine")
    import faiss

    print(f"faiss {faiss.__version__}, numba {numba.__version__}, {args.threads} threads, k = {K}", flush=True)
    numba.set_num_threads(args.threads)
    small = shifted_digits(2000)
    approximate_nearest_neighbors(small, K, 0)  # load the kernels
    nearest_neighbors(small, K)
    if args.pynndescent:
        _, compile_s = timed(pynndescent_neighbors, small[:300], 10, args.threads)
        print(f"pynndescent first call (compiles; cache=False kernels recompile in every process): "
              f"{compile_s:.1f} s  [{load()}]", flush=True)
    exact_at = None  # (n, seconds) of the largest exact run, for the estimate
    for n in args.sizes:
        X = shifted_digits(n)
        (idx, _, recall), approx_s = timed(approximate_nearest_neighbors, X, K, 0)
        line = f"{n:7d} points: approx {approx_s:7.1f} s, recall {recall:.4f} [{load()}]"
        if n <= args.exact_up_to:
            _, exact_s = timed(nearest_neighbors, X, K)
            exact_at = (n, exact_s)
            line += f";  exact {exact_s:7.1f} s [{load()}]"
        elif exact_at is not None:
            line += f";  exact ~{exact_at[1] * (n / exact_at[0]) ** 2:7.0f} s (estimated as n^2 from {exact_at[0]})"
        print(line, flush=True)
        if args.determinism:
            numba.set_num_threads(1)
            (idx1, _, _), one_s = timed(approximate_nearest_neighbors, X, K, 0)
            numba.set_num_threads(args.threads)
            print(f"         approx on 1 thread {one_s:7.1f} s: neighbours identical to {args.threads} threads: "
                  f"{bool(np.array_equal(idx, idx1))} [{load()}]", flush=True)
        if args.pynndescent:
            for t in sorted({1, args.threads}):
                numba.set_num_threads(t)
                nn_idx, nn_s = timed(pynndescent_neighbors, X, K, t)
                nn_recall = sampled_recall(X, nn_idx, recall_sample(n, 0))
                print(f"         pynndescent on {t} thread(s) {nn_s:7.1f} s, recall {nn_recall:.4f} [{load()}]",
                      flush=True)
            numba.set_num_threads(args.threads)


if __name__ == "__main__":
    main()
