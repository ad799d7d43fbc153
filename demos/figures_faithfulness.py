"""Are the maps faithful? Every attribution method scored by ROAD (Rong et al. 2022) and
infidelity (Yeh et al. 2019) on the shapes network, and the CAM family side by side, each map
scored by the share of its mass inside the objects' ground-truth mask."""
import os
from types import SimpleNamespace

import numpy as np

import methods
from demos import plots
from demos.figure import Figure
from demos.figures_attribution import examples
from demos.shapes import CLASSES
from minigrad import relevance

#: How far (in share of a map's mass) a CAM must be from the random CAM's share to count as apart.
CAM_MARGIN = 0.05
#: Draws of the random CAM's weights its share is averaged over (one draw's share on two images
#: varies by +-0.12 from seed to seed on the shapes network).
RANDOM_CAM_DRAWS = 16


def first_examples(ctx, n, pool=60):
    """``figures_attribution.examples(ctx, n)`` looked for among the first ``pool`` test images only:
    the same images whenever they are there, without running the network over the whole test set
    (0.7 s, a seventh of these figures' budget). -> (x (n, C, H, W), labels, indices)."""
    data = ctx.shapes.data
    prefix = {k: data[k][:pool] for k in ("X_test", "y_test")}
    return examples(SimpleNamespace(shapes=SimpleNamespace(model=ctx.shapes.model, data=prefix),
                                    predict=ctx.predict), n)


def mean_height(shares, curve):
    """The area under a ROAD curve (trapezoid rule) divided by the range of shares removed: the
    curve's mean height, comparable between the quick and the full percentiles."""
    return float(np.trapezoid(np.asarray(curve, dtype=np.float64), shares) / (shares[-1] - shares[0]))


