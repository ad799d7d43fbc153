"""Bilinear resizing with half-pixel centres: what PyTorch's ``interpolate(mode='bilinear',
align_corners=False)`` and OpenCV's ``resize`` do."""
import numpy as np

from minigrad.argument_checks import array, size_pair


def _axis_weights(n_in, n_out):
    """Source indices (i0, i1) and weight of i1 for each output position along one axis."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)  # PyTorch clamps the left edge
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def bilinear_resize(maps, size):
    """maps (..., h, w) -> (..., H, W) with size = (H, W)."""
    maps = array(maps, "maps", ndim=tuple(range(2, 8)), finite=False)
    H, W = size_pair(size, "size", 1)
    h0, h1, fh = _axis_weights(maps.shape[-2], H)
    w0, w1, fw = _axis_weights(maps.shape[-1], W)
    fh = fh.astype(maps.dtype)[:, None]
    fw = fw.astype(maps.dtype)
    rows = maps[..., h0, :] * (1 - fh) + maps[..., h1, :] * fh
    return rows[..., w0] * (1 - fw) + rows[..., w1] * fw
