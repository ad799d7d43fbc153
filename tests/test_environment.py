"""The process settings minigrad makes for speed: each only where the user has not decided."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, **env):
    ours = ("OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER", "GOMP_SPINCOUNT")
    full = {k: v for k, v in os.environ.items() if k not in ours}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


_TIMEOUT = ("import os, ctypes; from minigrad.kernels import process_settings as p; "
            "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), "
            "[ctypes.CDLL(q).openblas_thread_timeout() for q in p._loaded_openblas()])")


@pytest.mark.parametrize("first", [
    "import minigrad",  # before NumPy: OpenBLAS reads the variable as it loads
    "import numpy, minigrad",  # as users write it: OpenBLAS re-reads it and restarts its threads
    "import numpy, torch, minigrad",
    "import demos.gallery_models",  # the main job
])
def test_openblas_thread_timeout_takes_effect_in_any_import_order(first):
    env, timeouts = _run(f"{first}; import numpy; {_TIMEOUT}").split(" ", 1)
    assert env == "4"
    assert timeouts == "[4]"  # the timeout OpenBLAS itself now holds (numpy's one OpenBLAS)


def test_openblas_still_computes_after_its_threads_restart():
    code = ("import numpy as np, minigrad; a = np.random.default_rng(0).standard_normal((300, 300)); "
            "print(abs(a @ a - np.einsum('ij,jk->ik', a, a)).max() < 1e-10)")
    assert _run(code, OPENBLAS_NUM_THREADS="2") == "True"


def test_a_users_openblas_setting_is_kept():
    code = "import minigrad, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    assert _run(code, OPENBLAS_THREAD_TIMEOUT="12") == "12"


def test_glibc_settings_apply_once_and_respect_the_user():
    code = "import minigrad.kernels.process_settings as m; print(m.keep_freed_memory())"
    expected = "True" if sys.platform.startswith("linux") else "False"
    assert _run(code) == expected
    assert _run(code, MALLOC_TOP_PAD_="1") == "False"
    assert _run(code, MINIGRAD_KEEP_MALLOC="1") == "False"


_LAYER = ("import minigrad, numba, os, ctypes; print(numba.config.THREADING_LAYER, os.environ.get('GOMP_SPINCOUNT'), "
          "ctypes.CDLL('libgomp.so.1').omp_get_max_active_levels() if numba.config.THREADING_LAYER == 'omp' else '-')")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GNU OpenMP settings are checked on Linux")
def test_numba_gets_openmp_with_a_short_spin_and_no_nesting():
    # the spin count is given to libgomp while it loads and taken back: the variable is gone after
    # import, so nothing started later in the process (or by it) sees it
    layer, spin, levels = _run(_LAYER).split()
    assert layer in ("omp", "workqueue")  # workqueue only where no GNU OpenMP runtime loads
    assert spin == "None"
    if layer == "omp":
        assert levels == "1"  # Numba's pool switches nesting on; PyTorch sharing the runtime wants it off


def test_a_users_threading_choices_are_kept():
    assert _run(_LAYER.replace(", ctypes.CDLL('libgomp.so.1').omp_get_max_active_levels()"
                               " if numba.config.THREADING_LAYER == 'omp' else '-'", ""),
                NUMBA_THREADING_LAYER="workqueue").split() == ["workqueue", "None"]
    # a spin count the user exported stays theirs
    assert _run("import minigrad, os; print(os.environ['GOMP_SPINCOUNT'])", GOMP_SPINCOUNT="7") == "7"


def test_an_openmp_runtime_loaded_first_is_shared_with_nesting_off():
    # PyTorch imported first: its libgomp keeps its own spin, which no longer starves anything, as
    # minigrad's products run on Numba's threads (gemm.py); workqueue cost ~100 us a launch
    code = ("import ctypes; ctypes.CDLL('libgomp.so.1'); import numpy as np, minigrad, numba, os; "
            "from minigrad.kernels import gemm; a = np.ones((256, 600), np.float32); "
            "print(numba.config.THREADING_LAYER, ctypes.CDLL('libgomp.so.1').omp_get_max_active_levels(), "
            "os.environ.get('GOMP_SPINCOUNT'), float(gemm.matmul(a, a.T)[3, 7]), "
            "float(minigrad.relu(minigrad.Tensor(np.full(1 << 17, -2.0))).data.sum()))")
    try:
        import ctypes
        ctypes.CDLL("libgomp.so.1")
    except OSError:
        pytest.skip("no GNU OpenMP runtime on this machine")
    assert _run(code).split() == ["omp", "1", "None", "600.0", "0.0"]


@pytest.mark.parametrize("first", ["import numpy", "import faiss, scipy.linalg, numpy", "import scipy.linalg, faiss"])
def test_products_hold_numpys_own_openblas_whatever_came_first(first):
    """faiss-cpu and SciPy load OpenBLAS copies of their own, exporting the same names; minigrad's
    products must set (to one thread while they run) the copy NumPy's products call, else NumPy's
    keeps its threads and the results depend on the thread count."""
    code = (f"{first}; import numpy as np, threading; from minigrad.kernels import gemm; "
            "from threadpoolctl import threadpool_info, threadpool_limits; "
            "seen = []; "
            "a = np.random.default_rng(0).standard_normal((8, 6776)); b = np.ones((6776, 760)); "
            "runs = gemm._run_parts_compiled, gemm._run_serially\n"
            "def spy(run):\n"
            "    def during(*args):\n"
            "        seen.append([i['num_threads'] for i in threadpool_info() if i['filepath'] == gemm._NUMPY_OPENBLAS[0]])\n"
            "        return run(*args)\n"
            "    return during\n"
            "gemm._run_parts_compiled, gemm._run_serially = map(spy, runs); gemm.matmul(a, b)\n"
            "gemm._run_parts_compiled, gemm._run_serially = runs\n"
            "loaded = [i['filepath'] for i in threadpool_info() if i['internal_api'] == 'openblas']\n"
            "print(gemm._NUMPY_OPENBLAS[0].split('/')[-2], len(loaded), seen[0], "
            "[i['num_threads'] for i in threadpool_info() if i['filepath'] == gemm._NUMPY_OPENBLAS[0]])")
    lib_dir, n_loaded, during, after = _run(code, OPENBLAS_NUM_THREADS="2").split(" ", 3)
    assert lib_dir == "numpy.libs"
    assert int(n_loaded) >= (3 if "faiss" in first else 1)
    assert during == "[1]"  # NumPy's OpenBLAS on one thread inside minigrad's product
    assert after == "[2]"  # and given back its count after