def _attribution_methods(ctx, net, x, y):
    """[(name, maps)] of every attribution method on x, each map of x's shape (N, C, H, W), the random
    map last (the baseline)."""
    n, _, h, w = x.shape
    samples = 8 if ctx.quick else 25
    references = ctx.shapes.data["X_test"][-samples:]  # GradientShap's distribution: other test images
    found = [
        ("saliency", methods.saliency(net, x, y)),
        ("input x gradient", methods.input_x_gradient(net, x, y)),
        ("guided backprop", methods.guided_backprop(net, x, y)),
        ("integrated gradients", methods.integrated_gradients(net, x, y, n_steps=16 if ctx.quick else 50)),
        ("SmoothGrad", methods.smoothgrad(methods.saliency, net, x, y, n_samples=samples, seed=ctx.seed)),
        ("Grad-CAM", methods.gradcam(net, x, y, net.features[-1])),
        ("DeepLift", methods.deeplift(net, x, y)),
        ("GradientShap", methods.gradient_shap(net, x, y, references, n_samples=samples, seed=ctx.seed)),
        ("occlusion", methods.occlusion(net, x, y, window=max(2, h // 4), stride=max(1, h // 6))),
        ("LRP (eps, gamma below)", methods.lrp(net, x, y, layer_rules={net.features[0]: relevance.gamma(0.25)})),
        ("random map", np.random.default_rng(ctx.seed).random((n, h, w)).astype(x.dtype)),
    ]
    # a map (N, H, W) scores every channel of a pixel alike: infidelity takes x's shape, ROAD sums it back
    return [(name, np.broadcast_to(maps[:, None], x.shape) if maps.ndim == 3 else maps) for name, maps in found]


def faithfulness(ctx):
    """ROAD curves (MoRF and LeRF), their areas and infidelity for every attribution method on a few
    test shapes: the chart, the table and the caption's claims."""
    net = ctx.shapes.model
    x, y, idx = first_examples(ctx, 3 if ctx.quick else 6)
    percentiles = (0, 5, 10, 20, 40, 60) if ctx.quick else (0, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
    attributions = _attribution_methods(ctx, net, x, y)
    # the target's logit after removing each share, averaged over the images: (methods, percentiles)
    morf, lerf = (np.array([methods.road(net, x, y, maps, percentiles=percentiles, order=order, seed=ctx.seed)
                            .mean(axis=0) for _, maps in attributions])
                  for order in ("most_relevant_first", "least_relevant_first"))
    infid = np.array([methods.infidelity(net, x, y, maps, n_perturb_samples=8 if ctx.quick else 32, normalize=True,
                                         seed=ctx.seed).mean() for _, maps in attributions])
    names = [name for name, _ in attributions]
    shares = np.array(percentiles, dtype=np.float64)
    morf_auc = np.array([mean_height(shares, c) for c in morf])
    lerf_auc = np.array([mean_height(shares, c) for c in lerf])
    gap = lerf_auc - morf_auc
    random = len(names) - 1

    fig = plots.figure(11, 3.3)
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.75], wspace=0.22)
    morf_ax = fig.add_subplot(grid[0, 0])
    lerf_ax = fig.add_subplot(grid[0, 1], sharey=morf_ax)  # one scale: LeRF's curves sit above MoRF's
    for ax, curves, title in ((morf_ax, morf, "most relevant removed first (MoRF)"),
                              (lerf_ax, lerf, "least relevant removed first (LeRF)")):
        # both charts cycle the same colours: the last chart's are the table's swatches
        colours = [plots.line(ax, shares, c, kind="series" if i != random else "guide").get_color()
                   for i, c in enumerate(curves)]
        plots.title(ax, title)
        plots.axis_labels(ax, x="% of pixels removed (imputed)", y="target's logit" if ax is morf_ax else None)
        plots.tick_labels(ax)
    order = np.argsort(gap, kind="stable")[::-1]
    plots.table(fig.add_subplot(grid[0, 2]), ["method", "MoRF AUC", "LeRF AUC", "LeRF - MoRF", "infidelity"],
               [[names[i], f"{morf_auc[i]:.2f}", f"{lerf_auc[i]:.2f}", f"{gap[i]:+.2f}", f"{infid[i]:.2g}"]
                for i in order], [colours[i] for i in order], muted_rows=[int(np.flatnonzero(order == random)[0])])
    plots.save(fig, os.path.join(ctx.out, "faithfulness.png"))

    beat = [names[i] for i in order if i != random and gap[i] > gap[random]]
    missing = [name for name in names[:random] if name not in beat]
    lower_infid = [names[i] for i in np.argsort(infid, kind="stable") if i != random and infid[i] < infid[random]]
    best, worst = order[0], [i for i in order if i != random][-1]
    caption = (
        f"ROAD (Rong et al. 2022): on {len(x)} correctly classified test shapes, remove a share of the pixels in "
        "the order of each method's map, fill them in from their neighbours (noisy linear imputation, chosen by "
        "Rong et al. so that the hole's shape leaks little about the class) and read the target's logit. A "
        "faithful map makes it fall "
        "fast when the most relevant pixels go first (MoRF: a low area under the curve) and slowly when the least "
        f"relevant go first (LeRF: a high area); areas are the curves' mean heights over 0-{percentiles[-1]}% "
        f"removed. {len(beat)} of {random} methods have a larger LeRF - MoRF gap than the random map's "
        f"{gap[random]:+.2f}" + (f" (not {', '.join(missing)})" if missing else "")
        + f": from {names[worst]}'s {gap[worst]:+.2f} to {names[best]}'s {gap[best]:+.2f}. Infidelity "
        "(Yeh et al. 2019, eq. 1: the mean squared error of attr . I as an account of f(x) - f(x - I), over "
        "Gaussian perturbations I of std 0.003, each map rescaled by its best factor, f the logit): "
        f"{len(lower_infid)} of {random} methods score below the random map's {infid[random]:.2g}"
        + (f", lowest {lower_infid[0]} ({infid.min():.2g})" if lower_infid else "") + ".")
    numbers = {"images": len(x), "shares removed (%)": ", ".join(str(p) for p in percentiles),
               **{f"{names[i]}: LeRF - MoRF": f"{gap[i]:+.2f}" for i in order}}
    return Figure("faithfulness.png", "Are the maps faithful? ROAD curves and infidelity", caption, numbers,
                  claims={"images": len(x), "indices": idx.tolist(), "percentiles": list(percentiles),
                          "methods": names, "morf_curves": morf.tolist(), "lerf_curves": lerf.tolist(),
                          "morf_auc": morf_auc.tolist(), "lerf_auc": lerf_auc.tolist(), "gap": gap.tolist(),
                          "infidelity": infid.tolist(), "beat_random": beat, "below_random_infidelity": lower_infid})


def _cam_family(ctx, net, x, y):
    """[(name, maps (N, H, W))] of the CAM family at the network's last ReLU."""
    last = net.features[-1]
    return [
        ("CAM", methods.cam(net, x, y)),
        ("Grad-CAM", methods.gradcam(net, x, y, last)),
        ("Grad-CAM++", methods.gradcam_plus_plus(net, x, y, last)),
        ("HiResCAM", methods.hirescam(net, x, y, last)),
        ("XGrad-CAM", methods.xgradcam(net, x, y, last)),
        ("LayerCAM", methods.layercam(net, x, y, last)),
        ("Score-CAM", methods.scorecam(net, x, y, last)),
        ("Ablation-CAM", methods.ablationcam(net, x, y, last)),
        ("Eigen-CAM", methods.eigencam(net, x, y, last)),
        ("Eigen-Grad-CAM", methods.eigengradcam(net, x, y, last)),
        ("FullGrad", methods.fullgrad(net, x, y)),
    ]


def cam_family(ctx):
    """The CAM family's maps on two test shapes, each with the share of its mass inside the objects'
    mask, against the random CAM's share."""
    net = ctx.shapes.model
    x, y, idx = first_examples(ctx, 2 if ctx.quick else 6)
    masks = ctx.shapes.data["masks_test"][idx]
    draws = [methods.random_cam(net, x, y, net.features[-1], seed=ctx.seed + k) for k in range(RANDOM_CAM_DRAWS)]
    family = _cam_family(ctx, net, x, y) + [("random CAM", draws[0])]
    inside = {name: methods.localization_score(maps, masks)["energy_inside"] for name, maps in family}
    inside["random CAM"] = np.mean([methods.localization_score(m, masks)["energy_inside"] for m in draws], axis=0)
    shown = 2
    fig, axes = plots.grid(shown, len(family) + 1, size=1.05)
    for r in range(shown):
        plots.image(axes[r, 0], x[r], title="input" if r == 0 else None)
        plots.outline(axes[r, 0], masks[r], truth=True)
        plots.row_label(axes[r, 0], CLASSES[y[r]])
        for c, (name, maps) in enumerate(family):
            plots.overlay(axes[r, c + 1], x[r], maps[r], title=name if r == 0 else None)
            plots.badge(axes[r, c + 1], f"{inside[name][r]:.2f}")
    plots.save(fig, os.path.join(ctx.out, "cam_family.png"))

    mean = {name: float(v.mean()) for name, v in inside.items()}
    area = float(masks.mean())
    ranked = sorted(mean, key=mean.get, reverse=True)
    chance = mean["random CAM"]
    others = [k for k in ranked if k != "random CAM"]
    above = [k for k in others if mean[k] > chance + CAM_MARGIN]
    below = [k for k in others if mean[k] < chance - CAM_MARGIN]
    near = [k for k in others if k not in above and k not in below]
    groups = [(above, f"more than {CAM_MARGIN} above it"), (near, f"within {CAM_MARGIN} of it"),
              (below, f"more than {CAM_MARGIN} below it")]
    caption = (
        "The CAM family at the shapes network's last ReLU (FullGrad: the input and every layer's bias "
        "gradients), each map over its input; cyan: the objects' ground-truth mask. The number on each map is "
        f"the share of its positive mass inside the mask; a uniform map's is the mask's area. Over {len(x)} test "
        f"images ({shown} shown) the mask covers {area:.2f} of the image and the shares inside are "
        + ", ".join(f"{k} {mean[k]:.2f}" for k in ranked) + ". Against the random CAM (random channel weights; "
        f"its numbers are the mean over {RANDOM_CAM_DRAWS} draws, its map the first; {chance:.2f}): "
        + "; ".join(f"{', '.join(g)} {what}" for g, what in groups if g) + ".")
    numbers = {"images": len(x), "mask area": f"{area:.2f}", **{f"{k}: inside": f"{mean[k]:.2f}" for k in ranked}}
    return Figure("cam_family.png", "The CAM family side by side", caption, numbers,
                  claims={"images": len(x), "indices": idx.tolist(), "methods": [name for name, _ in family],
                          "energy_inside": [mean[name] for name, _ in family], "mask_area": area,
                          "above_random": above, "near_random": near, "below_random": below})


FIGURES = (faithfulness, cam_family)
