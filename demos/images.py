"""Images for style, texture and DeepDream demos, from what is installed (nothing is downloaded):
a photograph shipped in matplotlib's sample data and procedurally drawn textures."""
import numpy as np
from PIL import Image

from minigrad.argument_checks import rng as seed_rng


def photograph(size=64):
    """Grace Hopper's portrait from matplotlib's sample data: float32 (3, size, size) in [0, 1]."""
    import matplotlib.cbook

    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB")
    side = min(img.size)
    left, top = (img.size[0] - side) // 2, (img.size[1] - side) // 4  # the face sits high
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return (np.asarray(img, dtype=np.float32) / 255.0).transpose(2, 0, 1)


def procedural_texture(size=64, kind="waves", seed=0):
    """A seeded colourful texture, float32 (3, size, size) in [0, 1].

    kind: 'waves' (interfering sinusoids in three hues), 'cells' (a Voronoi pattern of coloured
    cells with dark borders), 'stripes' (diagonal bands) or 'tartan' (a woven check: one sett of
    six coloured bands, repeated three times, for both the warp (columns) and the weft (rows),
    each pixel the mean of its two threads, under a 2/2 twill's diagonal shading)."""
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    rng = seed_rng(seed, "seed")
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == "waves":
        img = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(2, 6) * xx + rng.uniform(1, 4) * yy)
                                           + 3 * np.sin(2 * np.pi * rng.uniform(1, 3) * yy)) for _ in range(3)])
    elif kind == "cells":
        seeds = rng.uniform(0, 1, (24, 2))
        d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
        order = np.sort(d, axis=-1)
        colours = rng.uniform(0.2, 1.0, (24, 3))
        img = colours[d.argmin(-1)].transpose(2, 0, 1) * np.clip((np.sqrt(order[..., 1]) - np.sqrt(order[..., 0]))
                                                                  * size / 2, 0, 1)
    elif kind == "stripes":
        t = (xx + yy) * rng.uniform(4, 8)
        band = (np.floor(t) % 3).astype(int)
        colours = rng.uniform(0.1, 1.0, (3, 3))
        img = colours[band].transpose(2, 0, 1) * (0.75 + 0.25 * np.cos(2 * np.pi * t))
    elif kind == "tartan":
        colours = rng.uniform(0.1, 1.0, (3, 3))[rng.integers(0, 3, 6)]
        edges = np.cumsum(rng.uniform(0.5, 2.0, 6))
        # 8 samples across each pixel: a band edge inside a pixel blends the two colours, so the
        # colours vary smoothly as in woven cloth rather than in a few flat levels
        u = (np.arange(8 * size) + 0.5) / (8 * size) * 3 % 1.0
        thread = colours[np.searchsorted(edges / edges[-1], u)].reshape(size, 8, 3).mean(axis=1)
        i = np.arange(size)
        twill = 0.85 + 0.15 * np.cos(np.pi * (i[:, None] + i[None, :]) / 2)  # period 4 along the diagonal
        img = (0.5 * (thread[:, None] + thread[None, :]) * twill[..., None]).transpose(2, 0, 1)
    else:
        raise ValueError(f"kind: expected 'waves', 'cells', 'stripes' or 'tartan', got {kind!r}")
    return np.clip(img, 0, 1).astype(np.float32)
