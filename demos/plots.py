"""Plot helpers for the gallery (the only module that styles figures): the signed red/blue colormap
with white at zero (lecture 002), heatmap overlays with a shared or per-map scale (as Captum's
``visualize_image_attr``), image grids, and scatter plots with class colours."""
import os

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or opened
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

#: Negative blue, zero white, positive red.
SIGNED = LinearSegmentedColormap.from_list("signed", ["#2166ac", "#ffffff", "#b2182b"])
CLASS_COLOURS = plt.get_cmap("tab10")


def as_rgb(img):
    """(C, H, W) with C in (1, 3) in [0, 1] -> (H, W, 3) clipped, for imshow."""
    img = np.asarray(img, dtype=np.float64)
    img = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
    return np.clip(img.transpose(1, 2, 0), 0, 1)


def normalize(img):
    """Scale an image to [0, 1] by its own min and max (for weights and optimised images)."""
    img = np.asarray(img, dtype=np.float64)
    lo, hi = img.min(), img.max()
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def signed(ax, m, scale=None, title=None):
    """A signed map in the red/blue colormap, white at zero, symmetric limits +-scale
    (default: the map's own max |m|)."""
    s = float(np.abs(m).max()) if scale is None else float(scale)
    ax.imshow(m, cmap=SIGNED, vmin=-s or -1, vmax=s or 1, interpolation="nearest")
    clean(ax, title)


def image(ax, img, title=None):
    """An image (C, H, W) in [0, 1]."""
    ax.imshow(as_rgb(img), interpolation="nearest")
    clean(ax, title)


def overlay(ax, img, heat, scale=None, title=None, alpha=0.55, signed_map=False):
    """A heatmap (H, W) over a greyed image (C, H, W): positive values in 'inferno' (or the signed
    map for signed data), scaled by ``scale`` (shared across maps) or by the map's own maximum."""
    grey = as_rgb(img).mean(axis=2)
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    s = float(np.abs(heat).max()) if scale is None else float(scale)
    s = s or 1.0
    if signed_map:
        ax.imshow(heat, cmap=SIGNED, vmin=-s, vmax=s, alpha=alpha, interpolation="bilinear")
    else:
        ax.imshow(np.maximum(heat, 0), cmap="inferno", vmin=0, vmax=s, alpha=alpha, interpolation="bilinear")
    clean(ax, title)


def grid(rows, cols, size=1.3, title=None):
    """A figure with a rows x cols grid of axes (always 2-D), for image panels."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size + (0.4 if title else 0)), squeeze=False)
    if title:
        fig.suptitle(title, fontsize=10)
    for ax in axes.ravel():
        clean(ax)
    return fig, axes


def scatter(ax, Y, labels, title=None, names=None, s=4):
    """2-D points coloured by class, with a legend when ``names`` are given."""
    labels = np.asarray(labels)
    for c in np.unique(labels):
        sel = labels == c
        ax.scatter(Y[sel, 0], Y[sel, 1], s=s, color=CLASS_COLOURS(int(c) % 10), linewidths=0,
                   label=None if names is None else names[int(c)])
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    if names is not None:
        ax.legend(fontsize=6, markerscale=2, loc="best", frameon=False)


def save(fig, path):
    """Write a PNG (tight, 110 dpi) through a temporary file, so a failure leaves no half-written
    image, and close the figure."""
    tmp = f"{path}.{os.getpid()}.tmp.png"
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def clean(ax, title=None):
    """No ticks; an optional small title."""
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=7)
