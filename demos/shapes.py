"""``make_shapes``: the project's own image data set, made to be looked inside.

Each image holds one to four objects of one of six classes (disc, square, triangle, cross, ring,
bar), each at its own random position, scale and rotation, in one of eight named colours, on a darker background with one of
four textures (plain, stripes, checkerboard, dots) and pixel noise. Edges are anti-aliased (4x4
supersampling), as a camera's would be. Every pixel is labelled, so the images carry what network
dissection (Bau et al. 2017) needs: concepts of four kinds,

- object: the object's class, and "any object";
- part: the object's edge (within ~1.5 px of its outline) and its interior;
- colour: the object's named colour;
- texture: the background's texture kind.

``concept_masks`` turns the per-image labels into the (N, K, H, W) masks that
``methods.dissection`` reads; the object masks also score attribution maps (the pointing game).
"""
import numpy as np

from minigrad.argument_checks import rng as seed_rng

#: Changes whenever the rendering does, so that weights trained on other renderings are not reused.
VERSION = 3
CLASSES = ("disc", "square", "triangle", "cross", "ring", "bar")
COLOURS = {"red": (0.92, 0.16, 0.12), "green": (0.18, 0.78, 0.22), "blue": (0.22, 0.38, 1.0),
           "yellow": (0.95, 0.88, 0.16), "magenta": (0.88, 0.22, 0.86), "cyan": (0.16, 0.84, 0.9),
           "white": (0.94, 0.94, 0.94), "orange": (1.0, 0.56, 0.12)}
TEXTURES = ("plain", "stripes", "checker", "dots")
PARTS = ("edge", "interior")
_SUPERSAMPLE = 4


class ShapeLabels:
    """What each image of ``make_shapes`` shows, beside its class: ``colour`` and ``texture`` (N,)
    ints indexing ``COLOURS`` and ``TEXTURES``; ``edges`` bool (N, H, W), the object's outline band."""

    def __init__(self, colour, texture, edges):
        self.colour, self.texture, self.edges = colour, texture, edges

    def __getitem__(self, index):
        return ShapeLabels(self.colour[index], self.texture[index], self.edges[index])


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


def _texture(kind, xx, yy, rng):
    """A zero-mean pattern in [-1, 1] on the pixel grid: plain (none), stripes (a grating of random
    period and orientation), checker (two crossed square waves) or dots (a lattice of discs)."""
    if kind == 0:
        return np.zeros_like(xx)
    a = rng.uniform(0, np.pi)
    u, v = np.cos(a) * xx + np.sin(a) * yy, -np.sin(a) * xx + np.cos(a) * yy
    period = rng.uniform(4.0, 8.0)
    phase = rng.uniform(0, period, 2)
    if kind == 1:
        return np.sin(2 * np.pi * (u + phase[0]) / period)
    if kind == 2:
        return np.sign(np.sin(np.pi * (u + phase[0]) / period) * np.sin(np.pi * (v + phase[1]) / period))
    du = (u + phase[0]) % period - period / 2
    dv = (v + phase[1]) % period - period / 2
    return np.where(du * du + dv * dv <= (0.3 * period) ** 2, 1.0, -0.35)


def _coverage(kind, cx, cy, r, theta, size):
    """The fraction of each pixel the object covers, from a _SUPERSAMPLE^2 grid of samples."""
    s = _SUPERSAMPLE
    yy, xx = (np.mgrid[0:size * s, 0:size * s] + 0.5) / s
    dx, dy = xx - cx, yy - cy
    c, sn = np.cos(theta), np.sin(theta)
    inside = _inside(kind, c * dx + sn * dy, -sn * dx + c * dy, r)
    return inside.reshape(size, s, size, s).mean(axis=(1, 3))


def _placements(k, size, rng, tries=50):
    """k (centre x, centre y, radius) inside the image whose bounding circles do not overlap: one
    of radius 0.2-0.36 size, or k of 0.12-0.2 size (a placement that fails ``tries`` times is skipped)."""
    lo, hi = (0.2, 0.36) if k == 1 else (0.12, 0.2)
    placed = []
    for _ in range(k):
        for _ in range(tries):
            r = rng.uniform(lo, hi) * size
            cx, cy = rng.uniform(r, size - r, 2)
            if all((cx - x) ** 2 + (cy - y) ** 2 > (r + q + 1) ** 2 for x, y, q in placed):
                placed.append((cx, cy, r))
                break
    return placed


