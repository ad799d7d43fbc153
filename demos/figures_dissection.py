"""Network dissection (Bau et al. 2017; lecture 001): each unit's best concept, with the shapes'
object masks as the concepts."""
import os

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from demos.shapes import CLASSES


def dissection(ctx):
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    masks = ctx.shapes.data["masks_test"]
    concepts = np.concatenate([methods.concept_masks(masks, y, len(CLASSES)), masks[:, None]], axis=1)
    names = list(CLASSES) + ["any object"]
    layer = net.features[-1]
    result = methods.dissection(net, layer, X, concepts, quantile=0.995 if not ctx.quick else 0.98)
    best = result["ranking"][:6]
    A = methods.activations(net, X, layer)
    fig, axes = plots.grid(len(best), 4, size=1.2)
    for r, k in enumerate(best):
        c = result["concept"][k]
        # the images of the unit's concept where it fires most, with its thresholded map
        members = np.flatnonzero(concepts[:, c].any(axis=(1, 2)))
        order = members[np.argsort(-A[members, k].max(axis=(1, 2)))][:4]
        up = methods.bilinear_resize(A[order, k], X.shape[2:])
        for col, (n, m) in enumerate(zip(order, up)):
            ax = axes[r, col]
            plots.image(ax, X[n])
            ax.contour(m > result["threshold"][k], levels=[0.5], colors="yellow", linewidths=1)
            ax.contour(concepts[n, c], levels=[0.5], colors="cyan", linewidths=0.6)
        axes[r, 0].set_ylabel(f"unit {k}\n{names[c]}\nIoU {result['iou'][k]:.2f}", fontsize=7)
    plots.save(fig, os.path.join(ctx.out, "dissection.png"))
    n_det = int(result["detector"].sum())
    return Figure("dissection.png", "Network dissection: units and their concepts",
                  "For each unit of GAPNet's last ReLU: the threshold T_k at its top 0.5% activation over the test "
                  "set, the maps upsampled and thresholded (yellow), and IoU_k,c = sum|M_k and L_c| / sum|M_k or L_c| "
                  "with every concept's masks (cyan) over the data set (Bau et al. 2017). Concepts: each shape "
                  "class's object masks, and any object. Rows: the 6 units with the highest IoU.",
                  {"units": len(result["iou"]), "detectors (IoU >= 0.04)": n_det,
                   "best": f"unit {best[0]} = {names[result['concept'][best[0]]]}, IoU {result['iou'][best[0]]:.2f}"})


FIGURES = (dissection,)
