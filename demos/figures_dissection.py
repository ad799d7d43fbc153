"""Network dissection (Bau et al. 2017; lecture 001): each unit's best concept, with the shapes'
labelled pixels (object classes, parts, colours, background textures) as the concepts."""
import os

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from demos.gallery_models import relus
from demos.shapes import concept_masks, concept_names

#: The top fraction of a unit's activations over the data set that counts as the unit "firing".
#: Bau et al. take the top 0.5% (quantile 0.995) over Broden, whose concepts each cover a tiny share
#: of its pixels; here a concept covers 2-20% of all pixels, and a mask of 0.5% could reach an IoU
#: of at most 0.025-0.25 even if it lay wholly inside one: the top 10% is on the concepts' scale.
QUANTILE = 0.9
IOU_DETECTOR = 0.2


def dissection(ctx):
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    n = 300 if ctx.quick else len(X)
    X, y = X[:n], y[:n]
    concepts = concept_masks(y, ctx.shapes.data["masks_test"][:n], ctx.shapes.data["labels_test"][:n])
    names = concept_names()
    layers = relus(net)
    units = []  # (iou, layer index, unit, concept, threshold) for every unit of every ReLU
    for li, layer in enumerate(layers):
        r = methods.dissection(net, layer, X, concepts, quantile=QUANTILE, iou_threshold=IOU_DETECTOR)
        units += [(r["iou"][k], li, k, r["concept"][k], r["threshold"][k]) for k in range(len(r["iou"]))]
    units.sort(key=lambda u: -u[0])
    detected = sorted({names[c] for iou, _, _, c, _ in units if iou >= IOU_DETECTOR})
    # show the best unit of each of up to 6 concepts, so that one concept does not fill the figure
    shown, seen = [], set()
    for u in units:
        if u[3] not in seen:
            shown.append(u)
            seen.add(u[3])
        if len(shown) == 6:
            break
    fig, axes = plots.grid(len(shown), 4, size=1.2)
    for r, (iou, li, k, c, threshold) in enumerate(shown):
        A = methods.activations(net, X, layers[li])[:, k]
        members = np.flatnonzero(concepts[:, c].any(axis=(1, 2)))
        order = members[np.argsort(-A[members].max(axis=(1, 2)))][:4]
        up = methods.bilinear_resize(A[order], X.shape[2:])
        for col, (i, m) in enumerate(zip(order, up)):
            ax = axes[r, col]
            plots.image(ax, X[i])
            plots.outline(ax, m > threshold)
            plots.outline(ax, concepts[i, c], truth=True)
        plots.row_label(axes[r, 0], f"ReLU {li + 1}, unit {k}\n{names[c]}\nIoU {iou:.2f}", small=True)
    plots.save(fig, os.path.join(ctx.out, "dissection.png"))
    best = units[0]
    return Figure("dissection.png", "Network dissection: units and their concepts",
                  f"For every unit of each of the shapes network's {len(layers)} ReLUs: the threshold T_k at its top "
                  f"{100 * (1 - QUANTILE):.0f}% activation over {n} test images, the maps upsampled and thresholded "
                  "(yellow), and IoU_k,c = sum|M_k and L_c| / sum|M_k or L_c| with every concept's pixel labels "
                  "(cyan) over the data set (Bau et al. 2017, who take the top 0.5% for their data set's smaller "
                  f"concepts). {len(names)} concepts: the object of each class, any object, its edge and interior, "
                  "its colour, the background's texture. Rows: the best unit of each of the 6 best concepts. "
                  f"{len(detected)} distinct concepts have a unit with IoU >= {IOU_DETECTOR}: {', '.join(detected)}.",
                  {"units": len(units), f"units with IoU >= {IOU_DETECTOR}": sum(u[0] >= IOU_DETECTOR for u in units),
                   "distinct concepts detected": len(detected),
                   "best": f"ReLU {best[1] + 1} unit {best[2]} = {names[best[3]]}, IoU {best[0]:.2f}"},
                  claims={"distinct_concepts_iou_0.2": len(detected), "best_iou": float(best[0]),
                          "detected_concepts": ", ".join(detected)})


FIGURES = (dissection,)
