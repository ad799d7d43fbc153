"""One reusable buffer per dtype (and thread) for the large temporaries of convolution.

im2col columns can be 100+ MB. Allocators hand blocks that large out as fresh pages (glibc
above 32 MiB, unless mmap is switched off as ``process_settings.py`` does where it may), and
every first touch of a page costs a fault. Temporaries that never leave the function that asked
for them are written into this buffer instead, which stays mapped (and warm) for the life of the
thread, whatever the allocator does.

When ``process_settings`` has told glibc to keep freed memory (the default on Linux), a plain
``np.empty`` is as fast (the block comes back from the heap, already mapped) and shares its
memory with the step's other temporaries, which a buffer held for the life of the thread does
not: ``scratch`` then returns ``np.empty`` (docs/performance.md has the measurements).
"""
import threading

import numpy as np

from minigrad.kernels import process_settings

_buffers = threading.local()


def scratch(shape, dtype, slot=0):
    """An uninitialised array of ``shape`` and ``dtype``: a view of the thread's buffer (or a
    fresh array when glibc keeps freed memory, see above).

    Valid only until the next call to ``scratch`` with the same ``slot`` on the same thread: never
    store it or return it. Temporaries held at once take different slots: convolution uses 0 and 1,
    im2col's padded input 2, the stride phases of im2col and col2im 3.
    """
    if process_settings.freed_memory_kept:
        return np.empty(shape, dtype)
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    store = _buffers.__dict__
    buf = store.get((dtype, slot))
    if buf is None or buf.size < size:
        store[(dtype, slot)] = buf = np.empty(size, dtype)
    return buf[:size].reshape(shape)
