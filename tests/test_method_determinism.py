"""Issue 30: every attribution method gives the same bits on any thread count.

One process per thread count (tests/determinism_probe.py, every method and dtype in it, the way
tests/test_thread_determinism.py runs fit, conv2d and t-SNE) on a network big enough that
minigrad's Numba kernels split their loops over threads and OpenBLAS's GEMMs have inner
dimensions above 256; each probe proves its threads ran. The parent asks for the same sha256 of
every (method, dtype) from every count, and when two differ prints how far apart their arrays are.
With NumPy's own products (before ``minigrad/kernels/gemm.py``) 26 of the 43 methods and both
image optimisations differed between OPENBLAS_NUM_THREADS=1 and 2, by up to 1e-5 relative in
float32 and 3e-14 in float64 (the 5x5 convolution's forward, K = 1601); the methods that read
only input gradients did not, their backward products being shorter.

Two settings of OpenBLAS's threads: ``alike`` sets NUMBA_NUM_THREADS, OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS all to the count, as a user's machine does; ``blas_held_at_2`` holds
OpenBLAS at 2 threads and varies only Numba's (and OpenMP's), so a difference there comes from a
Numba kernel, not from OpenBLAS's drivers.

``python tests/test_method_determinism.py`` prints the table of every (method, dtype, counts)
that differs, for both settings.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from determinism_probe import DTYPES, attribution_names
from test_thread_determinism import ROOT, THREADS

PROBE = os.path.join(ROOT, "tests", "determinism_probe.py")
BLAS = {"alike": lambda t: t, "blas_held_at_2": lambda t: 2}  # setting -> OpenBLAS threads for t threads
IMAGE_OPTIMIZATION = ("class_model_visualization", "unit_visualization")
# the methods issue 30 names, which the probe must keep finding in methods.__all__
NAMED_IN_ISSUE = {"saliency", "gradient", "input_x_gradient", "guided_backprop", "deconvnet", "integrated_gradients",
                  "smoothgrad", "occlusion", "gradcam", "gradcam_plus_plus", "guided_gradcam", "cam", "lrp",
                  "layer_lrp", "excitation_backprop", "deeplift", "deeplift_shap", "gradient_shap",
                  "layer_conductance", "internal_influence", "neuron_conductance", "layer_integrated_gradients"}
NAMES = attribution_names() + list(IMAGE_OPTIMIZATION)


def run_probe(threads, blas_threads, out):
    """Run the probe on ``threads`` Numba/OpenMP threads and ``blas_threads`` OpenBLAS threads;
    ({(name, dtype): sha256 or 'ERROR ...'}, {"name|dtype|part": array})."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(blas_threads))
    run = subprocess.run([sys.executable, PROBE, str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"{threads} threads, OpenBLAS {blas_threads}:\n{run.stdout}\n{run.stderr}"
    digests = {}
    for line in run.stdout.splitlines():
        name, dtype, digest = line.split(" ", 2)
        digests[name, dtype] = digest
    with np.load(out) as f:
        return digests, dict(f)


def differences(probes, name, dtype):
    """[(threads a, threads b, part, max |a - b|, max |a - b| / max |a|)] for every thread count
    whose (name, dtype) digest differs from the first count's, one row per part that differs."""
    base_digests, base = probes[THREADS[0]]
    rows = []
    for t in THREADS[1:]:
        digests, arrays = probes[t]
        if digests[name, dtype] == base_digests[name, dtype]:
            continue
        prefix = f"{name}|{dtype}|"
        parts = sorted(k for k in base if k.startswith(prefix))
        if parts != sorted(k for k in arrays if k.startswith(prefix)):
            rows.append((THREADS[0], t, "(parts differ)", np.inf, np.inf))
            continue
        for k in parts:
            a, b = base[k].astype(np.float64), arrays[k].astype(np.float64)
            if a.shape != b.shape:
                rows.append((THREADS[0], t, k[len(prefix):], np.inf, np.inf))
            elif not np.array_equal(a, b, equal_nan=True):
                gap = float(np.nanmax(np.abs(a - b)))
                scale = float(np.nanmax(np.abs(a), initial=0.0))
                rows.append((THREADS[0], t, k[len(prefix):], gap, gap / scale if scale else np.inf))
        if not any(r[1] == t for r in rows):  # equal values in other bits: -0.0 for 0.0, another NaN
            rows.append((THREADS[0], t, "(equal values, other bits)", 0.0, 0.0))
    return rows


def _probe_all(tmp, setting, done):
    """{threads: probe result} for one setting; ``done`` caches probes by (threads, OpenBLAS threads),
    so the 2-thread probe serves both settings."""
    for t in THREADS:
        key = (t, BLAS[setting](t))
        if key not in done:
            done[key] = run_probe(*key, tmp / f"threads{key[0]}_blas{key[1]}.npz")
    return {t: done[t, BLAS[setting](t)] for t in THREADS}


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """setting -> {threads: probe result}, each probe run when first asked for."""
    tmp, done = tmp_path_factory.mktemp("method_threads"), {}
    return lambda setting: _probe_all(tmp, setting, done)


def test_the_probe_finds_every_method_of_the_issue():
    assert NAMED_IN_ISSUE <= set(NAMES), sorted(NAMED_IN_ISSUE - set(NAMES))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("setting", list(BLAS))
def test_the_same_bits_for_any_thread_count(probes, setting, name):
    results = probes(setting)
    failures = []
    for dtype in (np.dtype(d).name for d in DTYPES):
        errors = {t: results[t][0][name, dtype] for t in THREADS if results[t][0][name, dtype].startswith("ERROR")}
        assert not errors, f"{name} {dtype}: {errors}"
        failures += [f"{dtype} {a} vs {b} threads, {part}: max abs {gap:.3g}, max rel {rel:.3g}"
                     for a, b, part, gap, rel in differences(results, name, dtype)]
    assert not failures, f"{name} ({setting}) differs:\n" + "\n".join(failures)


if __name__ == "__main__":
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        done = {}
        for setting in BLAS:
            results = _probe_all(pathlib.Path(d), setting, done)
            print(f"\n{setting}: OpenBLAS threads {[BLAS[setting](t) for t in THREADS]} for Numba threads {THREADS}")
            print(f"{'method':28s} {'dtype':8s} {'threads':8s} {'worst part':24s} {'max abs':>10s} {'max rel':>10s}")
            for name in NAMES:
                for dtype in (np.dtype(x).name for x in DTYPES):
                    rows = differences(results, name, dtype)
                    for a, b in sorted({(r[0], r[1]) for r in rows}):
                        worst = max((r for r in rows if r[:2] == (a, b)), key=lambda r: r[4])
                        print(f"{name:28s} {dtype:8s} {a}v{b:<6d} {worst[2]:24s} {worst[3]:10.3g} {worst[4]:10.3g}")
