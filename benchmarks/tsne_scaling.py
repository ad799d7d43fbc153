"""How t-SNE's cost grows with the number of points: minigrad's FFT method beside openTSNE's.

    python benchmarks/tsne_scaling.py [--sizes 10000 15625 31250 ... 1000000] [--plot docs/tsne_scaling.png]
    (or: python benchmarks/tsne.py --scaling ...)

Data: scikit-learn's digits deformed into n images (``deformed_digits.py``: rotation, scale, shift,
elastic distortion, noise), PCA to 50 dimensions (scikit-learn's randomized solver), made once per
size and saved. Each library then embeds the same array in a fresh process of its own (so that each
one's peak memory is its own: ``ru_maxrss``, which includes the 50-D data), one after the other,
never at the same time, timed after a warm-up fit of 300 points: perplexity 30, PCA initialisation, 250 exaggerated + 500 iterations, 2
threads, random_state 0. Printed per size: wall time of the whole fit (neighbours, affinities,
optimisation; minigrad's includes its PCA initialisation, openTSNE's its own), the ratio,
trustworthiness (k = 10) of each map on the same seeded 2,000-point sample, peak memory, and the
recall of minigrad's approximate neighbours; then time(2n) / time(n) for each doubling. With
``--plot``, time against n on log-log axes, and the table as JSON beside it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_CHILD = r"""
import json, resource, sys, time
import numpy as np
X = np.load(sys.argv[2])
warm = np.random.default_rng(0).normal(size=(300, X.shape[1]))  # compiled kernels loaded before the clock starts
if sys.argv[1] == "minigrad":
    import tsne
    def fit(X):
        est = tsne.TSNE(method="fft", max_iter=750, random_state=0, n_jobs=2, progress_bar=False)
        return est.fit_transform(X), {"recall": est.neighbor_recall_}
else:
    import openTSNE
    def fit(X):
        return np.asarray(openTSNE.TSNE(perplexity=30, negative_gradient_method="fft", n_jobs=2, random_state=0,
                                        initialization="pca", early_exaggeration_iter=250, n_iter=500).fit(X)), {}
fit(warm)
t = time.perf_counter()
Y, extra = fit(X)
wall = time.perf_counter() - t
np.save(sys.argv[3], Y)
print(json.dumps(dict(wall=wall, peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, **extra)))
"""
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)


def _data(n, path):
    """Deformed digits (n, 64) -> PCA to 50 dimensions, saved to ``path``."""
    sys.path.insert(0, _HERE)
    from deformed_digits import deformed_digits
    from sklearn.decomposition import PCA

    X, _ = deformed_digits(n, seed=0)
    np.save(path, PCA(50, svd_solver="randomized", random_state=0).fit_transform(X))


def _fit(library, data, out):
    run = subprocess.run([sys.executable, "-c", _CHILD, library, data, out], capture_output=True, text=True,
                         cwd=_ROOT)
    if run.returncode:
        raise RuntimeError(f"{library} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _trustworthiness(X, Y, sample):
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(X[sample], Y[sample], n_neighbors=10))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*",
                   default=[10000, 15625, 31250, 62500, 125000, 250000, 500000, 1000000])
    p.add_argument("--libraries", nargs="*", default=["minigrad", "openTSNE"])
    p.add_argument("--plot", default=None, help="a PNG path for the log-log plot (the JSON goes beside it)")
    args = p.parse_args(argv)
    rows = []
    print(f"{'points':>9s} {'library':>9s} {'time s':>8s} {'ratio':>6s} {'trust':>7s} {'peak GB':>8s} {'recall':>7s}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            data = os.path.join(tmp, f"x{n}.npy")
            _data(n, data)
            X = np.load(data)
            sample = np.sort(np.random.default_rng(0).choice(n, min(n, 2000), replace=False))
            row = {"n": n}
            for library in args.libraries:
                out = os.path.join(tmp, f"y_{library}_{n}.npy")
                result = _fit(library, data, out)
                result["trustworthiness"] = _trustworthiness(X, np.load(out), sample)
                row[library] = result
                ratio = row["openTSNE"]["wall"] / row["minigrad"]["wall"] \
                    if library == "openTSNE" and "minigrad" in row else None
                print(f"{n:9d} {library:>9s} {result['wall']:8.1f} {'' if ratio is None else f'{ratio:5.2f}x':>6s} "
                      f"{result['trustworthiness']:7.4f} {result['peak_gb']:8.2f} "
                      f"{'' if result.get('recall') is None else format(result['recall'], '.4f'):>7s}", flush=True)
            rows.append(row)
    for library in args.libraries:
        factors = [f"{b['n'] // 1000}k/{a['n'] // 1000}k {b[library]['wall'] / a[library]['wall']:.2f}"
                   for a, b in zip(rows, rows[1:]) if b["n"] == 2 * a["n"]]
        print(f"doubling factors, {library}: {', '.join(factors) or 'no doublings among the sizes'}")
    if args.plot:
        _plot(rows, args.libraries, args.plot)


def _plot(rows, libraries, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    n = np.array([r["n"] for r in rows], dtype=float)
    for library, style in zip(libraries, ("o-", "s--")):
        ax.loglog(n, [r[library]["wall"] for r in rows], style, label=f"{library} (FFT)")
    ax.loglog(n, rows[0][libraries[0]]["wall"] * n / n[0], ":", color="gray", label="linear in n")
    ax.set_xlabel("points (deformed digits, PCA to 50 dimensions)")
    ax.set_ylabel("seconds for the whole fit (750 iterations)")
    ax.set_title("t-SNE time against n, 2 threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
