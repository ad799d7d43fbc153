"""Captum's ``visualize_image_attr`` for this repository's images: an attribution map drawn as a
heat map, over the image, as a mask or as the image's transparency, after Captum's
outlier-percentile normalisation.

Layout: attributions (H, W) or (C, H, W) and images (C, H, W) or (H, W), this repository's
convention (Captum takes (H, W, C)); a channel axis found last is refused, naming the move that
fixes it. Images in [0, 1] are scaled to 0..255 and truncated to integers, as Captum does.
"""
import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from demos import plots
from minigrad.argument_checks import array, number, one_of

SIGNS = ("all", "positive", "negative", "absolute_value")
DISPLAYS = ("heat_map", "blended_heat_map", "masked_image", "alpha_scaling", "original_image")

# white at zero like plots.SIGNED, whose two halves these are
_POSITIVE = LinearSegmentedColormap.from_list("positive", ["#ffffff", plots.RED])
_NEGATIVE = LinearSegmentedColormap.from_list("negative", ["#ffffff", plots.BLUE])
# sign -> (default colour map, its limits); Captum's are RdWhGn, Greens, Reds, Blues
_COLOUR_MAPS = {"all": (plots.SIGNED, -1, 1), "positive": (_POSITIVE, 0, 1), "negative": (_NEGATIVE, 0, 1),
                "absolute_value": (plots.HEAT, 0, 1)}


def normalized_attribution(attr, sign="absolute_value", outlier_perc=2):
    """The map Captum draws (``captum.attr.visualization._normalize_attr``): keep the values of
    ``sign`` (all; positive: max(a, 0); negative: min(a, 0); absolute_value: |a|), then divide by
    the threshold t at which the sorted |values| reach (100 - outlier_perc)% of their sum, so the
    largest values, holding outlier_perc% of the total, saturate, and clip to [-1, 1]:

        a' = clip(a / t, -1, 1)   (a / -t for 'negative', so its values are >= 0, as Captum)

    attr : (H, W), or (C, H, W) summed over channels
    outlier_perc : in [0, 100)

    Returns (H, W) in [-1, 1] ('all') or [0, 1] (the other signs); zeros for a map with no value
    of that sign (where Captum fails on a division by 0).
    """
    a = array(attr, "attr", ndim=(2, 3))
    a = a.sum(axis=0) if a.ndim == 3 else a
    one_of(sign, "sign", SIGNS)
    outlier_perc = number(outlier_perc, "outlier_perc", low=0, high=100, high_open=True)
    a = {"all": a, "positive": np.maximum(a, 0), "negative": np.minimum(a, 0), "absolute_value": np.abs(a)}[sign]
    magnitudes = np.sort(np.abs(a).ravel())
    running = np.cumsum(magnitudes)
    if running[-1] == 0:
        return np.zeros(a.shape)
    threshold = magnitudes[np.argmax(running >= running[-1] * 0.01 * (100.0 - outlier_perc))]
    return np.clip(a / (-threshold if sign == "negative" else threshold), -1, 1)


