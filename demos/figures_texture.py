"""Texture synthesis and style transfer with random filters (lectures 001 and 003), with every claim
of the caption measured while the figure is drawn: through a second random network that the
synthesis never saw, by colour histograms, and by the two losses of neural style."""
import os

import numpy as np

import layers as L
import methods
from demos import plots
from demos.figure import Figure
from demos.images import photograph, procedural_texture
from methods.image_optimization import style_transfer_losses
from methods.parameterizations import Fourier
from methods.texture_similarity import colour_histogram_intersection, gram_distance


class _RandomPyramid(L.Module):
    """Random 3x3 filter banks at several scales: level i is a ``RandomMultiScaleNet`` (zero-mean
    random filters, then ReLU; Ustyuzhaninov et al. 2017) on the image average-pooled 2^i times, so
    the filters span 3, 6, 12, ... pixels of the image. Matching Gram matrices at every level of an
    image pyramid is Snelgrove's (2017) multi-scale synthesis; pooling reaches far for little work
    (a 3x3 filter on the 4x-pooled image costs 1/16 of one on the image), where a k x k kernel on
    the full image costs k^2 per pixel. The output is the coarsest level's maps: the methods read
    the banks (``banks()``)."""

    def __init__(self, levels=3, width=64, seed=0):
        self.levels = L.Sequential(*[L.RandomMultiScaleNet(width=width, kernel_sizes=(3,), seed=seed + i)
                                     for i in range(levels)])
        self.pool = L.AvgPool2d(2)

    def forward(self, x):
        out = self.levels[0](x)
        for level in list(self.levels)[1:]:
            x = self.pool(x)
            out = level(x)
        return out

    def banks(self):
        """Every filter bank (Conv2d + ReLU), finest first: the layers whose Gram matrices count."""
        return [branch for level in self.levels for branch in level.branches]


