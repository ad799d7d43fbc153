"""Can we trust the maps? (Adebayo et al. 2018): cascading model randomisation, and how well each
method localises the object on the shapes' ground-truth masks (the pointing game, Zhang et al. 2016)."""
import os

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from demos.figures_attribution import examples
from demos.gallery_models import relus


def model_randomization(ctx):
    net = ctx.shapes.model.double()  # float64 while weights are swapped, float32 again after
    try:
        x, y, _ = examples(ctx)
        x = x.astype(np.float64)
        cases = [("gradient", methods.gradient), ("guided backprop", methods.guided_backprop)]
        results = [methods.model_randomization(m, net, x, y, seed=ctx.seed, return_maps=True) for _, m in cases]
    finally:
        net.float()
    names = results[0]["layers"]
    fig = plots.figure(9, 3.4)
    grid = fig.add_gridspec(2, len(names) + 3, width_ratios=[1] * (len(names) + 1) + [0.3, 3.2])
    numbers = {}
    curve = fig.add_subplot(grid[:, -1])
    for row, ((name, _), r) in enumerate(zip(cases, results)):
        for j, m in enumerate([r["original"][0]] + list(r["maps"][:, 0])):
            ax = fig.add_subplot(grid[row, j])
            plots.heat(ax, np.abs(m), title=("trained" if j == 0 else f"-> {names[j - 1]}") if row == 0 else None)
            if j == 0:
                plots.row_label(ax, name)
        rho = r["spearman_abs"].mean(axis=1)
        plots.line(curve, range(len(rho) + 1), np.r_[1.0, rho], kind="series", label=name)
        numbers[f"{name}: rank correlation after all layers"] = f"{rho[-1]:.2f}"
    plots.category_ticks(curve, ["trained"] + names, small=True)
    plots.axis_labels(curve, y="Spearman rho of |maps|")
    plots.tick_labels(curve, small=True)
    plots.legend(curve)
    plots.save(fig, os.path.join(ctx.out, "sanity.png"))
    rhos = [r["spearman_abs"].mean(axis=1) for r in results]
    mid = len(names) // 2 - 1  # about half the layers randomised, from the top
    return Figure("sanity.png", "Sanity check: randomise the model from the top down",
                  "Re-initialise the shapes network's layers cumulatively from the output down and compare each "
                  "method's map with the trained model's (Spearman rank correlation of |maps| over 4 images; "
                  "Adebayo et al. 2018). A map that explains the model must change when the model does. With the "
                  f"layers down to {names[mid]} randomised, the gradient's map keeps a rank correlation of "
                  f"{rhos[0][mid]:.2f} and guided backprop's {rhos[1][mid]:.2f}"
                  + (": guided backprop changes less while the top of the network is random, as Adebayo et al. "
                     "found" if rhos[1][mid] > rhos[0][mid] else "") + "; with every layer random they fall to "
                  f"{rhos[0][-1]:.2f} and {rhos[1][-1]:.2f}.", numbers,
                  claims={"layers": list(names), "rho_gradient": [float(v) for v in rhos[0]],
                          "rho_guided_backprop": [float(v) for v in rhos[1]]})


def localization(ctx):
    net = ctx.shapes.model
    X, y, masks = (ctx.shapes.data[k] for k in ("X_test", "y_test", "masks_test"))
    n = 40 if ctx.quick else 80
    X, y, masks = X[:n], y[:n], masks[:n]
    last = net.features[-1]
    H = X.shape[2]
    candidates = [
        ("saliency", lambda: methods.saliency(net, X, y)),
        ("SmoothGrad", lambda: methods.smoothgrad(methods.saliency, net, X, y, n_samples=10)),
        ("IG", lambda: np.abs(methods.integrated_gradients(net, X, y, n_steps=16)).sum(axis=1)),
        ("guided BP", lambda: np.abs(methods.guided_backprop(net, X, y)).sum(axis=1)),
        ("CAM", lambda: methods.cam(net, X, y)),
        ("Grad-CAM", lambda: methods.gradcam(net, X, y, last)),
        ("Grad-CAM++", lambda: methods.gradcam_plus_plus(net, X, y, last)),
        ("LRP", lambda: methods.lrp(net, X, y).sum(axis=1)),
        ("c-MWP", lambda: methods.excitation_backprop(net, X, y, layer=relus(net)[1], contrastive=True)),
        ("occlusion", lambda: methods.occlusion(net, X, y, window=max(2, H // 4), stride=max(1, H // 6))),
        ("random", lambda: np.random.default_rng(ctx.seed).random(masks.shape)),
    ]
    names, hits, energy = [], [], []
    for name, run in candidates:
        s = methods.localization_score(run(), masks)
        names.append(name)
        hits.append(s["pointing_hit"].mean())
        energy.append(s["energy_inside"].mean())
    fig, ax = plots.chart(7.5, 2.8)
    plots.bars(ax, names, {"pointing game: max inside the mask": hits, "share of positive attribution inside": energy})
    plots.hline(ax, masks.mean(), "level", label=f"mask area ({masks.mean():.2f})")
    ax.set_ylim(0, 1)
    plots.tick_labels(ax)
    plots.legend(ax, small=True, loc="upper right")
    plots.save(fig, os.path.join(ctx.out, "localization.png"))
    best = names[int(np.argmax(hits))]
    return Figure("localization.png", "Do the maps point at the object?",
                  f"On {n} test shapes with ground-truth masks: the pointing game (is the map's maximum inside the "
                  "object? Zhang et al. 2016) and the share of positive attribution inside the mask; the dashed line "
                  "is what a uniform map scores.",
                  {"best pointing game": f"{best} {max(hits):.2f}",
                   **{f"{k} pointing": f"{h:.2f}" for k, h in zip(names, hits)}})


FIGURES = (model_randomization, localization)
