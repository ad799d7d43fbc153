"""``np.add.at`` for the gradient of fancy indexing: one compiled loop over flat positions.

``getitem`` with index arrays gathers (``x[:, :, iy, ix]``, a roll, a bilinear tap), and its
gradient scatters back, adding where indices repeat. ``np.add.at`` is slow at it (~17 ns per
element, docs/performance.md). The flat position of
every selected element is found by applying the same index to an ``arange`` (NumPy's own fast
gather), then one loop adds in the same order as ``np.add.at``, so the sums are bit-identical.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _scatter_add(out, positions, values):
    for k in range(positions.size):
        out[positions[k]] += values[k]


def scatter_add(out, idx, values):
    """out[idx] += values, with repeated indices adding up (``np.add.at(out, idx, values)``).

    out : C-contiguous float array, changed in place; idx : any NumPy index; values : broadcastable
    to ``out[idx].shape``.
    """
    if not out.flags.c_contiguous:
        raise ValueError("out: expected a C-contiguous array (it is added to through a flat view)")
    positions = np.arange(out.size).reshape(out.shape)[idx]
    values = np.ascontiguousarray(np.broadcast_to(values, positions.shape), dtype=out.dtype)
    _scatter_add(out.reshape(-1), positions.reshape(-1), values.reshape(-1))
