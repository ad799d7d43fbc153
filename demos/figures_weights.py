"""Learned weights as pictures (lectures 003 and 004): first-layer filters, a linear classifier's
class templates, an MLP's hidden units as lines in the plane, and conv1 as it trains."""
import os

import numpy as np

import layers as L
import methods
from demos import plots
from demos.figure import Figure
from minigrad import Tensor, no_grad


def conv1_filters(ctx):
    conv1 = ctx.shapes.model.features[0]
    w = methods.filters(conv1)  # (K, 3, k, k), each scaled to [0, 1]
    k = conv1.kernel_size[0]
    smooth = methods.filter_smoothness(conv1)
    fresh = methods.filter_smoothness(L.Conv2d(3, conv1.out_channels, k, rng=np.random.default_rng(ctx.seed)))
    cols = 8
    fig, axes = plots.grid(int(np.ceil(len(w) / cols)), cols, size=0.9)
    for ax, f in zip(axes.ravel(), w):
        plots.image(ax, f)
    plots.save(fig, os.path.join(ctx.out, "conv1_filters.png"))
    return Figure("conv1_filters.png", "First-layer filters of the shapes network",
                  f"Each {k}x{k} RGB filter of the shapes network's first convolution (stride "
                  f"{conv1.stride[0]}), scaled to [0, 1] on its own (methods.filters): mostly colour blobs, one "
                  "colour in the centre against its opposite around it, and a few edges: on shapes of flat "
                  "colour, colour is what tells an object from its background. Smoothness (the correlation of each "
                  f"weight with its right and lower neighbours, over filters and colour channels) is {smooth:.2f}; "
                  f"a fresh random initialisation of the same layer scores {fresh:.2f}.",
                  {"filters": len(w), "smoothness": f"{smooth:.2f}", "smoothness at a fresh init": f"{fresh:.2f}",
                   "held-out accuracy": f"{ctx.shapes.info['accuracy']:.3f}"},
                  claims={"smoothness": smooth, "smoothness_fresh_init": fresh, "kernel_size": k})


def linear_templates(ctx):
    """W's rows beside the images they approach. For softmax cross-entropy with the penalty
    (lambda/2) ||W||^2, the loss's gradient at W = 0 (the bias at its optimum, p_c = N_c/N) is
    (N_c/N)(mean - mean_c), so as lambda grows W_c -> (N_c/N)(mean_c - mean)/lambda: the class's
    mean image minus the mean of all images. The raw class means are not the reference: softmax is
    unchanged by adding one image to every row, the penalty picks rows that sum to zero, and these
    cannot all resemble class means that share most of their pixels (against the raw means even the
    limit reaches only 0.49 for the 9s and 0.51 for the 5s)."""
    W = ctx.linear.model[1].weight.data  # (10, 64)
    X, y = ctx.linear.data["X_train"], ctx.linear.data["y_train"]
    X = X.reshape(len(X), -1)
    means = np.stack([X[y == c].mean(axis=0) for c in range(len(W))])
    centred = means - X.mean(axis=0)
    r, r_raw = _row_correlations(W, centred), _row_correlations(W, means)
    fig, axes = plots.grid(3, len(W), size=1.0)
    for d in range(len(W)):
        plots.image(axes[0, d], means[d].reshape(1, 8, 8), title=str(d))
        plots.signed(axes[1, d], centred[d].reshape(8, 8), scale=np.abs(centred).max())
        plots.signed(axes[2, d], W[d].reshape(8, 8), scale=np.abs(W).max())
        plots.label_below(axes[2, d], f"r = {r[d]:.2f}")
    for row, name in enumerate(("class mean", "minus mean\nof all images", "template W_c")):
        plots.row_label(axes[row, 0], name)
    plots.save(fig, os.path.join(ctx.out, "linear_templates.png"))
    return Figure("linear_templates.png", "A linear classifier's weights are class templates",
                  "Rows of W in s = W x + b for a softmax classifier on the 8x8 digits, trained with L2 weight "
                  "decay, each shown as an image (bottom; red positive, blue negative, white 0; lecture 003): the "
                  "score of a class is the match of the image with its template. "
                  "Each template resembles its class's mean image minus the mean of all training images "
                  "(middle), the limit of L2-regularised softmax weights: r is their Pearson correlation over "
                  f"the 64 pixels (lowest {r.min():.2f}). Softmax ignores an image added to every row, so the "
                  "templates cannot all resemble the raw class means (top), which share most of their pixels "
                  f"(correlation {r_raw.min():.2f} at the lowest).",
                  {"held-out accuracy": f"{ctx.linear.info['accuracy']:.3f}",
                   "template correlation (min, mean)": f"{r.min():.2f}, {r.mean():.2f}",
                   "with the raw class means (min, mean)": f"{r_raw.min():.2f}, {r_raw.mean():.2f}"},
                  claims={"template_correlation_min": float(r.min()), "template_correlation_mean": float(r.mean()),
                          "held_out_accuracy": float(ctx.linear.info["accuracy"])})


