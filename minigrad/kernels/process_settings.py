"""Process settings that make mixed Numba + BLAS pipelines fast on small machines.

Each setting applies only where the user has not decided (an environment variable they set
wins), and each was measured on the 2-core VMs this project is developed on (PERF-NOTES.md):

1. OpenBLAS's idle threads spin (sched_yield) for up to 2^28 cycles after every call, taking
   the CPU from the Numba kernels that run between a network's GEMMs (im2col right after a GEMM
   measured 3-6 ms slower; a VGG-like step ~10%). OPENBLAS_THREAD_TIMEOUT=4 lets them sleep at
   once. OpenBLAS reads it when NumPy loads it; users import NumPy first (a VGG-like step measured
   42-45 ms that way, 34-36 ms with minigrad first), so when OpenBLAS is loaded already its
   exported ``openblas_read_env`` reads the variable again and its thread pool is restarted
   (``blas_thread_shutdown_``, ``blas_thread_init``), which is where the timeout takes effect.
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
   spin cannot be changed; ``omp`` is chosen all the same, because minigrad's products run on
   Numba's own threads (``gemm.py``), so no other pool waits while they spin. (``workqueue``,
   chosen here until then, cost ~100 us a launch: ResNet-18's forward pass at batch 1 took
   36-57 ms with PyTorch imported first against 30-37 ms without; now 30 ms either way.)
   ``workqueue`` is kept where no OpenMP pool loads.
   Numba switches nested parallelism on when its pool starts; that made PyTorch's float64
   convolutions sharing the runtime 2x slower, so the pool is started here and nesting is
   switched off again (Numba's kernels do not nest).
4. GNU OpenMP is not fork-safe. A child forked after its pool started (``multiprocessing``'s
   default start method on Linux, DataLoader-style workers) finds the pool's bookkeeping but not
   its threads: a parallel region with two threads waits for them forever, and Numba therefore
   kills such a child (SIGTERM, "fork() called from a process already using GNU OpenMP") on its
   first ``parallel=True`` kernel, whatever ``numba.set_num_threads`` says. With the ``omp``
   layer chosen here, an at-fork handler (``run_parallel_kernels_serially``) makes every Numba
   ``parallel=True`` function in the child, minigrad's, t-SNE's and the user's, compile again as
   plain serial code (loops from the same source; its own on-disk cache files, ``*__serial-*``)
   before it runs. The child never enters OpenMP, its results equal the parent's bit for bit
   (``numba.get_num_threads`` keeps the parent's count, so work split by it is split alike;
   tests/test_fork.py), and the parent is untouched: the handler runs in children only. A forked
   worker costs a ~20 ms scan of the heap for compiled functions, then one load (or, the first
   time, one compilation) of each serial kernel it calls. ``workqueue``, which Numba restarts
   after fork, keeps children parallel: NUMBA_THREADING_LAYER=workqueue opts out of 3 and 4.
"""
import ctypes
import ctypes.util
import os
import sys
import types

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -2, -3, -4
freed_memory_kept = False  # set by keep_freed_memory: glibc now reuses freed blocks without faults