def visualize_image_attr(attr, original_image=None, method="heat_map", sign="absolute_value", outlier_perc=2,
                         cmap=None, alpha_overlay=0.5, ax=None, show_colorbar=False, title=None):
    """Draw an attribution map the way Captum's ``visualize_image_attr`` does, with its modes:

    - 'heat_map': the normalised map (``normalized_attribution``) in a colour map
    - 'blended_heat_map': the same, with opacity ``alpha_overlay``, over the image in grey (the
      mean of its channels)
    - 'masked_image': the image times the normalised map (not with sign 'all': a negative mask
      has no meaning)
    - 'alpha_scaling': the image with the normalised map as its opacity (not with sign 'all')
    - 'original_image': the image alone

    attr : (H, W) or (C, H, W) (channels summed); original_image : (C, H, W) with C = 1 or 3, or
        (H, W), in [0, 1] (or 0..255); needed by every method but 'heat_map'
    sign, outlier_perc : as ``normalized_attribution``
    cmap : a matplotlib colour map; default by sign: 'all' the gallery's signed map (blue, white,
        red), 'positive' white to red, 'negative' white to blue, 'absolute_value' the gallery's
        heat map (Captum: RdWhGn, Greens, Reds, Blues)
    ax : the axes to draw into; default a new figure of one panel
    show_colorbar : a horizontal colour bar under the heat map modes

    Returns (fig, ax).
    """
    one_of(method, "method", DISPLAYS)
    one_of(sign, "sign", SIGNS)
    alpha_overlay = number(alpha_overlay, "alpha_overlay", low=0, high=1)
    if method in ("masked_image", "alpha_scaling") and sign == "all":
        raise ValueError(f"sign: method {method!r} needs one sign ('positive', 'negative' or 'absolute_value'), "
                         f"got 'all' (a mask or an opacity cannot be negative)")
    a = array(attr, "attr", ndim=(2, 3))
    if original_image is None:
        if method != "heat_map":
            raise ValueError(f"original_image: method {method!r} draws over the image, got None (only 'heat_map' "
                             f"needs no image)")
        rgb = None
    else:
        rgb = _display_image(original_image)
        if a.shape[-2:] != rgb.shape[:2]:
            hint = ("; attr looks like Captum's (H, W, C) layout, pass np.moveaxis(attr, -1, 0)"
                    if a.ndim == 3 and a.shape[:2] == rgb.shape[:2] else "")
            raise ValueError(f"attr: expected (H, W) or (C, H, W) with the image's (H, W) = {rgb.shape[:2]}, "
                             f"got {a.shape}{hint}")
    norm = normalized_attribution(a, sign, outlier_perc)
    default_cmap, vmin, vmax = _COLOUR_MAPS[sign]
    cmap = default_cmap if cmap is None else cmap
    if ax is None:
        fig, axes = plots.grid(1, 1, size=3.0)
        ax = axes[0, 0]
    fig = ax.figure
    heat = None
    if method in ("heat_map", "blended_heat_map"):
        if method == "blended_heat_map":
            ax.imshow(rgb.mean(axis=2), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        heat = ax.imshow(norm, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                         alpha=alpha_overlay if method == "blended_heat_map" else None)
    elif method == "masked_image":
        ax.imshow(_to_pixels(rgb * norm[:, :, None]), interpolation="nearest")
    elif method == "alpha_scaling":
        ax.imshow(np.concatenate([rgb, _to_pixels(norm[:, :, None] * 255)], axis=2), interpolation="nearest")
    else:
        ax.imshow(rgb, interpolation="nearest")
    plots.clean(ax, title)
    if show_colorbar and heat is not None:
        fig.colorbar(heat, ax=ax, orientation="horizontal", fraction=0.05, pad=0.04)
    return fig, ax


def _display_image(image):
    """(C, H, W) with C = 1 or 3, or (H, W) -> (H, W, 3) integers in 0..255 (values in [0, 1] are
    scaled by 255 first, as Captum; grey repeated to three channels)."""
    img = array(image, "original_image", ndim=(2, 3))
    if img.ndim == 3 and img.shape[0] not in (1, 3):
        hint = ("; it looks like Captum's (H, W, C) layout, pass np.moveaxis(original_image, -1, 0)"
                if img.shape[-1] in (1, 3) else "")
        raise ValueError(f"original_image: expected (C, H, W) with C = 1 or 3, or (H, W), got {img.shape}{hint}")
    img = img[None] if img.ndim == 2 else img
    img = np.repeat(img, 3, axis=0) if len(img) == 1 else img
    return _to_pixels(img.transpose(1, 2, 0) * (255 if img.max() <= 1 else 1))


def _to_pixels(values):
    """Captum's ``_prepare_image``: truncate to integers and clip to 0..255."""
    return np.clip(values.astype(int), 0, 255)
