"""Plot helpers for the gallery: the only module that styles figures. The figure modules say what
to draw (an image, a signed map, a histogram, a reference line, a row label) and these helpers
decide how it looks: colours, colour maps, font sizes, line widths, figure sizes, ticks.

Image panels: ``grid`` of tick-less axes filled by ``image``, ``signed`` (the red/blue colormap
with white at zero, lecture 002), ``heat`` and ``overlay`` (heatmaps with a shared or per-map scale,
as Captum's ``visualize_image_attr``), labelled by ``row_label``/``label_below`` and marked with
``box``, ``outline`` and ``badge``. Charts: ``chart``/``charts`` of axes with ticks, filled by
``scatter``, ``scatter_values``, ``histogram``, ``bars``, ``line``, ``hline``/``vline``,
``decision_map`` and ``shade``, and labelled by ``title``, ``axis_labels``, ``tick_labels``,
``category_ticks`` and ``legend``. Files: ``save`` (PNG) and ``save_gif``."""
import os

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or opened
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# ---- colours ----------------------------------------------------------------------------------
RED = "#b2182b"  #: positive values, thresholds, warnings
BLUE = "#2166ac"  #: negative values, the current position
INK = "0.2"  #: a chart's main curve
BAR_GREY = "0.35"  #: histogram bars
GUIDE_GREY = "0.3"  #: construction lines drawn over a chart
MUTED = "0.4"  #: secondary text
HIGHLIGHT = "yellow"  #: what a unit found, drawn over an image
TRUTH = "cyan"  #: ground truth, drawn over an image

#: Negative blue, zero white, positive red.
SIGNED = LinearSegmentedColormap.from_list("signed", [BLUE, "#ffffff", RED])
#: Non-negative maps (attributions, |gradients|).
HEAT = "inferno"
#: A continuous value along the points of a scatter plot.
VALUES = "viridis"
CLASS_COLOURS = plt.get_cmap("tab10")

# ---- text sizes (points) ----------------------------------------------------------------------
SUPTITLE_SIZE = 10  #: a figure's title
TITLE_SIZE = 8  #: a chart's title
LABEL_SIZE = 7  #: panel titles, row labels, axis and tick labels
SMALL_SIZE = 6  #: legends, labels of several lines, labels of narrow charts

# ---- lines: the style of each kind of line ----------------------------------------------------
LINES = {
    "curve": dict(color=INK, linewidth=1),  # a quantity over a run
    "series": dict(marker="o"),  # one of several series compared, in the colour cycle
    "guide": dict(color=GUIDE_GREY, linewidth=0.8, linestyle="--"),  # construction lines
    "level": dict(color="k", linewidth=0.8, linestyle="--"),  # a reference value
    "threshold": dict(color=RED, linewidth=1),  # where something switches (0 for a ReLU)
    "cursor": dict(color=BLUE, linewidth=1.2),  # the current position in a run
}

# ---- text placed in an axes' corner (animations) ----------------------------------------------
CORNERS = {"upper left": (0.02, 0.98, "left", "top"), "lower right": (0.98, 0.02, "right", "bottom")}
CORNER_TEXT = {
    "alert": dict(fontsize=7.5, color=RED, fontweight="bold"),  # a state the reader must notice
    "note": dict(fontsize=6, color=MUTED),  # a side remark
}

#: Resolution of figures drawn to a canvas (animation frames); PNGs are written at ``SAVE_DPI``.
SCREEN_DPI = 100
SAVE_DPI = 110
#: Colours in an animated GIF's shared palette.
GIF_COLOURS = 48


# ---- figures ----------------------------------------------------------------------------------
def figure(width, height):
    """An empty figure of width x height inches, for layouts of one's own (gridspec, add_axes)."""
    return plt.figure(figsize=(width, height), dpi=SCREEN_DPI)


def grid(rows, cols, size=1.3, title=None):
    """A figure with a rows x cols grid of axes (always 2-D), for image panels: size x size inches
    each, no ticks."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size + (0.4 if title else 0)), squeeze=False)
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_SIZE)
    for ax in axes.ravel():
        clean(ax)
    return fig, axes


def charts(rows, cols, width, height):
    """A figure with a rows x cols grid of chart axes (always 2-D, with ticks), each width x height
    inches."""
    return plt.subplots(rows, cols, figsize=(cols * width, rows * height), squeeze=False)


def chart(width, height):
    """A figure of one chart, width x height inches: (fig, ax)."""
    return plt.subplots(figsize=(width, height))


# ---- image panels -----------------------------------------------------------------------------
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


def heat(ax, m, title=None):
    """A non-negative map in the heat colormap, from its own minimum to its maximum."""
    ax.imshow(m, cmap=HEAT)
    clean(ax, title)


def image(ax, img, title=None):
    """An image (C, H, W) in [0, 1]."""
    ax.imshow(as_rgb(img), interpolation="nearest")
    clean(ax, title)


def overlay(ax, img, heat, scale=None, title=None, alpha=0.55, signed_map=False):
    """A heatmap (H, W) over a greyed image (C, H, W): positive values in the heat colormap (or the
    signed map for signed data), scaled by ``scale`` (shared across maps) or by the map's own maximum."""
    grey = as_rgb(img).mean(axis=2)
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    s = float(np.abs(heat).max()) if scale is None else float(scale)
    s = s or 1.0
    if signed_map:
        ax.imshow(heat, cmap=SIGNED, vmin=-s, vmax=s, alpha=alpha, interpolation="bilinear")
    else:
        ax.imshow(np.maximum(heat, 0), cmap=HEAT, vmin=0, vmax=s, alpha=alpha, interpolation="bilinear")
    clean(ax, title)


