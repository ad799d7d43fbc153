"""Let OpenBLAS's idle threads go to sleep at once, so that they do not starve Numba's.

After every call OpenBLAS's worker threads keep spinning (with sched_yield) for up to 2^28
cycles, waiting for the next call. On two cores that takes the CPU away from the Numba
kernels that run between the GEMMs of a network (im2col, pooling): im2col right after a GEMM
measured 3-6 ms slower than alone, and a VGG-like forward+backward ~10% slower.
OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles, OpenBLAS's minimum) removes that. OpenBLAS reads the
variable once, when NumPy loads it, so this only works when minigrad is imported before NumPy
(or Numba, which imports NumPy); otherwise set the variable in the shell. A value the user set
is kept.
"""
import os
import sys


def let_blas_threads_sleep():
    """Set OPENBLAS_THREAD_TIMEOUT=4 unless set already; True if it can still take effect."""
    if "numpy" in sys.modules:
        return False
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    return True
