"""Learned weights as pictures (lectures 003 and 004): first-layer filters, a linear classifier's
class templates, an MLP's hidden units as lines in the plane, and conv1 as it trains."""
import os

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from minigrad import Tensor, no_grad


def conv1_filters(ctx):
    net = ctx.shapes.model
    w = methods.filters(net.features[0])  # (K, 3, k, k), each scaled to [0, 1]
    cols = 8
    fig, axes = plots.grid(int(np.ceil(len(w) / cols)), cols, size=0.9)
    for ax, f in zip(axes.ravel(), w):
        plots.image(ax, f)
    plots.save(fig, os.path.join(ctx.out, "conv1_filters.png"))
    return Figure("conv1_filters.png", "First-layer filters of the shapes network",
                  "Each 3x3 RGB filter of GAPNet's first convolution, scaled to [0, 1] on its own "
                  "(methods.filters). First layers learn colour and edge detectors.",
                  {"filters": len(w), "held-out accuracy": f"{ctx.shapes.info['accuracy']:.3f}"})


def linear_templates(ctx):
    lin = ctx.linear.model[1]
    W = lin.weight.data.reshape(10, 8, 8)
    fig, axes = plots.grid(1, 10, size=1.0)
    s = np.abs(W).max()
    for d, ax in enumerate(axes[0]):
        plots.signed(ax, W[d], scale=s, title=str(d))
    plots.save(fig, os.path.join(ctx.out, "linear_templates.png"))
    return Figure("linear_templates.png", "A linear classifier's weights are class templates",
                  "Rows of W in s = W x + b for a softmax classifier on the 8x8 digits, each shown as an image "
                  "(red positive, blue negative, white 0; lecture 003): the score of a class is the match of "
                  "the image with its template.", {"held-out accuracy": f"{ctx.linear.info['accuracy']:.3f}"})


def mlp_lines(ctx):
    mlp, X, y = ctx.moons.model, ctx.moons.data["X"], ctx.moons.data["y"]
    first = mlp[1]
    w, b = first.weight.data, first.bias.data
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    with no_grad():
        p = mlp(Tensor(np.c_[gx.ravel(), gy.ravel()])).softmax(axis=1).data[:, 1].reshape(gx.shape)
    fig, ax = plots.plt.subplots(figsize=(4.2, 3.6))
    ax.contourf(gx, gy, p, levels=20, cmap=plots.SIGNED, alpha=0.35)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.2)
    plots.scatter(ax, X, y)
    t = np.linspace(lo[0], hi[0], 2)
    for k in range(len(w)):  # w0 x + w1 y + b = 0; the unit is active on the side its normal points to
        if abs(w[k, 1]) > 1e-9:
            ax.plot(t, -(w[k, 0] * t + b[k]) / w[k, 1], color="0.3", lw=0.8, ls="--")
        else:
            ax.axvline(-b[k] / w[k, 0], color="0.3", lw=0.8, ls="--")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    plots.save(fig, os.path.join(ctx.out, "mlp_lines.png"))
    return Figure("mlp_lines.png", "An MLP's hidden units are lines in the input plane",
                  f"A 2-{len(w)}-2 ReLU MLP on two moons: each dashed line is w_k . x + b_k = 0, where hidden unit k "
                  "switches on; the output combines these half-planes into the decision region (colour: "
                  "p(class 1), black: the boundary; lecture 004).",
                  {"training accuracy": f"{ctx.moons.info['accuracy']:.3f}"})


def filter_evolution(ctx):
    snaps = ctx.shapes.snapshots
    epochs = sorted(snaps)
    K = min(8, len(snaps[epochs[0]]))
    fig, axes = plots.grid(len(epochs), K, size=0.8)
    for r, e in enumerate(epochs):
        for c in range(K):
            plots.image(axes[r, c], plots.normalize(snaps[e][c]))
        axes[r, 0].set_ylabel(f"epoch {e}", fontsize=7)
    plots.save(fig, os.path.join(ctx.out, "filter_evolution.png"))
    return Figure("filter_evolution.png", "Conv1 filters while the network trains",
                  "The first 8 filters of GAPNet's first layer at initialisation (epoch 0, PyTorch's "
                  "kaiming-uniform) and after the listed epochs: random noise turns into colour and edge "
                  "detectors.", {"snapshots": ", ".join(map(str, epochs))})


FIGURES = (conv1_filters, filter_evolution, linear_templates, mlp_lines)
