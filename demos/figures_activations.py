"""What the layers compute (lectures 001, 002, 004): activation maps per layer in the signed
colormap, activation distributions, and the top-9 patches of units with their receptive fields."""
import os

import numpy as np

import layers as L
import methods
from demos import plots
from demos.figure import Figure
from demos.gallery_models import relus
from demos.shapes import CLASSES


def _convs(net):
    """The module feeding each ReLU of ``features`` (a convolution, or its batch norm): the signed
    pre-activations."""
    mods = list(net.features)
    return [mods[i - 1] for i, m in enumerate(mods) if isinstance(m, L.ReLU) and i > 0]


def activation_maps(ctx):
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    x = X[1]
    convs = _convs(net)
    maps = methods.activations(net, x, convs)  # pre-ReLU outputs: signed
    K = 8
    fig, axes = plots.grid(len(convs), K + 1, size=1.0)
    plots.image(axes[0, 0], x, title=CLASSES[y[1]])
    for r, conv in enumerate(convs):
        A = maps[conv]
        s = np.abs(A).max()
        for c in range(K):
            plots.signed(axes[r, c + 1], A[c], scale=s, title=f"channel {c}" if r == 0 else None)
        if r > 0:
            plots.blank(axes[r, 0])
        plots.row_label(axes[r, 0 if r == 0 else 1], f"conv{r + 1}\n{A.shape[1]}x{A.shape[2]}")
    plots.save(fig, os.path.join(ctx.out, "activation_maps.png"))
    return Figure("activation_maps.png", "Activation maps, layer by layer",
                  "The first 8 feature maps of each convolution of the shapes network for one test image, before "
                  "the ReLU (after the batch norm), in "
                  "the signed colormap (red positive, blue negative, white exactly 0; lecture 002), one shared "
                  "scale per layer. Deeper maps are coarser and respond to larger parts of the shape.",
                  {"layers": len(convs)})


def activation_distributions(ctx):
    net, X = ctx.shapes.model, ctx.shapes.data["X_test"]
    convs = _convs(net)
    maps = methods.activations(net, X[:200], convs)
    fig, axes = plots.charts(1, len(convs), 3.0, 2.4)
    numbers = {}
    for ax, (r, conv) in zip(axes[0], enumerate(convs)):
        a = maps[conv].ravel()
        plots.histogram(ax, a, bins=80)
        plots.vline(ax, 0, "threshold")
        active = float((a > 0).mean())
        plots.title(ax, f"conv{r + 1}: {100 * active:.0f}% > 0 (active after ReLU)")
        ax.set_yscale("log")
        plots.tick_labels(ax)
        numbers[f"conv{r + 1} active"] = f"{active:.2f}"
    plots.save(fig, os.path.join(ctx.out, "activation_distributions.png"))
    return Figure("activation_distributions.png", "Activation distributions per layer",
                  "Histograms (log counts) of every pre-ReLU activation (after batch norm) of each convolution "
                  "over 200 test images "
                  "(lecture 004): the fraction above 0 is what passes the ReLU.", numbers)


def top_patches(ctx):
    net, X = ctx.shapes.model, ctx.shapes.data["X_test"]
    layer = relus(net)[1]
    # the 4 units most active over the images (a dead unit has no top patches to show)
    units = list(np.argsort(-methods.activations(net, X, layer).max(axis=(0, 2, 3)))[:4])
    rf = methods.receptive_field(net, layer)
    fig, axes = plots.grid(len(units), 10, size=0.95)
    for r, k in enumerate(units):
        patches, acts, where = methods.top_patches(net, X, layer, k, k=9)
        n, i, j = where[0]
        img = X[n]
        plots.image(axes[r, 0], img, title="top image" if r == 0 else None)
        top, left = rf["offset"][0] + i * rf["stride"][0], rf["offset"][1] + j * rf["stride"][1]
        plots.box(axes[r, 0], top, left, rf["size"][0], rf["size"][1])
        plots.row_label(axes[r, 0], f"unit {k}")
        for c in range(9):
            plots.image(axes[r, c + 1], patches[c], title=f"{acts[c]:.1f}")
    plots.save(fig, os.path.join(ctx.out, "top_patches.png"))
    return Figure("top_patches.png", "Top-9 patches of units",
                  "For 4 units of the shapes network's second ReLU: the 9 input patches (over all test images and "
                  "positions) "
                  "that excite each unit most, cut at the unit's receptive field (methods.receptive_field, from "
                  "kernel, stride and padding), with their activations; left: the best image, its receptive field "
                  "drawn in yellow (Girshick et al. 2014; lecture 001).",
                  {"receptive field": f"{rf['size'][0]}x{rf['size'][1]} px", "images searched": len(X)})


FIGURES = (activation_maps, activation_distributions, top_patches)
