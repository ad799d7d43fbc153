"""Handwritten digits grown to any number of images by random deformations: a data set with real
structure (ten classes, each a curved manifold of strokes) at sizes scikit-learn's 1,797 digits
cannot reach, for the t-SNE scaling benchmark.

Each image is one of scikit-learn's 8x8 digits resampled through a random map of the plane:

    x' = A (x - c) + c + t + e(x)

with A a rotation (up to +-15 degrees) times a scale (0.9 to 1.1), t a shift (up to one pixel in
each direction) and e an elastic displacement (Simard et al. 2003, sec. 2: a smooth random field;
here a 3x3 grid of N(0, 0.6 px) displacements interpolated bilinearly over the image), read by
bilinear interpolation with zeros outside, plus N(0, 0.5) pixel noise. Rows are made in blocks, so
a million images take about 0.5 GB (float64, 64 features) and a few seconds.
"""
import numpy as np

_SIDE = 8
_BLOCK = 65_536


def _bilinear(images, rows, cols):
    """images (b, 8, 8) read at real coordinates rows, cols (b, 8, 8), zero outside -> (b, 8, 8)."""
    b = np.arange(len(images))[:, None, None]
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    out = np.zeros(rows.shape)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            r, c = r0 + dr, c0 + dc
            inside = (r >= 0) & (r < _SIDE) & (c >= 0) & (c < _SIDE)
            out += np.where(inside, images[b, np.clip(r, 0, _SIDE - 1), np.clip(c, 0, _SIDE - 1)], 0.0) * wr * wc
    return out


def _elastic(rng, b):
    """(b, 8, 8) displacements, a 3x3 grid of N(0, 0.6) values interpolated bilinearly over 8x8."""
    coarse = rng.normal(0.0, 0.6, (b, 3, 3))
    t = np.linspace(0.0, 2.0, _SIDE)
    i0 = np.minimum(np.floor(t).astype(np.int64), 1)
    f = t - i0
    along_rows = coarse[:, i0, :] * (1 - f)[None, :, None] + coarse[:, i0 + 1, :] * f[None, :, None]
    return along_rows[:, :, i0] * (1 - f)[None, None, :] + along_rows[:, :, i0 + 1] * f[None, None, :]


def deformed_digits(n, seed=0):
    """n deformed digit images (n, 64) float64 and their labels (n,) int64, from ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    X = np.empty((n, _SIDE * _SIDE))
    y = np.empty(n, dtype=np.int64)
    grid_r, grid_c = np.meshgrid(np.arange(_SIDE, dtype=np.float64), np.arange(_SIDE, dtype=np.float64),
                                 indexing="ij")
    centre = (_SIDE - 1) / 2
    for start in range(0, n, _BLOCK):
        b = min(_BLOCK, n - start)
        pick = rng.integers(0, len(digits.images), b)
        angle = np.deg2rad(rng.uniform(-15.0, 15.0, b))[:, None, None]
        scale = rng.uniform(0.9, 1.1, b)[:, None, None]
        shift = rng.uniform(-1.0, 1.0, (b, 2))
        dr, dc = grid_r - centre, grid_c - centre
        # where each output pixel reads from: the inverse of the map above, to first order
        rows = (np.cos(angle) * dr - np.sin(angle) * dc) / scale + centre - shift[:, 0, None, None]
        cols = (np.sin(angle) * dr + np.cos(angle) * dc) / scale + centre - shift[:, 1, None, None]
        rows = rows + _elastic(rng, b)
        cols = cols + _elastic(rng, b)
        images = _bilinear(digits.images[pick], rows, cols) + rng.normal(0.0, 0.5, (b, _SIDE, _SIDE))
        X[start:start + b] = images.reshape(b, -1)
        y[start:start + b] = digits.target[pick]
    return X, y
