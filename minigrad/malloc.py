"""Keep glibc from handing large temporaries back to the OS after every op.

Each page fault costs ~2 us in the VMs this project is measured on; with glibc's defaults
every conv layer's im2col buffer is mmap'ed and unmapped again, which made LeNet's forward
pass 3x slower (PERF-NOTES: 7.0 ms -> 2.1 ms). glibc caps the mmap threshold at 32 MiB, so
larger blocks (im2col columns and activations at batch 64: 34-300 MB) were still mapped and
unmapped on every call: 5,400 faults and 77 ms of system time per forward+backward of the
VGG-like net; with mmap switched off for the heap they come from freed memory too (12% faster).
The same settings as MALLOC_MMAP_MAX_=0, MALLOC_MMAP_THRESHOLD_=32 MiB,
MALLOC_TRIM_THRESHOLD_=8 GiB, MALLOC_TOP_PAD_=256 MiB, applied through mallopt(3).
Set MINIGRAD_KEEP_MALLOC=1 to leave the allocator alone.
"""
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -2, -3, -4


def keep_freed_memory():
    """Apply the settings once per process on glibc; a no-op elsewhere. Returns whether applied."""
    if os.environ.get("MINIGRAD_KEEP_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    tuned = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
    if any(k in os.environ for k in tuned):
        return False  # the user tuned glibc already
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    ok &= mallopt(_M_MMAP_MAX, 0)
    ok &= mallopt(_M_TRIM_THRESHOLD, 8 << 30 if sys.maxsize > 2**32 else 1 << 30)
    ok &= mallopt(_M_TOP_PAD, 256 << 20)
    return bool(ok)