def clean(ax, title=None):
    """No ticks; an optional small title."""
    no_ticks(ax)
    if title is not None:
        ax.set_title(title, fontsize=LABEL_SIZE)


def no_ticks(ax):
    """Remove both axes' ticks and tick labels (the frame stays)."""
    ax.set_xticks([])
    ax.set_yticks([])


def blank(ax):
    """Hide a panel altogether, frame included: an empty cell of a grid."""
    ax.axis("off")


def row_label(ax, text, small=False):
    """The label of a row of panels, left of its first panel; ``small`` for labels of several lines."""
    ax.set_ylabel(text, fontsize=SMALL_SIZE if small else LABEL_SIZE)


def label_below(ax, text):
    """A label under one panel (a number that goes with it)."""
    ax.set_xlabel(text, fontsize=LABEL_SIZE)


def box(ax, top, left, height, width):
    """A highlight rectangle over an image panel around the pixels [top, top + height) x
    [left, left + width)."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=HIGHLIGHT, lw=1.2))


def outline(ax, mask, truth=False):
    """The outline of a boolean mask (H, W) over an image panel: what was found in the highlight
    colour, or (``truth``) the ground truth, thinner, in its own colour."""
    if truth:
        ax.contour(mask, levels=[0.5], colors=TRUTH, linewidths=0.6)
    else:
        ax.contour(mask, levels=[0.5], colors=HIGHLIGHT, linewidths=1)


def badge(ax, text):
    """A small number in the top-left corner of an image panel, white on a dark translucent box."""
    ax.text(0.03, 0.97, text, transform=ax.transAxes, fontsize=SMALL_SIZE, va="top", color="white",
            bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))


# ---- charts -----------------------------------------------------------------------------------
def scatter(ax, Y, labels, title=None, names=None, s=4):
    """2-D points coloured by class, with a legend when ``names`` are given."""
    labels = np.asarray(labels)
    for c in np.unique(labels):
        sel = labels == c
        ax.scatter(Y[sel, 0], Y[sel, 1], s=s, color=CLASS_COLOURS(int(c) % 10), linewidths=0,
                   label=None if names is None else names[int(c)])
    no_ticks(ax)
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    if names is not None:
        ax.legend(fontsize=SMALL_SIZE, markerscale=2, loc="best", frameon=False)


def scatter_values(ax, Y, values, title=None):
    """2-D points coloured by a continuous value (e.g. the position along a manifold), no ticks."""
    ax.scatter(Y[:, 0], Y[:, 1], c=values, cmap=VALUES, s=4, linewidths=0)
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    no_ticks(ax)


def histogram(ax, values, bins):
    """A histogram of ``values`` in grey bars."""
    ax.hist(values, bins=bins, color=BAR_GREY)


def bars(ax, categories, series):
    """Grouped bars: one group per category, the series ({label: values}) side by side within a
    group, in the colour cycle; the categories label the x axis."""
    pos = np.arange(len(categories))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(pos + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    category_ticks(ax, categories)


def line(ax, x, y, kind="curve", label=None):
    """y against x as a line of the given kind (a key of ``LINES``)."""
    return ax.plot(x, y, label=label, **LINES[kind])[0]


def hline(ax, y, kind, label=None):
    """A horizontal line across the chart at y, of the given kind (a key of ``LINES``)."""
    return ax.axhline(y, label=label, **LINES[kind])


def vline(ax, x, kind, label=None):
    """A vertical line across the chart at x, of the given kind (a key of ``LINES``); returns it (a
    cursor is moved with ``set_xdata``)."""
    return ax.axvline(x, label=label, **LINES[kind])


def decision_map(ax, gx, gy, p):
    """A classifier's probability p over the grid (gx, gy) in light signed colours (blue 0, white
    0.5, red 1), with its decision boundary p = 0.5 in black."""
    ax.contourf(gx, gy, p, levels=20, cmap=SIGNED, alpha=0.35)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.2)


def shade(ax, start, end, label):
    """Mark the x range [start, end] of a chart (a phase of a run): light red, labelled at the top."""
    ax.axvspan(start, end, color=RED, alpha=0.15, linewidth=0)
    ax.text((start + end) / 2, 0.92, label, transform=ax.get_xaxis_transform(), ha="center", va="top",
            fontsize=SMALL_SIZE, color=RED)


def title(ax, text):
    """A chart's title (image panels take theirs, smaller, through ``image``, ``signed``...)."""
    ax.set_title(text, fontsize=TITLE_SIZE)



