"""Numba kernels that split their loop over threads only when the work pays for the launch.

A ``prange`` loop runs on every thread of Numba's pool. Starting the other threads costs a few
microseconds when they are still spinning from the last region and ~100 us when they have gone to
sleep (a futex wake-up on these VMs), and a region ends only when its slowest thread does: on a
busy machine, that is when the scheduler next runs it. Kernels of small networks touch a few
thousand elements and take microseconds, so two threads made a 3x12x12 network's training step
slower, not faster: 0.6 ms on one thread, 0.8-8.8 ms on two (medians of 50 steps on a loaded
2-core machine; torch 0.5-0.8 ms). ``parallel_kernel`` compiles the kernel once (``parallel=True``)
and runs it on one thread, in the calling thread, when its array arguments hold fewer than
``SERIAL_BELOW`` elements in all. The loop and its split are the same either way (no kernel sums
across its parallel iterations in a thread-dependent order), so the results are identical.
"""
import functools

import numba
import numba.np.ufunc.parallel as _numba_parallel
import numpy as np
from numba import njit

SERIAL_BELOW = 1 << 16  # elements of all array arguments of one call (input and output)

_get_set = None  # (get, set) of this thread's Numba thread count, found on first use


def get_threads():
    """This thread's Numba thread count, as ``numba.get_num_threads()``."""
    return (_get_set or _thread_functions())[0]()


def set_threads(n):
    """Set this thread's Numba thread count (1 <= n <= NUMBA_NUM_THREADS), as ``numba.set_num_threads``."""
    (_get_set or _thread_functions())[1](n)


def _thread_functions():
    """The threading layer's own two C functions behind numba.get/set_num_threads, once it has been
    launched. Every small kernel sets the count to 1 and back: through the public functions (which
    check the layer is launched and validate n on every call) that cost ~3 us a kernel, through
    these ~0.7 us, and a small network's step runs a few dozen kernels. Where a Numba release no
    longer has them, the public functions."""
    global _get_set
    numba.get_num_threads()  # launches the layer, which sets the two below
    get, put = getattr(_numba_parallel, "_get_num_threads", None), getattr(_numba_parallel, "_set_num_threads", None)
    _get_set = (get, put) if callable(get) and callable(put) else (numba.get_num_threads, numba.set_num_threads)
    return _get_set


def parallel_kernel(**options):
    """Decorator: ``numba.njit(parallel=True, cache=True, **options)``, run serially on small work.

    The returned function takes the kernel's arguments; ``.compiled`` is the Numba dispatcher.
    """
    def wrap(f):
        compiled = njit(parallel=True, cache=True, **options)(f)

        @functools.wraps(f)
        def run(*args):
            work = 0
            for a in args:
                if type(a) is np.ndarray:
                    work += a.size
            if work >= SERIAL_BELOW:
                return compiled(*args)
            threads = get_threads()
            if threads == 1:
                return compiled(*args)
            set_threads(1)
            try:
                return compiled(*args)
            finally:
                set_threads(threads)

        run.compiled = compiled
        return run
    return wrap
