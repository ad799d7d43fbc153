"""Numba kernels for the memory-bound parts of convolution and pooling.

Numba's default OpenMP threading layer spins after each parallel region and starves
OpenBLAS's second thread (10x slower conv nets on 2 cores, see PERF-NOTES); the
``workqueue`` layer does not. We choose it unless the user set one explicitly.
"""
import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
