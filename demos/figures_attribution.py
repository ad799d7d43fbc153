"""Which pixels matter (lectures 000, 001, 003, 004): occlusion, gradients, SmoothGrad, integrated
gradients, deconvnet and guided backprop, the CAM family, LRP and contrastive excitation backprop."""
import os

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from demos.gallery_models import relus
from demos.shapes import CLASSES
from minigrad import relevance


def examples(ctx, n=4):
    """n correctly classified test images of different classes: (x (n, C, H, W), labels, indices)."""
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    pred = ctx.predict(net, X).argmax(1)
    chosen, seen = [], set()
    for i in np.flatnonzero(pred == y):
        if y[i] not in seen:
            chosen.append(i)
            seen.add(y[i])
        if len(chosen) == n:
            break
    idx = np.array(chosen)
    return X[idx], y[idx], idx


def occlusion(ctx):
    net = ctx.shapes.model
    x, y, _ = examples(ctx)
    H = x.shape[2]
    window, stride = max(2, H // 4), max(1, H // 12)
    maps = methods.occlusion(net, x, y, window=window, stride=stride, baseline=0.0)
    fig, axes = plots.grid(2, len(x), size=1.4)
    for c in range(len(x)):
        plots.image(axes[0, c], x[c], title=CLASSES[y[c]])
        plots.signed(axes[1, c], maps[c], title=f"max drop {maps[c].max():.2f}")
    plots.save(fig, os.path.join(ctx.out, "occlusion.png"))
    return Figure("occlusion.png", "Occlusion sensitivity",
                  f"Slide a {window}x{window} black patch with stride {stride} over the image (lecture 004's "
                  "window and stride, scaled to the image) and map how much the class score drops, each pixel "
                  "averaging the windows that cover it (Zeiler & Fergus 2014, sec. 4.2). Red: hiding it hurts "
                  "the class; blue: hiding it helps.", {"window": window, "stride": stride})


def attribution_grid(ctx):
    net = ctx.shapes.model
    x, y, _ = examples(ctx)
    last = net.features[-1]
    n_samples = 8 if ctx.quick else 25
    columns = [
        ("saliency", methods.saliency(net, x, y), "heat"),
        ("SmoothGrad", methods.smoothgrad(methods.saliency, net, x, y, n_samples=n_samples), "heat"),
        ("integrated\ngradients", methods.integrated_gradients(net, x, y, n_steps=32).sum(axis=1), "signed"),
        ("deconvnet", methods.deconvnet(net, x, y).sum(axis=1), "signed"),
        ("guided\nbackprop", methods.guided_backprop(net, x, y).sum(axis=1), "signed"),
        ("CAM", methods.cam(net, x, y), "heat"),
        ("Grad-CAM", methods.gradcam(net, x, y, last), "heat"),
        ("Guided\nGrad-CAM", methods.guided_gradcam(net, x, y, last).sum(axis=1), "signed"),
        ("Grad-CAM++", methods.gradcam_plus_plus(net, x, y, last), "heat"),
        ("LRP (eps,\ngamma below)", methods.lrp(net, x, y, layer_rules={net.features[0]: relevance.gamma(0.25)})
         .sum(axis=1), "signed"),
        ("c-MWP", methods.excitation_backprop(net, x, y, layer=relus(net)[1], contrastive=True), "heat"),
    ]
    fig, axes = plots.grid(len(x), len(columns) + 1, size=1.05)
    for r in range(len(x)):
        plots.image(axes[r, 0], x[r], title="input" if r == 0 else None)
        plots.row_label(axes[r, 0], CLASSES[y[r]])
        for c, (name, maps, kind) in enumerate(columns):
            ax, title = axes[r, c + 1], name if r == 0 else None
            if kind == "signed":
                plots.signed(ax, maps[r], title=title)
            else:  # non-negative maps over the image
                plots.overlay(ax, x[r], maps[r], title=title)
    plots.save(fig, os.path.join(ctx.out, "attributions.png"))
    return Figure("attributions.png", "Gradients, rules and class activation maps, side by side",
                  "One forward pass per method, differentiated under different backward rules. Saliency: "
                  "max_c |dy/dx| (Simonyan et al. 2013); SmoothGrad: its mean over noisy copies, sigma = 15% of the "
                  f"range, {n_samples} samples (Smilkov et al. 2017); integrated gradients: (x - x') int dy/dx "
                  "(Sundararajan et al. 2017, eq. 1); deconvnet: relu(g) at each ReLU (Zeiler & Fergus 2014); guided "
                  "backprop: relu(g) * 1[x > 0] (Springenberg et al. 2014); CAM: sum_k w^c_k A^k (Zhou et al. 2016, "
                  "eq. 2); Grad-CAM: ReLU(sum_k mean(dy/dA^k) A^k) (Selvaraju et al. 2017, eqs. 1-2) and its product "
                  "with guided backprop; Grad-CAM++ (Chattopadhay et al. 2018); LRP-eps with LRP-gamma in the first "
                  "layer (Montavon et al. 2019); contrastive marginal winning probability (Zhang et al. 2016). "
                  "Signed maps: red positive, blue negative.", {"images": len(x), "methods": len(columns)})


FIGURES = (occlusion, attribution_grid)
