"""Differentiable image resampling, and the random transforms that make optimised images robust
(Mordvintsev et al. 2015: jitter; Olah et al. 2017: jitter, scale, rotate, pad).

Every transform is built from minigrad ops (``getitem`` gathers, products, ``concatenate``), so it
sits in the graph: the gradient flows back through it to the image. Sampling is bilinear with
half-pixel centres (as ``bilinear_resize`` and PyTorch's ``align_corners=False``); a sample that
falls outside the image takes the nearest edge pixel.
"""
import numpy as np

import minigrad as mg
from minigrad import Tensor


def _taps(src, n):
    """Bilinear taps along one axis: source positions ``src`` (pixel-centre units) -> (i0, i1, w1)."""
    src = np.clip(src, 0, n - 1)
    i0 = np.minimum(np.floor(src).astype(np.intp), n - 1)
    return i0, np.minimum(i0 + 1, n - 1), src - i0


def resample(x, src_y, src_x):
    """out[n, c, i, j] = x at the source position (src_y[i, j], src_x[i, j]), bilinearly.

    x : Tensor (N, C, H, W); src_y, src_x : arrays (Ho, Wo) in pixel-centre units (0 is the
    centre of the first pixel). Returns a Tensor (N, C, Ho, Wo) in the graph of x.
    """
    H, W = x.shape[2:]
    y0, y1, fy = _taps(np.asarray(src_y, dtype=np.float64), H)
    x0, x1, fx = _taps(np.asarray(src_x, dtype=np.float64), W)
    out = None
    for iy, ix, w in ((y0, x0, (1 - fy) * (1 - fx)), (y0, x1, (1 - fy) * fx),
                      (y1, x0, fy * (1 - fx)), (y1, x1, fy * fx)):
        term = x[:, :, iy, ix] * Tensor(w.astype(x.dtype))
        out = term if out is None else out + term
    return out


def affine(x, scale=1.0, angle=0.0, size=None):
    """x scaled by ``scale`` and rotated by ``angle`` degrees (counter-clockwise) about its centre,
    sampled on a grid of ``size`` (default x's own (H, W)): Tensor (N, C, H, W) -> (N, C, Ho, Wo)."""
    H, W = x.shape[2:]
    Ho, Wo = size or (H, W)
    # output pixel centres relative to the output's centre, mapped back into the input
    v, u = np.mgrid[0:Ho, 0:Wo] + 0.5
    v, u = v - Ho / 2, u - Wo / 2
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    src_y = (c * v + s * u) * (H / Ho if size else 1.0) / scale + H / 2 - 0.5
    src_x = (-s * v + c * u) * (W / Wo if size else 1.0) / scale + W / 2 - 0.5
    return resample(x, src_y, src_x)


def resize(x, size):
    """Bilinear resize with half-pixel centres (PyTorch's ``interpolate(..., align_corners=False)``
    for upsampling): Tensor (N, C, H, W) -> (N, C, *size), differentiable."""
    H, W = x.shape[2:]
    Ho, Wo = size
    src_y = (np.arange(Ho) + 0.5) * (H / Ho) - 0.5
    src_x = (np.arange(Wo) + 0.5) * (W / Wo) - 0.5
    return resample(x, *np.meshgrid(src_y, src_x, indexing="ij"))


def roll(x, dy, dx):
    """``np.roll(x, (dy, dx), axis=(2, 3))`` as a graph op (cs231n's and DeepDream's jitter)."""
    H, W = x.shape[2:]
    return x[:, :, (np.arange(H) - dy) % H][:, :, :, (np.arange(W) - dx) % W]


class Jitter:
    """Roll the image by a random (dy, dx), each drawn uniformly from [-pixels, pixels]
    (``rng.integers(-pixels, pixels + 1, size=2)``; Mordvintsev et al. 2015)."""

    def __init__(self, pixels):
        self.pixels = _non_negative_int(pixels, "pixels")

    def __call__(self, x, rng):
        dy, dx = rng.integers(-self.pixels, self.pixels + 1, size=2)
        return roll(x, int(dy), int(dx))


class RandomScale:
    """Rescale about the centre by a factor drawn from ``scales`` (Olah et al. 2017), keeping the size."""

    def __init__(self, scales=(0.9, 0.95, 1.0, 1.05, 1.1)):
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"scales: expected positive factors, got {scales!r}")

    def __call__(self, x, rng):
        return affine(x, scale=self.scales[rng.integers(len(self.scales))])


class RandomRotate:
    """Rotate about the centre by an angle in degrees drawn from ``angles`` (Olah et al. 2017)."""

    def __init__(self, angles=tuple(range(-10, 11))):
        self.angles = tuple(float(a) for a in angles)
        if not self.angles:
            raise ValueError("angles: expected at least one angle, got none")

    def __call__(self, x, rng):
        return affine(x, angle=self.angles[rng.integers(len(self.angles))])


class Pad:
    """Pad by ``pixels`` on every side with a constant (lucid pads with 0.5 before jittering, so
    that the image's border is not special)."""

    def __init__(self, pixels, value=0.5):
        self.pixels, self.value = _non_negative_int(pixels, "pixels"), float(value)

    def __call__(self, x, rng):
        p = self.pixels
        if p == 0:
            return x
        N, C, H, W = x.shape
        side = Tensor(np.full((N, C, H, p), self.value, dtype=x.dtype))
        x = mg.concatenate([side, x, side], axis=3)
        band = Tensor(np.full((N, C, p, W + 2 * p), self.value, dtype=x.dtype))
        return mg.concatenate([band, x, band], axis=2)


def _non_negative_int(v, name):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
    return int(v)


def gaussian_blur(x, sigma):
    """x (..., H, W) blurred by a separable Gaussian of std ``sigma`` pixels (radius 3 sigma, edges
    replicated), as a plain array: the blur regularisers act on values and gradients, not graphs."""
    if sigma <= 0:
        return x
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(x.dtype)
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        padded = np.pad(x, pad, mode="edge")
        n = x.shape[axis]
        x = sum(k[i] * np.take(padded, np.arange(i, i + n), axis=axis) for i in range(2 * r + 1))
    return x
