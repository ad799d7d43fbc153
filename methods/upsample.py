"""Resizing maps as PyTorch's ``interpolate(..., align_corners=False)`` does, in three modes.

Every mode is separable: along each axis, output position i reads a few input positions
(taps) with weights, and the 2-D resize is that 1-D resize along the rows, then the columns.
With half-pixel centres the source of output i is src = (i + 1/2) n_in / n_out - 1/2.

- ``"bilinear"``: 2 taps floor(src), floor(src) + 1 with weights 1 - t, t (t = src - floor(src),
  src clamped at 0 as PyTorch does); the Grad-CAM paper's resize, and OpenCV's ``resize``.
- ``"nearest"``: 1 tap, floor(i n_in / n_out): PyTorch's legacy ``nearest`` (not
  ``nearest-exact``, which rounds the half-pixel source), Captum's ``LayerAttribution.interpolate``
  default.
- ``"bicubic"``: 4 taps floor(src) - 1 ... floor(src) + 2 (clamped to the border) weighted by
  Keys' cubic convolution kernel (Keys 1981, "Cubic convolution interpolation for digital image
  processing") with a = -0.75 as PyTorch (Keys' own choice is -0.5):
  W(d) = (a + 2)|d|^3 - (a + 3)|d|^2 + 1 for |d| <= 1, a|d|^3 - 5a|d|^2 + 8a|d| - 4a for 1 < |d| < 2.
  Its weights go negative, so a map of nonnegative values can overshoot below 0 (as in PyTorch).
"""
import numpy as np

from minigrad.argument_checks import array, one_of, size_pair

#: the accepted ``interpolate_mode`` names; the first is the default (the Grad-CAM paper's)
INTERPOLATE_MODES = ("bilinear", "nearest", "bicubic")

_CUBIC_A = -0.75  # PyTorch's choice (as TensorFlow's and OpenCV's); Keys' own is -0.5


def _half_pixel_source(n_in, n_out):
    """The continuous source coordinate of each output position: (i + 1/2) n_in / n_out - 1/2."""
    return (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5


def _bilinear_taps(n_in, n_out):
    src = np.maximum(_half_pixel_source(n_in, n_out), 0.0)  # PyTorch clamps the left edge
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = src - i0
    return np.stack([i0, np.minimum(i0 + 1, n_in - 1)], 1), np.stack([1 - t, t], 1)


def _nearest_taps(n_in, n_out):
    # PyTorch computes floor(i * scale) with scale = n_in / n_out in float32 (its nearest_idx), which
    # can land one pixel below the exact floor(i n_in / n_out); float32 here too, to pick the same pixel
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(src, n_in - 1)[:, None], np.ones((n_out, 1))


def _cubic_kernel(d):
    """Keys' W(d) for |d| < 2 (see the module docstring)."""
    d, a = np.abs(d), _CUBIC_A
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, far)


def _bicubic_taps(n_in, n_out):
    src = _half_pixel_source(n_in, n_out)  # not clamped for cubic, as PyTorch
    i0 = np.floor(src).astype(np.int64)
    offsets = np.arange(-1, 3)
    weights = _cubic_kernel(src[:, None] - (i0[:, None] + offsets))
    return np.clip(i0[:, None] + offsets, 0, n_in - 1), weights


_TAPS = {"bilinear": _bilinear_taps, "nearest": _nearest_taps, "bicubic": _bicubic_taps}


def resize(maps, size, interpolate_mode="bilinear"):
    """maps (..., h, w) -> (..., H, W) with size = (H, W), as PyTorch's
    ``interpolate(maps, size, mode=interpolate_mode, align_corners=False)`` (Captum's
    ``LayerAttribution.interpolate``). ``interpolate_mode``: one of ``INTERPOLATE_MODES``."""
    one_of(interpolate_mode, "interpolate_mode", INTERPOLATE_MODES)
    maps = array(maps, "maps", ndim=tuple(range(2, 8)), finite=False)
    H, W = size_pair(size, "size", 1)
    rows, row_w = _TAPS[interpolate_mode](maps.shape[-2], H)
    cols, col_w = _TAPS[interpolate_mode](maps.shape[-1], W)
    # gather the taps on a new axis and sum it out: rows first, then columns
    along_h = (maps[..., rows, :] * row_w.astype(maps.dtype)[:, :, None]).sum(axis=-2)
    return (along_h[..., cols] * col_w.astype(maps.dtype)).sum(axis=-1)


def bilinear_resize(maps, size):
    """maps (..., h, w) -> (..., H, W) with size = (H, W): ``resize`` in the bilinear mode."""
    return resize(maps, size, "bilinear")