def texture_and_style(ctx):
    """A tartan synthesised from noise and woven into the photograph by one random-filter pyramid,
    with the Gram distances, colour histogram overlap and style losses that the caption quotes."""
    size = 40 if ctx.quick else 48
    texture_steps, style_steps = (250, 100) if ctx.quick else (500, 150)
    # a 4th level (6x6 at 48 pixels) pinned the layout: the synthesis copied its source (pixel
    # correlation 0.7 on the cells); 128 filters drew slightly crisper bands but took 4-5 s
    levels, width = 3, 64
    net = _RandomPyramid(levels=levels, width=width, seed=ctx.seed).float()
    banks = net.banks()
    # a tartan, not the Voronoi cells: a Gram matrix averages products of filter responses over all
    # positions, which pins down colours, thread widths, the twill's slope and the sett's period;
    # crisp polygon outlines it does not (the cells came out as a confetti of their colours)
    texture = procedural_texture(size, "tartan", seed=ctx.seed)
    other = procedural_texture(size, "cells", seed=ctx.seed)
    # Fourier image through a sigmoid: whitened gradient, and pixels in (0, 1) by construction, so
    # the image measured is the image shown (the raw Fourier image overshot to [-0.8, 2] and was
    # clipped); lr 0.05 and 0.1 end alike, at 0.2 the sigmoid saturated into black and white blots
    synth, _ = methods.texture_synthesis(net, texture, banks, steps=texture_steps, lr=0.1,
                                         parameterization=Fourier(sigmoid=True), seed=ctx.seed, progress_bar=False)
    # the judge: one level, other filter sizes, other seed; matching ``net``'s own statistics
    # is what the synthesis was optimised for, so only another network can check the texture
    judge = L.RandomMultiScaleNet(width=32, kernel_sizes=(3, 7, 11, 15), seed=ctx.seed + 100).float()
    to_source = gram_distance(judge, synth, texture, list(judge.branches))
    to_other = gram_distance(judge, other, texture, list(judge.branches))
    # where the synthesis starts (less its 0.01 noise): a low-contrast texture is near any flat image,
    # so the distance the synthesis covered says more than the ratio to another texture alone
    flat = np.broadcast_to(texture.mean(axis=(1, 2))[:, None, None], texture.shape)
    flat_to_source = gram_distance(judge, flat, texture, list(judge.branches))
    overlap = colour_histogram_intersection(synth, texture)

    photo = photograph(size)
    content_layer = banks[1]  # the 2x-pooled level: the face's layout, with the finest scale free for the weave
    style_weight = 3e8  # 1e9 wove the face away; 1e8 left the style loss only ~10-60x lower
    styled, _ = methods.style_transfer(net, photo, texture, content_layer, banks, style_weight=style_weight,
                                       steps=style_steps, lr=0.02, seed=ctx.seed, progress_bar=False)
    styled = np.clip(styled, 0, 1)  # pixels are optimised unclamped; the losses are of the image shown
    content_before, style_before = style_transfer_losses(net, photo, photo, texture, content_layer, banks)
    content_after, style_after = style_transfer_losses(net, styled, photo, texture, content_layer, banks)

    fig, axes = plots.grid(2, 3, size=1.9)
    panels = ((texture, "texture (tartan)"), (synth, f"synthesised from noise\nGram distance {to_source:.2f}"),
              (other, f"another texture (cells)\nGram distance {to_other:.2f}"),
              (photo, "content"), (texture, "style"),
              (styled, f"styled: style loss {style_before / style_after:.0f}x lower"))
    for ax, (img, title) in zip(axes.ravel(), panels):
        plots.image(ax, img, title=title)
    plots.save(fig, os.path.join(ctx.out, "texture_style.png"))

    return Figure(
        "texture_style.png", "Texture synthesis and style transfer with random filters",
        f"A network with no trained weights: {levels} banks of {width} random zero-mean 3x3 filters + "
        f"ReLU (Ustyuzhaninov et al. 2017) on the image and on its copies average-pooled down to "
        f"1/{2 ** (levels - 1)} of its size (an image pyramid, Snelgrove 2017). Top: texture synthesis "
        f"(Gatys et al. 2015) matches the Gram matrices G = F F^T / (C H W) of every bank from noise at "
        f"the texture's mean colour ({texture_steps} Adam steps on a Fourier image through a sigmoid). "
        f"Judged by a second random network the synthesis never saw (one level, filters 3 to 15, another "
        f"seed), the summed relative Gram distance sum_l ||G_l - G_l(source)||_F / ||G_l(source)||_F is "
        f"{to_source:.2f} to the source, from {flat_to_source:.2f} for a flat image of its mean colour, "
        f"against {to_other:.2f} for the cells, {to_other / to_source:.0f}x further; the per-channel "
        f"16-bin colour histograms intersect at {overlap:.2f} (1 = identical). Gram matrices are averages "
        f"over positions: the synthesis keeps the colours, thread widths, the twill's slope and the "
        f"check's size, but its bands wander and break, as no statistic says where each one lies. "
        f"Bottom: style transfer (Gatys et al. 2016, eq. 7) from the photograph ({style_steps} steps) "
        f"keeps the 2x-pooled bank's responses to it and the tartan's Gram matrices at every bank, style "
        f"weight {style_weight:g}: the style loss falls from {style_before:.3g} to {style_after:.3g} while "
        f"the content loss rises from {content_before:.3g} (the start is the photograph) to "
        f"{content_after:.3g}.",
        {"Gram distance to the source: synthesis / flat start / cells":
            f"{to_source:.2f} / {flat_to_source:.2f} / {to_other:.2f}",
         "colour histogram intersection": f"{overlap:.2f}",
         "style loss": f"{style_before:.3g} -> {style_after:.3g}",
         "content loss": f"{content_before:.3g} -> {content_after:.3g}",
         "size": f"{size}x{size}", "filters per level": width,
         "steps (texture, style)": f"{texture_steps}, {style_steps}"},
        claims={"gram_distance_to_source": to_source, "gram_distance_to_other_texture": to_other,
                "gram_distance_flat_to_source": flat_to_source,
                "gram_ratio": to_other / to_source, "colour_histogram_intersection": overlap,
                "content_loss_before": content_before, "content_loss_after": content_after,
                "style_loss_before": style_before, "style_loss_after": style_after,
                "texture_steps": texture_steps, "style_steps": style_steps, "size": size, "width": width})


FIGURES = (texture_and_style,)
