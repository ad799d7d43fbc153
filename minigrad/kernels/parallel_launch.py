"""Numba kernels that split their loop over threads only when the work pays for the launch.

A ``prange`` loop runs on every thread of Numba's pool. Starting the other threads costs a few
microseconds when they are still spinning from the last region and ~100 us when they have gone to
sleep (a futex wake-up on these VMs), and a region ends only when its slowest thread does: on a
busy machine, that is when the scheduler next runs it. Kernels of small networks touch a few
thousand elements and take microseconds, so two threads made a 3x12x12 network's training step
slower, not faster: 0.6 ms on one thread, 0.8-8.8 ms on two (medians of 50 steps on a loaded
2-core machine; torch 0.5-0.8 ms). ``parallel_kernel`` compiles the kernel twice, each on its
first call: with ``parallel=True`` for calls whose array arguments hold ``SERIAL_BELOW`` elements
or more in all, and as a plain serial function (``prange`` is then ``range``) for smaller ones.
A parallel region costs ~1.7 us to enter even on one thread (the thread count set to 1 and back,
the scheduler's set-up: 1.9 us against 0.3 us for a 500-element loop), and a batch-1 network's
step calls a few dozen kernels. Which one runs depends on the sizes alone, never on the thread
count, and no kernel sums across its parallel iterations in a thread-dependent order, so a
result is the same for any number of threads.
"""
import functools
import types

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
    launched. ``gemm.matmul`` sets the count for each product that runs its parts in Numba's pool
    and back: through the public functions (which check the layer is launched and validate n on
    every call) that cost ~3 us a call, through these ~0.7 us, and a small network's step runs a
    few dozen products. Where a Numba release no longer has them, the public functions."""
    global _get_set
    numba.get_num_threads()  # launches the layer, which sets the two below
    get, put = getattr(_numba_parallel, "_get_num_threads", None), getattr(_numba_parallel, "_set_num_threads", None)
    _get_set = (get, put) if callable(get) and callable(put) else (numba.get_num_threads, numba.set_num_threads)
    return _get_set


def _renamed(f, name):
    """A copy of function f under another name. Numba's on-disk cache keys a compiled function by its
    name, line and bytecode, not by ``parallel``: the serial and parallel compilations of one
    function would load each other's code."""
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__ = f.__qualname__[:-len(f.__name__)] + name, f.__module__
    return g


def parallel_kernel(**options):
    """Decorator: ``numba.njit(parallel=True, cache=True, **options)`` for large work, the same
    function compiled without ``parallel`` for small work (each compiled on its first call).

    The returned function takes the kernel's arguments; ``.compiled`` and ``.serial`` are the two
    Numba dispatchers.
    """
    def wrap(f):
        compiled = njit(parallel=True, cache=True, **options)(f)
        serial = njit(cache=True, **options)(_renamed(f, f.__name__ + "_serial"))

        @functools.wraps(f)
        def run(*args):
            work = 0
            for a in args:
                if type(a) is np.ndarray:
                    work += a.size
            return compiled(*args) if work >= SERIAL_BELOW else serial(*args)

        run.compiled, run.serial = compiled, serial
        return run
    return wrap
