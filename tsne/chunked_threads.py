"""Run a Numba kernel over a range in chunks on Python threads, instead of ``parallel=True``.

Each kernel here takes ``(start, stop, ...)`` and is compiled ``nogil=True`` (or is Python that spends
its time in such kernels and in NumPy/BLAS calls, which release the GIL too: the blocks of
``neighbors.py``). The result does not depend on the number of threads because the work items
(rows, Barnes-Hut blocks, kNN blocks) are fixed by the data alone, each item is computed the same
way whichever chunk holds it, and the chunks write disjoint rows: any sum across items is taken
afterwards, in item order, never per chunk. Numba's ``parallel=True``
would do the same work, but each parallel kernel costs about a second more to compile (parfor
lowering), and a first ``TSNE().fit`` in a fresh environment spent 31 s compiling before any work.
Threads are Numba's count (``numba.get_num_threads``, which ``TSNE``
sets from ``n_jobs``). The pool is kept between calls; a forked child, which inherits the pool but
not its threads (work submitted to it would wait forever), starts a new one.
"""
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

_CHUNKS_PER_THREAD = 4  # uneven chunks (Barnes-Hut blocks differ in cost) balance out
_pool, _pool_threads = None, 0
_side = None  # the one thread ``beside`` runs work on
_here = threading.local()  # .serial: run_in_chunks runs its kernel in one piece on this thread


def _forget_pool():
    global _pool, _pool_threads, _side
    _pool, _pool_threads, _side = None, 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_in_chunks(kernel, n, *args):
    """kernel(start, stop, *args) over [0, n) in contiguous chunks, on numba.get_num_threads() threads."""
    global _pool, _pool_threads
    if getattr(_here, "serial", False):
        kernel(0, n, *args)
        return
    threads = numba.get_num_threads()
    if threads == 1 or n < 2:
        kernel(0, n, *args)
        return
    if _pool_threads < threads:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tsne"), threads
    chunks = min(n, threads * _CHUNKS_PER_THREAD)
    bounds = [n * c // chunks for c in range(chunks + 1)]
    for f in [_pool.submit(kernel, lo, hi, *args) for lo, hi in zip(bounds[:-1], bounds[1:])]:
        f.result()


@contextlib.contextmanager
def beside(fn, *args):
    """Run fn(*args) on another thread while the ``with`` block runs on this one, for work that
    cannot be split (a tree built point by point) next to work that can. fn's own ``run_in_chunks``
    calls run in one piece there; every item is computed as it would be in chunks, so the results
    are the same bits. On one thread (numba.get_num_threads() == 1), fn runs first, then the block."""
    global _side
    if numba.get_num_threads() == 1:
        fn(*args)
        yield
        return
    if _side is None:
        _side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsne-beside")
    future = _side.submit(_in_one_piece, fn, args)
    try:
        yield
    finally:
        future.result()


def _in_one_piece(fn, args):
    _here.serial = True
    try:
        fn(*args)
    finally:
        _here.serial = False
