"""Run every attribution method of ``methods`` on one thread count, for tests/test_method_determinism.py.

    python tests/determinism_probe.py OUT.npz

The thread counts are the process's own (NUMBA_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
set by the caller); the probe first proves they took effect: Numba reports the count and a parallel
region runs on that many thread ids, and threadpoolctl finds NumPy's OpenBLAS with that many threads
(OpenBLAS caps the count at the machine's cores). Then each method of ``methods.__all__`` that takes
``(model, x, target)`` (``method`` first for the wrappers smoothgrad, sensitivity_max and
model_randomization) runs once per dtype, float32 and float64, with its seeds fixed, followed by a
few steps of the image-optimisation loop. Every result is saved to OUT.npz under
``"<name>|<dtype>|<part>"`` and one line per (name, dtype) is printed: ``name dtype sha256`` of its
parts (dtype, shape and bytes), or ``name dtype ERROR message``.

The network is sized so that the parallel paths really run: every kernel call of its
convolutions, depthwise convolution, ReLUs and max-pools touches at least 4 x 64 x 16 x 16 =
65,536 elements, the size below which minigrad's Numba kernels run on one thread
(``minigrad/kernels/parallel_launch.py``), and its GEMMs have inner dimensions above 256, where
OpenBLAS's single-threaded and threaded drivers split the sum differently: the 5x5 convolution's
forward (K = 64 x 25 + 1), the input gradient of the convolution to 320 channels (K = 320) and the
classifier (K = 320). Where minigrad runs its products on threads of its own
(``minigrad/kernels/gemm.py``), the probe also checks that they ran on OpenBLAS's count.
"""
import hashlib
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the tree this file is in, also when it is not the installed one

import minigrad  # noqa: E402, F401  before NumPy, as a user's process does (process settings)
import numba  # noqa: E402
import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402

import layers as L  # noqa: E402
import methods  # noqa: E402
from minigrad.kernels.parallel_launch import SERIAL_BELOW  # noqa: E402