def let_blas_threads_sleep():
    """Set OPENBLAS_THREAD_TIMEOUT=4 unless the user set it; True if it took effect.

    Before NumPy loads, setting the variable is enough. After (the usual ``import numpy`` first),
    every OpenBLAS already in the process re-reads its environment and restarts its idle threads
    with the new timeout; nothing else about it changes (thread count, results).
    """
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
    if "numpy" not in sys.modules:
        return True
    restarted = False
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_LAZY)
            read_env, shutdown, init = lib.openblas_read_env, lib.blas_thread_shutdown_, lib.blas_thread_init
        except (OSError, AttributeError):
            continue  # not an OpenBLAS that exports them: it keeps its spin
        read_env()
        shutdown()  # no BLAS call runs during an import, so the pool is idle
        init()
        restarted = True
    return restarted


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _numpy_openblas():
    """(path, ``openblas_set_num_threads_local``) of the OpenBLAS NumPy's own products call, or None.

    Other packages bring OpenBLAS copies of their own (SciPy's, faiss-cpu's, each exporting the
    same names); which one comes first in /proc/self/maps depends on the import order. Looking the
    symbol up through NumPy's extension module finds the copy NumPy links: dlsym on a library's
    handle searches that library and its dependencies only.
    """
    try:
        from numpy._core import _multiarray_umath as ext
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as ext
    try:
        fn = ctypes.CDLL(ext.__file__, mode=getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_LAZY).openblas_set_num_threads_local
        dladdr = ctypes.CDLL(None).dladdr
    except (OSError, AttributeError):
        return None  # MKL, Accelerate or an old OpenBLAS: NumPy's BLAS decides its own threads
    info = _DlInfo()
    if not dladdr(ctypes.cast(fn, ctypes.c_void_p), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(info.dli_fname.decode()), fn


def _loaded_openblas():
    """Paths of the OpenBLAS libraries mapped into this process (Linux's /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if "openblas" in os.path.basename(p).lower() and ".so" in p)


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
    NUMBA_THREADING_LAYER is set; the layer chosen, or None when the user chose. With ``omp``,
    forked children run Numba's parallel functions serially (``run_parallel_kernels_serially``)."""
    if "NUMBA_THREADING_LAYER" in os.environ:
        return None
    import numba  # here, not at the top: this module must load before NumPy does

    numba.config.THREADING_LAYER = layer = "workqueue"
    # with an OpenMP runtime loaded already (PyTorch first) its spin stays PyTorch's: harmless now
    # that minigrad's products run on these same threads (gemm.py), so none waits for the spin
    ours = "GOMP_SPINCOUNT" not in os.environ and not _openmp_loaded()
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
    global _fork_handler_registered
    if hasattr(os, "register_at_fork") and not _fork_handler_registered:
        os.register_at_fork(after_in_child=run_parallel_kernels_serially)
        _fork_handler_registered = True
    return "omp"


_fork_handler_registered = False
forked_serial = False  # set in a forked child: Numba's parallel=True functions now compile serially


def run_parallel_kernels_serially():
    """Make every Numba ``parallel=True`` function in this process compile and run as serial code.

    Called after fork in the child (item 4 of the module's docstring): the compiled parallel code
    is dropped, the option switched off, and the function recompiles (or loads its serial build
    from its own cache files) at its next call; functions compiled later are switched as they
    compile. The serial loops read the same source, and ``numba.get_num_threads()`` is unchanged.
    """
    global forked_serial
    import gc

    from numba.core import caching, dispatcher

    cls = dispatcher.Dispatcher
    if not getattr(cls.compile, "_serial_after_fork", False):
        parallel_compile = cls.compile

        def compile(self, sig):
            if self.targetoptions.get("parallel"):
                _serial(self, caching)
            return parallel_compile(self, sig)

        compile._serial_after_fork = True
        cls.compile = compile
    for f in gc.get_objects():
        if isinstance(f, cls) and f.targetoptions.get("parallel"):
            _serial(f, caching)
    forked_serial = True


def _serial(f, caching):
    """Switch one dispatcher ``f`` to serial code, with cache files of its own."""
    f.targetoptions["parallel"] = False
    f._reset_overloads()
    if isinstance(f._cache, caching.FunctionCache):
        # Numba's cache index does not tell serial from parallel builds: a differently named twin
        # of the function gets files of its own (same code, module and globals)
        py = f.py_func
        twin = types.FunctionType(py.__code__, py.__globals__, py.__name__, py.__defaults__, py.__closure__)
        twin.__qualname__ = py.__qualname__ + "__serial"
        twin.__kwdefaults__ = py.__kwdefaults__
        f._cache = caching.FunctionCache(twin)


def _openmp_loaded():
    """Whether a GNU OpenMP runtime is in the process already (dlopen with RTLD_NOLOAD)."""
    try:
        ctypes.CDLL("libgomp.so.1", mode=getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_LAZY)
    except OSError:
        return False
    return True
