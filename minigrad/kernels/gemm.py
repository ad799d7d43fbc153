"""Matrix products whose result does not depend on the number of threads.

OpenBLAS computes a product differently on one thread and on several: its single-threaded driver
cuts the inner dimension K at other points than the threaded one, and some shapes take a small-
matrix kernel on one thread only. ``a @ b`` with OPENBLAS_NUM_THREADS=1 and =2 differed in float32
from K = 513 on, and in float64 for some shapes from K = 64 on (about 1e-7 and 1e-16 relative),
so a network's weights after training, or a saliency map, changed with the thread count.

``matmul`` therefore never asks OpenBLAS for its threads. It cuts the product into parts fixed
by the shapes alone (samples of a batch; else blocks of output rows or columns, whichever side is
longer) and computes each part with OpenBLAS's single-threaded path. Every element is computed by
the same code on any thread count, so the results are bit-identical; the parallel split follows
the shape, not a list of known layers. OpenBLAS's own idle threads then never wake for minigrad's
products, which also removes their spinning from between the Numba kernels.

The parts run on Numba's threads, the ones minigrad's kernels run on: a compiled loop
(``_products``) calls NumPy's OpenBLAS ``cblas_?gemm`` once per matrix, as many threads at once as
OpenBLAS and Numba both allow (OPENBLAS_NUM_THREADS, ``threadpoolctl``, NUMBA_NUM_THREADS). One pool
for all the work means no handover between pools per product, and no pool left waiting while
another spins: with PyTorch imported first, whose GNU OpenMP spins long after each region, a
ResNet-18 forward pass at batch 1 took 36-57 ms through a second pool against 30 ms this way.
Where NumPy's OpenBLAS has no 64-bit-integer ``cblas_?gemm`` (NumPy 1.x builds), or the operands
mix dtypes, the parts run through ``np.matmul`` on a pool of Python threads as before.

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

import numba
import numpy as np
from llvmlite import binding as llvm
from numba import njit, prange, types

from minigrad.kernels import process_settings
from minigrad.kernels.parallel_launch import get_threads, set_threads

_MIN_PART_FLOPS = 2_000_000  # below this a part costs less than handing it to a thread
_MAX_PARTS = 4
_MIN_SIDE = 128  # rows or columns per part: each part repacks the other operand, and runs OpenBLAS's fast kernels


np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy has loaded its BLAS before looking for it
_NUMPY_OPENBLAS = process_settings._numpy_openblas()  # (path, openblas_set_num_threads_local) or None
_BLAS = _NUMPY_OPENBLAS and _NUMPY_OPENBLAS[1]  # it returns the count it replaces


def _register_cblas():
    """Make NumPy's OpenBLAS ``cblas_?gemm`` (64-bit integers, NumPy 2's wheels) callable from
    compiled code under fixed names; True if found. Looked up by name at load time, so the compiled
    parts' kernel can be cached across processes (a ctypes pointer could not: the library's address
    changes from run to run)."""
    if not _NUMPY_OPENBLAS:
        return False
    lib = ctypes.CDLL(_NUMPY_OPENBLAS[0], mode=getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_LAZY)
    for prefix in ("scipy_cblas_", "cblas_"):
        try:
            found = [ctypes.cast(getattr(lib, f"{prefix}{t}gemm64_"), ctypes.c_void_p).value for t in "sd"]
        except AttributeError:
            continue
        for t, address in zip("sd", found):
            llvm.add_symbol(f"minigrad_cblas_{t}gemm64", address)
        return True
    return False


_CBLAS = _register_cblas()
THREADS_SEEN = set()  # Numba thread ids the compiled products ran on (tests prove the threads ran)


def _gemm_signature(real):
    # (order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); pointers passed as
    # 64-bit integers (the same registers on every 64-bit ABI)
    i32, i64 = types.int32, types.int64
    return types.void(i32, i32, i32, i64, i64, i64, real, i64, i64, i64, i64, real, i64, i64)


_SGEMM = types.ExternalFunction("minigrad_cblas_sgemm64", _gemm_signature(types.float32))
_DGEMM = types.ExternalFunction("minigrad_cblas_dgemm64", _gemm_signature(types.float64))
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


@njit(cache=True, nogil=True, inline="always")
def _product(r, single):
    """One single-threaded ``cblas_?gemm``: r = (trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc)."""
    if single:
        _SGEMM(_ROW_MAJOR, r[0], r[1], r[2], r[3], r[4], 1.0, r[5], r[6], r[7], r[8], 0.0, r[9], r[10])
    else:
        _DGEMM(_ROW_MAJOR, r[0], r[1], r[2], r[3], r[4], 1.0, r[5], r[6], r[7], r[8], 0.0, r[9], r[10])


@njit(parallel=True, cache=True, nogil=True)
def _products(rows, single, ran_on):
    """The products of ``rows`` (n, 11) on Numba's threads, the ones its kernels run on: no handover
    to other threads (~50-100 us a product), and when PyTorch was imported first, GNU OpenMP's long
    spin no longer starves another pool (process_settings, item 3). ``ran_on`` gets each row's
    thread id."""
    for p in prange(rows.shape[0]):
        ran_on[p] = numba.get_thread_id()
        _product(rows[p], single)


@njit(cache=True, nogil=True)
def _products_here(rows, single):
    """The same in the calling thread: one part needs no parallel launch (~50 us)."""
    for p in range(rows.shape[0]):
        _product(rows[p], single)


@njit(cache=True, nogil=True)
def _layout(m):
    """(trans, leading dimension) of a 2-D operand as cblas reads it: row-major as it is,
    column-major as transposed; (0, 0) where it cannot without a copy."""
    r, c = m.shape
    s0, s1 = m.strides
    if s0 % m.itemsize or s1 % m.itemsize:
        return 0, 0
    s0, s1 = s0 // m.itemsize, s1 // m.itemsize
    if (s1 == 1 or c == 1) and s0 >= c and s0 >= 1:
        return _NO_TRANS, max(s0, c, 1)
    if (s0 == 1 or r == 1) and s1 >= r and s1 >= 1:
        return _TRANS, max(s1, r, 1)
    return 0, 0


@njit(cache=True, nogil=True)
def _one_product(a, b, out, single):
    """a (M, K) @ b (K, N) into the row-major out (M, N) with one cblas call in the calling thread,
    reading layouts and addresses here (from Python they cost ~15 us, more than a tiny product's
    arithmetic); False, with nothing done, when an operand needs a copy first."""
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    if ta == 0 or tb == 0:
        return False
    M, K = a.shape
    N = b.shape[1]
    _product((ta, tb, M, N, K, a.ctypes.data, lda, b.ctypes.data, ldb, out.ctypes.data, N), single)
    return True


def _operand(m):
    """(trans, leading dimension, m) of a 2-D operand, or of each matrix of a 3-D stack (all share
    their strides), as cblas reads it (``_layout``), m made contiguous where cblas cannot read it."""
    trans, ld = _layout(m[0] if m.ndim == 3 else m)
    return (trans, ld, m) if trans else (_NO_TRANS, max(m.shape[-1], 1), np.ascontiguousarray(m))


def _rows_of(a, b, out):
    """The cblas calls of one part, a row (trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc) per
    matrix (a 3-D part holds several; an operand with one matrix is shared by all), and the
    (temporary, view) pair when out's matrices are not row-major. Strides are read once per part,
    not per matrix: a batch of small products costs one row each, not a Python loop each."""
    ta, lda, a = _operand(a)
    tb, ldb, b = _operand(b)
    M, N = out.shape[-2:]
    back = None
    trans, ldc = _layout(out[0] if out.ndim == 3 else out)
    if trans != _NO_TRANS:  # cblas writes row-major matrices only
        back = (np.empty(out.shape, out.dtype), out)
        out, ldc = back[0], max(N, 1)
    rows = np.array([(ta, tb, M, N, a.shape[-1], a.ctypes.data, lda, b.ctypes.data, ldb, out.ctypes.data, ldc)],
                    np.int64)
    count = out.shape[0] if out.ndim == 3 else 1
    if count > 1:
        rows = np.repeat(rows, count, axis=0)
        for column, x in ((5, a), (7, b), (9, out)):
            if x.ndim == 3 and x.shape[0] > 1:
                rows[:, column] += x.strides[0] * np.arange(count)
    return rows, (a, b, out), back


def _run_parts_compiled(parts, threads):
    """The parts' products through ``_products``: one row per matrix (a part of a batch holds
    several), results written straight into out's views (through a temporary where out is not
    row-major)."""
    made = [_rows_of(*part) for part in parts]
    rows = made[0][0] if len(made) == 1 else np.concatenate([m[0] for m in made])
    single = parts[0][2].dtype == np.float32
    previous = get_threads()
    use = max(1, min(threads, previous, len(rows)))
    if use == 1:
        _products_here(rows, single)
        THREADS_SEEN.add(0)  # the calling thread, Numba's thread 0 as prange's own share would be
    else:
        ran_on = np.zeros(len(rows), np.int64)
        set_threads(use)
        try:
            _products(rows, single, ran_on)
        finally:
            set_threads(previous)
        THREADS_SEEN.update(ran_on.tolist())
    for _, _, back in made:
        if back is not None:
            back[1][...] = back[0]


def matmul(a, b, out=None):
    """a (..., M, K) @ b (..., K, N) -> (..., M, N) (NumPy's matmul, 2-D or 3-D operands), computed
    in parts fixed by the shapes on OpenBLAS's single-threaded path: the same bits for any thread
    count. ``out``, if given, receives the result (it may be a strided view)."""
    if _BLAS is None or a.ndim < 2 or b.ndim < 2 or max(a.ndim, b.ndim) > 3:
        return np.matmul(a, b, out=out)  # a vector or a 4-D stack: NumPy's loop (not on a hot path)
    shape = _result_shape(a, b)
    if out is None:
        out = np.empty(shape, np.result_type(a, b))
    compiled = _CBLAS and a.dtype == b.dtype == out.dtype and a.dtype in (np.float32, np.float64) and (
        out.size > 0 and a.shape[-1] > 0)  # empty products (an empty batch too) take NumPy's loop
    if compiled:
        if a.shape[-1] != b.shape[-2]:  # np.matmul's checks, which the compiled path skips
            raise ValueError(f"matmul: inner dimensions differ: a {a.shape} and b {b.shape}")
        if out.shape != shape:
            raise ValueError(f"matmul: out: expected shape {shape}, got {out.shape}")
    parts = _parts(a, b, out)
    threads = _single_threaded_blas()
    try:
        if compiled and len(parts) == 1 and a.ndim == b.ndim == 2 and out.flags.c_contiguous and _one_product(
                a, b, out, a.dtype == np.float32):
            THREADS_SEEN.add(0)
        elif compiled:
            _run_parts_compiled(parts, threads)
        elif min(threads, len(parts)) <= 1:
            _run_serially(parts)
        else:
            _POOL.run(parts, min(threads, len(parts)))
    finally:
        _restore_blas_threads()
    return out


def _result_shape(a, b):
    """The shape of a @ b for 2-D or 3-D operands (the batch axis broadcast as NumPy does)."""
    if a.ndim == b.ndim == 2:
        return a.shape[0], b.shape[1]
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])


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
    if n == 1:
        return [(a, b, out)]
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