def axis_labels(ax, x=None, y=None, small=False):
    """The x and/or y axis labels of a chart; ``small`` for a narrow chart."""
    size = SMALL_SIZE if small else LABEL_SIZE
    if x is not None:
        ax.set_xlabel(x, fontsize=size)
    if y is not None:
        ax.set_ylabel(y, fontsize=size)


def tick_labels(ax, small=False):
    """The size of a chart's tick labels; ``small`` for a narrow chart."""
    ax.tick_params(labelsize=SMALL_SIZE if small else LABEL_SIZE)


def category_ticks(ax, names, small=False):
    """Name the x positions 0, 1, ... of a chart, slanted so that long names fit; ``small`` for a
    narrow chart (smaller and steeper)."""
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, fontsize=SMALL_SIZE if small else LABEL_SIZE, rotation=30 if small else 20)


def legend(ax, small=False, loc="best"):
    """The legend of a chart's labelled artists; ``small`` for a crowded chart."""
    ax.legend(fontsize=SMALL_SIZE if small else LABEL_SIZE, loc=loc)


# ---- animations -------------------------------------------------------------------------------
def legend_below(ax):
    """The class legend of a scatter plot in one row under its axes (fixed: ``loc="best"`` would
    move it from frame to frame)."""
    ncol = len(ax.get_legend_handles_labels()[0])
    ax.legend(fontsize=SMALL_SIZE, markerscale=2, frameon=False, ncol=ncol, loc="upper center",
              bbox_to_anchor=(0.5, 0.0), handletextpad=0.1, columnspacing=0.8)


def headline(fig, y):
    """An empty line of text centred across the figure at height y (figure fraction), for a title
    that changes from frame to frame; returns the text artist."""
    return fig.text(0.5, y, "", ha="center", va="center", fontsize=8.5)


def corner_text(ax, corner, kind):
    """Empty text in a corner of an axes (a key of ``CORNERS``), styled as ``kind`` (a key of
    ``CORNER_TEXT``), for text that changes from frame to frame; returns the text artist."""
    x, y, ha, va = CORNERS[corner]
    return ax.text(x, y, "", transform=ax.transAxes, ha=ha, va=va, **CORNER_TEXT[kind])


def strip_axes(ax, xlabel, ylabel):
    """Axis labels and ticks of a thin chart strip under another panel: small text, short ticks,
    little padding."""
    ax.set_xlabel(xlabel, fontsize=SMALL_SIZE, labelpad=1)
    ax.set_ylabel(ylabel, fontsize=SMALL_SIZE)
    ax.tick_params(labelsize=5.5, length=2, pad=1)


# ---- files ------------------------------------------------------------------------------------
def save(fig, path):
    """Write a PNG (tight, ``SAVE_DPI``) through a temporary file, so a failure leaves no
    half-written image, and close the figure."""
    tmp = f"{path}.{os.getpid()}.tmp.png"
    try:
        fig.savefig(tmp, dpi=SAVE_DPI, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_gif(path, frames, durations):
    """An animated GIF of frames ((H, W, 3) uint8), looping, each shown for its duration (ms),
    through a temporary file (as ``save``). All frames share one palette made from the first and
    last frames, without dithering: per-frame palettes flicker and dithered flat colours compress
    worse."""
    from PIL import Image

    palette = Image.fromarray(np.concatenate([frames[0], frames[-1]])).quantize(colors=GIF_COLOURS)
    # median cut leaves several near-whites (the background averaged with anti-aliased edges) and
    # Pillow's approximate nearest-colour search then paints the background (252, 250, 253): merge
    # them into the page's white
    rgb = np.array(palette.getpalette()[:3 * GIF_COLOURS]).reshape(-1, 3)
    rgb[np.all(rgb >= 245, axis=1)] = 255
    palette.putpalette(rgb.ravel().tolist())
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def table(ax, header, rows, swatches, muted_rows=()):
    """A table of text filling a blank panel: the header row bold, ``muted_rows`` (indices into
    ``rows``) in grey, and before each row a swatch of its colour (``swatches``, one per row), so
    that the table is the legend of the chart beside it."""
    blank(ax)
    table = ax.table(cellText=[[""] + row for row in rows], colLabels=[""] + header, loc="center",
                     cellLoc="right", colLoc="right")
    table.auto_set_font_size(False)
    table.set_fontsize(LABEL_SIZE)
    table.scale(1, 1.25)
    for (r, c), cell in table.get_celld().items():
        cell.set_linewidth(0)
        if c == 1:
            cell.set_text_props(ha="left")
        if r == 0:
            cell.set_text_props(fontweight="bold")
        elif c == 0:
            cell.set_facecolor(swatches[r - 1])
        elif r - 1 in muted_rows:
            cell.set_text_props(color=MUTED)
    table.auto_set_column_width(range(1, len(header) + 1))
    for r in range(len(rows) + 1):
        table[r, 0].set_width(0.03)
