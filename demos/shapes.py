"""``make_shapes``: the project's own image data set, with ground-truth object masks.

Each image holds one shape (disc, square, triangle, cross, ring, bar) at a random position,
scale, rotation and colour on a darker textured, noisy background. The masks say where the
object is, so attribution methods can be scored on how well they localise it.
"""
import numpy as np

CLASSES = ("disc", "square", "triangle", "cross", "ring", "bar")


def _inside(kind, u, v, r):
    """Boolean mask of the shape ``kind`` in its own rotated frame (u, v), radius r."""
    if kind == 0:
        return u * u + v * v <= r * r
    if kind == 1:
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if kind == 2:
        s3 = np.sqrt(3.0)
        return (v >= -r / 2) & (s3 * u + v <= r) & (-s3 * u + v <= r)
    if kind == 3:
        arm = r / 3.2
        return ((np.abs(u) <= arm) & (np.abs(v) <= r)) | ((np.abs(v) <= arm) & (np.abs(u) <= r))
    if kind == 4:
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    return (np.abs(u) <= r) & (np.abs(v) <= r / 4)


def make_shapes(n, size=32, channels=3, seed=0, noise=0.05):
    """Render ``n`` images of the six shape classes, balanced and shuffled.

    Parameters
    ----------
    n : int >= 1
    size : int >= 12, image side in pixels
    channels : 1 or 3
    seed : int, every random choice comes from ``numpy.random.default_rng(seed)``
    noise : standard deviation of the Gaussian pixel noise

    Returns
    -------
    images : float32 (n, channels, size, size) in [0, 1]
    labels : int64 (n,), indices into ``CLASSES``
    masks : bool (n, size, size), True on the object's pixels
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 12:
        raise ValueError(f"size: expected an int >= 12, got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)) or not 0 <= noise < np.inf:
        raise ValueError(f"noise: expected a finite standard deviation >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    r = rng.uniform(0.18, 0.32, n) * size
    cx = rng.uniform(r, size - r)
    cy = rng.uniform(r, size - r)
    theta = rng.uniform(0, 2 * np.pi, n)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    masks = np.empty((n, size, size), dtype=bool)
    for i in range(n):
        dx, dy = xx - cx[i], yy - cy[i]
        c, s = np.cos(theta[i]), np.sin(theta[i])
        masks[i] = _inside(labels[i], c * dx + s * dy, -s * dx + c * dy, r[i])

    # background: a dark tint with two random low-contrast gratings; the object is brighter
    # (one channel near full intensity), so a small network learns shapes, not contrast polarity
    images = np.empty((n, channels, size, size), dtype=np.float64)
    for i in range(n):
        tex = np.zeros((size, size))
        for _ in range(2):
            f = rng.uniform(0.1, 0.6)
            a = rng.uniform(0, np.pi)
            tex += np.sin(f * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 2 * np.pi))
        base = rng.uniform(0.05, 0.4, channels)
        bg = base[:, None, None] + 0.08 * tex[None]
        colour = rng.uniform(0.3, 1.0, channels)
        colour[rng.integers(channels)] = rng.uniform(0.8, 1.0)
        images[i] = np.where(masks[i][None], colour[:, None, None], bg)
    images += rng.normal(0, noise, images.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels, masks