DTYPES = (np.float32, np.float64)
BATCH, SIZE, CLASSES = 4, 32, 10
WRAPPERS = ("smoothgrad", "sensitivity_max", "model_randomization")  # take an attribution method first
# options beyond the required arguments: few steps and samples (every ``seed`` is 0)
OPTIONS = {
    "occlusion": dict(stride=8, batch_size=16),
    "smoothgrad": dict(n_samples=3),
    "gradient_shap": dict(n_samples=3),
    "sensitivity_max": dict(n_perturb_samples=2),
    "infidelity": dict(n_perturb_samples=2),
    "road": dict(percentiles=(10, 50)),
    "fooling_image": dict(max_steps=2, shrink=False),
    "shapley_value_sampling": dict(n_samples=2),
    "kernel_shap": dict(n_samples=8),
    "lime": dict(n_samples=8),
}
# the perturbation methods take the image's four quadrants as their features (shapley_values
# tries every order of the features)
QUADRANTS = np.repeat(np.repeat(np.arange(4).reshape(2, 2), SIZE // 2, axis=0), SIZE // 2, axis=1)
FEATURE_MASK = ("feature_ablation", "shapley_values", "shapley_value_sampling", "kernel_shap", "lime")
FIRST_LAYER = ("scorecam",)  # a forward pass of the whole network per channel: the first ReLU's 32, not 320


def prove_threads(threads, blas_threads):
    """Raise AssertionError unless Numba runs ``threads`` threads and NumPy's OpenBLAS
    min(blas_threads, cores); returns the OpenBLAS thread counts threadpoolctl found."""
    assert numba.config.NUMBA_NUM_THREADS == threads and numba.get_num_threads() == threads, \
        ("Numba threads", numba.config.NUMBA_NUM_THREADS, numba.get_num_threads())
    seen = set(thread_ids(64 * threads).tolist())
    assert seen == set(range(threads)), ("Numba's parallel region ran on", seen)
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    assert blas and set(blas) == {min(blas_threads, os.cpu_count())}, ("OpenBLAS threads", blas)
    return blas


def prove_gemm_threads(blas_threads):
    """Where minigrad computes its products on threads of its own (``minigrad/kernels/gemm.py``:
    Numba's, as many as OpenBLAS and Numba both allow; else a pool as large as OpenBLAS's count),
    raise AssertionError unless that many ran."""
    try:
        from minigrad.kernels import gemm
    except ImportError:
        return
    if getattr(gemm, "_CBLAS", False):  # the products run on Numba's threads, as many as both allow
        expected = min(blas_threads, numba.get_num_threads(), os.cpu_count())
        assert len(gemm.THREADS_SEEN) == expected, ("product threads", gemm.THREADS_SEEN)
        return
    pool = getattr(gemm, "_POOL", None)
    if pool is not None:
        assert len(pool.workers) + 1 == min(blas_threads, os.cpu_count()), ("product threads", len(pool.workers) + 1)


@numba.njit(parallel=True, cache=False)
def thread_ids(n):
    """The Numba thread id that ran each of n slow iterations: all threads show up in a parallel region."""
    ids = np.empty(n, dtype=np.int64)
    for i in numba.prange(n):
        s = 0.0
        for j in range(200_000):  # long enough that no thread takes every iteration
            s += np.sqrt(j + i)
        ids[i] = numba.get_thread_id() + (s < 0)
    return ids


def network(dtype):
    """conv 3->32 (3x3, im2col), conv 32->64 (3x3, Winograd), max-pool, conv 64->64 (5x5, im2col),
    depthwise conv 64->64 (3x3, groups=64, direct loops), max-pool, conv 64->320 (3x3, Winograd),
    each conv followed by ReLU, then global average pooling and a Linear 320->10:
    (N, 3, 32, 32) -> (N, 10), a network CAM accepts."""
    rng = np.random.default_rng(0)
    return L.Sequential(
        L.Conv2d(3, 32, 3, padding=1, rng=rng, dtype=dtype), L.ReLU(),
        L.Conv2d(32, 64, 3, padding=1, rng=rng, dtype=dtype), L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(64, 64, 5, padding=2, rng=rng, dtype=dtype), L.ReLU(),
        L.Conv2d(64, 64, 3, padding=1, groups=64, rng=rng, dtype=dtype), L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(64, 320, 3, padding=1, rng=rng, dtype=dtype), L.ReLU(),
        L.GlobalAvgPool2d(), L.Linear(320, CLASSES, rng=rng, dtype=dtype))


def attribution_names():
    """The names in ``methods.__all__`` of functions called ``(model, x, target, ...)`` or, for
    the wrappers, ``(method, model, x, target, ...)``."""
    names = []
    for name in methods.__all__:
        params = list(inspect.signature(getattr(methods, name)).parameters)
        if params[:3] == ["model", "x", "target"] or params[:4] == ["method", "model", "x", "target"]:
            names.append(name)
    return names


def _call(name, dtype):
    """One call of method ``name`` on a fresh network of ``dtype``: its required arguments filled
    by name from the values below, n_steps=4 and seed=0 where it has them, then OPTIONS."""
    rng = np.random.default_rng(1)
    model = network(dtype)
    x = rng.uniform(0, 1, (BATCH, 3, SIZE, SIZE)).astype(dtype)
    layer = model[-3]  # the last ReLU: (N, 320, 8, 8)
    fill = dict(model=model, x=x, target=np.arange(BATCH) % CLASSES, layer=layer, neuron=(1, 2, 3),
                baselines=rng.uniform(0, 1, (2, 3, SIZE, SIZE)).astype(dtype), window=16,
                attributions=rng.standard_normal(x.shape).astype(dtype), method=methods.saliency,
                eps=0.01, step=0.01, steps=2)
    f = getattr(methods, name)
    params = inspect.signature(f).parameters.values()
    required = [p.name for p in params
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    missing = [p for p in required if p not in fill]
    if missing:
        raise TypeError(f"no value for required argument(s) {missing}: add them to the probe")
    kwargs = {p: fill[p] for p in required}
    names = {p.name for p in params}
    if "n_steps" in names:
        kwargs["n_steps"] = 4
    if "seed" in names:  # several default to None: fresh entropy
        kwargs["seed"] = 0
    kwargs.update(OPTIONS.get(name, {}))
    if name in FEATURE_MASK:
        kwargs["feature_mask"] = QUADRANTS
    if name in FIRST_LAYER:
        kwargs["layer"] = model[1]
    if name in WRAPPERS:  # method and model are positional-only there
        return f(kwargs.pop("method"), kwargs.pop("model"), **kwargs)
    return f(**kwargs)


def _image_optimization(dtype):
    """A few steps of the shared loop: a class model (Simonyan's preset, normalised ascent) and a
    unit visualisation (lucid's preset: decorrelated Fourier image, seeded random transforms, Adam;
    a batch of 12 images, whose parameters and Adam's moments hold 78,336 elements: its update
    kernel goes parallel)."""
    model = network(dtype)
    img, hist = methods.class_model_visualization(model, 1, (BATCH, 3, SIZE, SIZE), seed=0, steps=3,
                                                  progress_bar=False)
    unit, hist_u = methods.unit_visualization(model, model[-3], 5, (3, SIZE, SIZE), batch=12, seed=0, steps=3,
                                              progress_bar=False)
    return {"class_model_visualization": (img, hist), "unit_visualization": (unit, hist_u)}


def _parts(result, prefix=""):
    """Flatten a result (array, number, tuple/list, dict) into {part name: array}."""
    if isinstance(result, dict):
        out = {}
        for k in sorted(result):
            out.update(_parts(result[k], f"{prefix}{k}."))
        return out
    if isinstance(result, (tuple, list)) and not all(np.isscalar(r) for r in result):
        out = {}
        for i, r in enumerate(result):
            out.update(_parts(r, f"{prefix}{i}."))
        return out
    part = np.asarray(result)
    if part.dtype == object:  # its bytes would be pointers
        raise TypeError(f"{prefix}: a result part that is not numbers: {type(result).__name__}")
    return {prefix.rstrip(".") or "0": part}


def digest(parts):
    """sha256 of the parts' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(parts):
        a = np.ascontiguousarray(parts[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def main(out):
    threads = int(os.environ["NUMBA_NUM_THREADS"])
    blas_threads = int(os.environ["OPENBLAS_NUM_THREADS"])
    prove_threads(threads, blas_threads)
    assert BATCH * 64 * (SIZE // 2) ** 2 >= SERIAL_BELOW  # the smallest activation's kernels go parallel
    saved, lines = {}, []
    for dtype in DTYPES:
        dname = np.dtype(dtype).name
        results = {}
        for name in attribution_names():
            try:
                results[name] = _call(name, dtype)
            except Exception as e:  # one method's failure is reported as its own, the others still run
                results[name] = e
        results.update(_image_optimization(dtype))
        for name, result in results.items():
            if isinstance(result, Exception):
                lines.append(f"{name} {dname} ERROR {type(result).__name__}: {result}".replace("\n", " "))
                continue
            parts = _parts(result)
            saved.update({f"{name}|{dname}|{k}": v for k, v in parts.items()})
            lines.append(f"{name} {dname} {digest(parts)}")
    prove_threads(threads, blas_threads)  # still so: no method changed the counts
    prove_gemm_threads(blas_threads)
    np.savez(out, **saved)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
