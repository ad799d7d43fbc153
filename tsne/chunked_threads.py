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
import itertools
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


def run_in_chunks(kernel, n, *args, chunks_per_thread=_CHUNKS_PER_THREAD, min_chunk=1):
    """kernel(start, stop, *args) over [0, n) in contiguous chunks, on numba.get_num_threads() threads:
    ``chunks_per_thread`` of them per thread (1 where every item costs the same), none shorter than
    ``min_chunk`` items (a chunk handed to the pool costs ~20 us: small work runs here, in one piece)."""
    global _pool, _pool_threads
    threads = numba.get_num_threads()
    chunks = min(n // max(min_chunk, 1), threads * chunks_per_thread)
    if getattr(_here, "serial", False) or threads == 1 or chunks < 2:
        kernel(0, n, *args)
        return
    if _pool_threads < threads:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tsne"), threads
    bounds = [n * c // chunks for c in range(chunks + 1)]
    taken = itertools.count()  # next() on it is atomic under the GIL: each chunk is run once

    def take_chunks():
        c = next(taken)
        while c < chunks:
            kernel(bounds[c], bounds[c + 1], *args)
            c = next(taken)

    # this thread takes chunks too, so a call wakes threads - 1 pool threads, not one per chunk
    helpers = [_pool.submit(take_chunks) for _ in range(threads - 1)]
    try:
        take_chunks()
    finally:  # never return (or raise) while a helper still writes into the caller's arrays
        for f in helpers:
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