def _edge_band(mask):
    """Pixels of ``mask`` with a pixel outside it among their 8 neighbours or 4 at distance 2: the
    outline, about 1.5 px thick."""
    p = np.pad(mask, 2, constant_values=False)
    h, w = mask.shape
    interior = np.ones_like(mask)
    for dy, dx in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1), (-2, 0), (2, 0), (0, -2),
                   (0, 2)]:
        interior &= p[2 + dy:2 + dy + h, 2 + dx:2 + dx + w]
    return mask & ~interior


def make_shapes(n, size=48, channels=3, seed=0, noise=0.03, labels_out=False):
    """Render ``n`` images of the six shape classes, balanced and shuffled.

    Parameters
    ----------
    n : int >= 1
    size : int >= 12, image side in pixels
    channels : 1 or 3 (1: the colours' mean, the same images in grey)
    seed : int >= 0 or a numpy.random.Generator; every random choice comes from ``numpy.random.default_rng(seed)``
    noise : standard deviation of the Gaussian pixel noise
    labels_out : also return the ``ShapeLabels`` (colour, background texture, edges) of each image

    Returns
    -------
    images : float32 (n, channels, size, size) in [0, 1]
    labels : int64 (n,), indices into ``CLASSES``
    masks : bool (n, size, size), True where an object covers at least half the pixel
    shape_labels : ``ShapeLabels``, only with ``labels_out=True``
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 12:
        raise ValueError(f"size: expected an int >= 12, got {size!r}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)) or not 0 <= noise < np.inf:
        raise ValueError(f"noise: expected a finite standard deviation >= 0, got {noise!r}")
    rng = seed_rng(seed, "seed")
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    colour = rng.integers(0, len(COLOURS), n)
    texture = rng.integers(0, len(TEXTURES), n)
    # a class is a kind of object, not one object: 40% of the images show one large instance, the
    # others two to four smaller ones (as photographs show one cat or several). A network that
    # learned only "one centred shape" would call a picture of several discs something else.
    copies = rng.choice([1, 2, 3, 4], size=n, p=[0.4, 0.2, 0.2, 0.2])
    palette = np.array(list(COLOURS.values()))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    images = np.empty((n, 3, size, size), dtype=np.float64)
    masks = np.empty((n, size, size), dtype=bool)
    edges = np.empty((n, size, size), dtype=bool)
    for i in range(n):
        alpha = np.zeros((size, size))
        for cx, cy, r in _placements(copies[i], size, rng):
            alpha = np.maximum(alpha, _coverage(labels[i], cx, cy, r, rng.uniform(0, 2 * np.pi), size))
        masks[i] = alpha >= 0.5
        edges[i] = _edge_band(masks[i])
        # a dark tinted background, so the object stands out in every colour: the network must learn
        # shapes, not one contrast polarity
        base = rng.uniform(0.05, 0.35, 3)
        bg = base[:, None, None] + 0.1 * _texture(texture[i], xx, yy, rng)[None]
        fg = np.clip(palette[colour[i]] + rng.uniform(-0.06, 0.06, 3), 0, 1)
        images[i] = alpha[None] * fg[:, None, None] + (1 - alpha[None]) * bg
    images += rng.normal(0, noise, images.shape)
    if channels == 1:
        images = images.mean(axis=1, keepdims=True)
    images = np.clip(images, 0, 1).astype(np.float32)
    if labels_out:
        return images, labels, masks, ShapeLabels(colour, texture, edges)
    return images, labels, masks


def concept_names():
    """The names of ``concept_masks``' K concepts, in order: classes, "object", parts, colours, textures."""
    return (list(CLASSES) + ["object"] + list(PARTS) + [f"{c} object" for c in COLOURS]
            + [f"{t} background" for t in TEXTURES])


def concept_masks(labels, masks, shape_labels):
    """Per-pixel concept masks (Bau et al. 2017's Broden labels, for this data set).

    labels (N,), masks bool (N, H, W) and ``ShapeLabels`` from ``make_shapes(..., labels_out=True)``
    -> bool (N, K, H, W) in the order of ``concept_names()``: each class's object pixels (empty for
    the other classes), any object, its edge and interior, the object's pixels under its colour's
    name, and the background's pixels under its texture's name."""
    n = len(labels)
    idx = np.arange(n)
    k_obj, k_col = len(CLASSES), len(CLASSES) + 1 + len(PARTS)
    k_tex = k_col + len(COLOURS)
    out = np.zeros((n, k_tex + len(TEXTURES)) + masks.shape[1:], dtype=bool)
    out[idx, labels] = masks
    out[:, k_obj] = masks
    out[:, k_obj + 1] = shape_labels.edges
    out[:, k_obj + 2] = masks & ~shape_labels.edges
    out[idx, k_col + shape_labels.colour] = masks
    out[idx, k_tex + shape_labels.texture] = ~masks
    return out
