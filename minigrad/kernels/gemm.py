"""Matrix products whose result does not depend on the number of threads.

OpenBLAS computes a product differently on one thread and on several: its single-threaded driver
cuts the inner dimension K at other points than the threaded one, and some shapes take a small-
matrix kernel on one thread only. ``a @ b`` with OPENBLAS_NUM_THREADS=1 and =2 differed in float32
from K = 513 on, and in float64 for some shapes from K = 64 on (about 1e-7 and 1e-16 relative),
so a network's weights after training, or a saliency map, changed with the thread count.

``matmul`` therefore never asks OpenBLAS for its threads. It cuts the product into parts fixed
by the shapes alone (samples of a batch; else blocks of output rows or columns, whichever side is
longer), computes each part with OpenBLAS's single-threaded path, and runs the parts on minigrad's
own threads: as many as OpenBLAS is allowed (OPENBLAS_NUM_THREADS, ``threadpoolctl``), the caller
being one of them. Every element is computed by the same code on any thread count, so the results
are bit-identical; the parallel split follows the shape, not a list of known layers. OpenBLAS's own
idle threads then never wake for minigrad's products, which also removes their spinning from
between the Numba kernels.

OpenBLAS's thread count is one number for the whole process (``openblas_set_num_threads_local``
sets it for all threads in NumPy's pthreads build), so it is 1 only while a ``matmul`` runs and is
put back after the last one running ends. A NumPy product that another thread of the user's
program runs at that very moment also runs on one thread.

Where the BLAS is not an OpenBLAS with that function (MKL, Accelerate, an old OpenBLAS), ``matmul``
is ``np.matmul`` and the BLAS decides (README, "Determinism").
"""
import ctypes
import os
import threading

import numpy as np

from minigrad.kernels import process_settings

_MIN_PART_FLOPS = 2_000_000  # below this a part costs less than handing it to a thread
_MAX_PARTS = 4
_MIN_SIDE = 128  # rows or columns per part: each part repacks the other operand, and runs OpenBLAS's fast kernels


np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy has loaded its BLAS before looking for it
_NUMPY_OPENBLAS = process_settings._numpy_openblas()  # (path, openblas_set_num_threads_local) or None
_BLAS = _NUMPY_OPENBLAS and _NUMPY_OPENBLAS[1]  # it returns the count it replaces


def matmul(a, b, out=None):
    """a (..., M, K) @ b (..., K, N) -> (..., M, N) (NumPy's matmul, 2-D or 3-D operands), computed
    in parts fixed by the shapes on OpenBLAS's single-threaded path: the same bits for any thread
    count. ``out``, if given, receives the result (it may be a strided view)."""
    if _BLAS is None or a.ndim < 2 or b.ndim < 2 or max(a.ndim, b.ndim) > 3:
        return np.matmul(a, b, out=out)  # a vector or a 4-D stack: NumPy's loop (not on a hot path)
    if out is None:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        out = np.empty(shape, np.result_type(a, b))
    parts = _parts(a, b, out)
    threads = _single_threaded_blas()
    try:
        if min(threads, len(parts)) <= 1:
            _run_serially(parts)
        else:
            _POOL.run(parts, min(threads, len(parts)))
    finally:
        _restore_blas_threads()
    return out


_state = threading.Lock(), [0, 1]  # (lock, [matmuls running, OpenBLAS's thread count before them])


def _single_threaded_blas():
    """Set OpenBLAS to one thread (the first of concurrent calls does); -> the count it had."""
    lock, running = _state
    with lock:
        if running[0] == 0:
            running[1] = _BLAS(1)
        running[0] += 1
        return running[1]


def _restore_blas_threads():
    lock, running = _state
    with lock:
        running[0] -= 1
        if running[0] == 0:
            _BLAS(running[1])


def _parts(a, b, out):
    """[(a_part, b_part, out_part)]: the batch's samples in groups, else row or column blocks."""
    M, K = a.shape[-2:]
    N = b.shape[-1]
    batch = out.shape[0] if out.ndim == 3 else 1
    flops = 2 * batch * M * N * K
    n = int(min(_MAX_PARTS, max(1, flops // _MIN_PART_FLOPS)))
    if batch > 1:
        edges = _edges(batch, min(n, batch))
        return [(_samples(a, batch, lo, hi), _samples(b, batch, lo, hi), out[lo:hi]) for lo, hi in zip(edges, edges[1:])]
    if N >= M:
        edges = _edges(N, min(n, max(1, N // _MIN_SIDE)))
        return [(a, b[..., lo:hi], out[..., lo:hi]) for lo, hi in zip(edges, edges[1:])]
    edges = _edges(M, min(n, max(1, M // _MIN_SIDE)))
    return [(a[..., lo:hi, :], b, out[..., lo:hi, :]) for lo, hi in zip(edges, edges[1:])]


def _samples(x, batch, lo, hi):
    """Samples lo:hi of an operand that has the batch axis; one that is broadcast stays whole."""
    return x[lo:hi] if x.ndim == 3 and x.shape[0] == batch else x


def _edges(length, n):
    return [length * i // n for i in range(n + 1)]


def _run_serially(parts):
    for a, b, out in parts:
        np.matmul(a, b, out=out)


class _Pool:
    """Worker threads for the parts of a product; the caller runs the first share."""

    def __init__(self):
        self.workers = []  # (wake event, done event, [job]) per worker thread

    def _worker(self, wake, done, job):
        while True:
            wake.wait()
            wake.clear()
            try:
                _run_serially(job[0])
                job[1] = None
            except BaseException as e:  # handed to the caller, which re-raises it
                job[1] = e
            done.set()

    def run(self, parts, threads):
        while len(self.workers) < threads - 1:
            w = (threading.Event(), threading.Event(), [None, None])
            threading.Thread(target=self._worker, args=w, daemon=True, name="minigrad-gemm").start()
            self.workers.append(w)
        shares = [parts[i::threads] for i in range(threads)]  # a fixed assignment; the results do not depend on it
        for (wake, done, job), share in zip(self.workers, shares[1:]):
            job[0] = share
            done.clear()
            wake.set()
        try:
            _run_serially(shares[0])
        finally:
            for wake, done, job in self.workers[:threads - 1]:
                done.wait()
        for _, _, job in self.workers[:threads - 1]:
            if job[1] is not None:
                raise job[1]


_POOL = _Pool()


def _forget_threads_after_fork():
    _POOL.workers = []  # a forked child has only the thread that forked; it starts its own


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)
