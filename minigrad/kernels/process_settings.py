"""Process settings that make mixed Numba + BLAS pipelines fast on small machines.

Each setting applies only where the user has not decided (an environment variable they set
wins), and each was measured on the 2-core VMs this project is developed on (PERF-NOTES.md):

1. OpenBLAS's idle threads spin (sched_yield) for up to 2^28 cycles after every call, taking
   the CPU from the Numba kernels that run between a network's GEMMs (im2col right after a GEMM
   measured 3-6 ms slower; a VGG-like step ~10%). OPENBLAS_THREAD_TIMEOUT=4 lets them sleep at
   once. OpenBLAS reads it when NumPy loads it, so this module imports nothing that imports
   NumPy, and ``minigrad`` must be imported before NumPy (or the variable exported).
2. glibc hands large temporaries back to the OS after every op; each page fault costs ~2 us
   here (LeNet's forward 7.0 -> 2.1 ms; 5,400 faults and 77 ms of system time per VGG-like step
   at batch 64 above glibc's 32 MiB mmap cap). mallopt(3) applies the equivalent of
   MALLOC_MMAP_MAX_=0, MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=8 GiB,
   MALLOC_TOP_PAD_=256 MiB. MINIGRAD_KEEP_MALLOC=1 leaves the allocator alone.
3. Numba's parallel kernels need a thread pool that wakes fast and then gets out of the way.
   Waking a sleeping thread costs ~100 us in these VMs: the ``workqueue`` layer pays it on
   every kernel launch (140 us even for an 8K-element ReLU; a 1x64x64 style-transfer step ran
   ~20 such launches). GNU OpenMP's threads instead spin after each region, by default for
   ~300,000 iterations (milliseconds), which starves OpenBLAS's second thread (conv nets up
   to 10x slower on 2 cores). A short spin is both: GOMP_SPINCOUNT=3000 (~tens of us) keeps
   back-to-back launches at ~3 us and lets the threads sleep before the next GEMM needs the
   core (a style-transfer step 1.6-2.0x -> 1.1-1.5x torch, torch timed in its own process by
   ``benchmarks/side_by_side.py``). The variable is set only while Numba's OpenMP pool loads
   libgomp (which reads it then) and removed again. When an OpenMP
   runtime is loaded already (PyTorch imported first: the loader shares libgomp by name), its
   spin cannot be changed, so ``workqueue`` is kept, as it is without a loadable OpenMP pool.
   Numba switches nested parallelism on when its pool starts; that made PyTorch's float64
   convolutions sharing the runtime 2x slower, so the pool is started here and nesting is
   switched off again (Numba's kernels do not nest). GNU OpenMP is not fork-safe: a process
   forked after ``import minigrad`` must not run a parallel kernel (use the ``spawn`` start
   method, or NUMBA_THREADING_LAYER=workqueue).
"""
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -2, -3, -4
freed_memory_kept = False  # set by keep_freed_memory: glibc now reuses freed blocks without faults


def let_blas_threads_sleep():
    """Set OPENBLAS_THREAD_TIMEOUT=4 unless set already; True if it can still take effect."""
    if "numpy" in sys.modules:
        return False
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    return True


def keep_freed_memory():
    """Apply the glibc malloc settings (once per process, Linux only); True if applied."""
    if os.environ.get("MINIGRAD_KEEP_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    tuned = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
    if any(k in os.environ for k in tuned):
        return False  # the user tuned glibc already
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    global freed_memory_kept
    ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    ok &= mallopt(_M_MMAP_MAX, 0)
    ok &= mallopt(_M_TRIM_THRESHOLD, 8 << 30 if sys.maxsize > 2**32 else 1 << 30)
    ok &= mallopt(_M_TOP_PAD, 256 << 20)
    freed_memory_kept = bool(ok)
    return freed_memory_kept


def choose_numba_threading_layer(spin_count="3000"):
    """Select Numba's OpenMP layer with a short spin (else ``workqueue``) unless
    NUMBA_THREADING_LAYER is set; the layer chosen, or None when the user chose."""
    if "NUMBA_THREADING_LAYER" in os.environ:
        return None
    import numba  # here, not at the top: this module must load before NumPy does

    numba.config.THREADING_LAYER = layer = "workqueue"
    if _openmp_loaded():
        return layer
    ours = "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = spin_count
    try:
        from numba.np.ufunc import omppool  # noqa: F401  loads libgomp, which reads the variable now
    except ImportError:
        return layer
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]
    numba.config.THREADING_LAYER = "omp"
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # starts the pool (and nesting with it)
    try:
        ctypes.CDLL("libgomp.so.1").omp_set_max_active_levels(1)
    except (OSError, AttributeError):
        pass
    return "omp"


def _openmp_loaded():
    """Whether a GNU OpenMP runtime is in the process already (dlopen with RTLD_NOLOAD)."""
    try:
        ctypes.CDLL("libgomp.so.1", mode=getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_LAZY)
    except OSError:
        return False
    return True
