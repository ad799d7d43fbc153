"""One reusable buffer per dtype (and thread) for the large temporaries of convolution.

im2col columns can be 100+ MB. Allocators hand blocks that large out as fresh pages (glibc
above 32 MiB, unless mmap is switched off as ``process_settings.py`` does where it may), and
every first touch of a page costs a fault (~2 us in the VMs measured here): a float64
VGG-like forward+backward took ~4,200 faults and 30-50 ms of system time per step. Temporaries
that never leave the function that asked for them are written into this buffer instead, which
stays mapped (and warm) for the life of the thread, whatever the allocator does.

When ``process_settings`` has told glibc to keep freed memory (the default on Linux), a plain
``np.empty`` is as fast (the block comes back from the heap, already mapped) and shares its
memory with the step's other temporaries, which a buffer held for the life of the thread does
not: ``scratch`` then returns ``np.empty``. Measured on training steps (interleaved): 0.91-0.99x
the time, peak memory of GAPNet's float32 step at batch 32 20.5 -> 16.2 MiB (batch 128: 61 -> 50).
Without those settings the buffer stays: there ``np.empty`` made the batch-32 step 1.5x slower.
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
    im2col's padded input 2.
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