def _row_correlations(A, B):
    """Pearson correlation of each row of A with the same row of B."""
    a, b = A - A.mean(axis=1, keepdims=True), B - B.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def mlp_lines(ctx):
    mlp, X, y = ctx.moons.model, ctx.moons.data["X"], ctx.moons.data["y"]
    first = mlp[1]
    w, b = first.weight.data, first.bias.data
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    with no_grad():
        p = mlp(Tensor(np.c_[gx.ravel(), gy.ravel()])).softmax(axis=1).data[:, 1].reshape(gx.shape)
    fig, ax = plots.chart(4.2, 3.6)
    plots.decision_map(ax, gx, gy, p)
    plots.scatter(ax, X, y)
    t = np.linspace(lo[0], hi[0], 2)
    for k in range(len(w)):  # w0 x + w1 y + b = 0; the unit is active on the side its normal points to
        if abs(w[k, 1]) > 1e-9:
            plots.line(ax, t, -(w[k, 0] * t + b[k]) / w[k, 1], kind="guide")
        else:
            plots.vline(ax, -b[k] / w[k, 0], "guide")
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
    smooth = [methods.filter_smoothness(snaps[e]) for e in epochs]
    # how far the whole layer moved since the previous snapshot, relative to where it was
    change = [float(np.linalg.norm(snaps[b] - snaps[a]) / np.linalg.norm(snaps[a])) for a, b in zip(epochs, epochs[1:])]
    fig, axes = plots.grid(len(epochs), K, size=0.8)
    for r, e in enumerate(epochs):
        for c in range(K):
            plots.image(axes[r, c], plots.normalize(snaps[e][c]))
        label = f"epoch {e}\nsmooth. {smooth[r]:.2f}" + (f"\nchange {change[r - 1]:.2f}" if r else "")
        plots.row_label(axes[r, 0], label, small=True)
    plots.save(fig, os.path.join(ctx.out, "filter_evolution.png"))
    return Figure("filter_evolution.png", "Conv1 filters while the network trains",
                  "The first 8 filters of the shapes network's first layer at initialisation (epoch 0: PyTorch's "
                  "kaiming-uniform, scaled down 10x so that what training adds is not hidden by the start) and "
                  "after the listed epochs. 'change': ||W_e - W_prev|| / ||W_prev|| since the row above; "
                  "smoothness as in the filters figure: "
                  + ", ".join(f"epoch {e}: {s:.2f}" for e, s in zip(epochs, smooth)) + ".",
                  {"snapshots": ", ".join(map(str, epochs)),
                   **{f"change to epoch {e}": f"{c:.2f}" for e, c in zip(epochs[1:], change)}},
                  claims={"epochs": epochs, "smoothness": smooth, "relative_change": change})


FIGURES = (conv1_filters, filter_evolution, linear_templates, mlp_lines)
