"""Images made by optimisation (lectures 001 and 003): class models under each prior, unit
visualisations, DeepDream, fooling images and feature inversion (textures and style: figures_texture)."""
import os

import numpy as np

import layers as L
import methods
from demos import plots
from demos.figure import Figure
from demos.gallery_models import relus
from demos.images import photograph
from demos.shapes import CLASSES
from methods.objectives import Objective
from methods.regularizers import Clamp


def _per_image_class(classes):
    """An objective whose image i maximises the logit of classes[i] (one batch, one class each)."""
    idx = np.arange(len(classes))
    return Objective(lambda out, cap: out[idx, classes], (), "class_score per image")


def saturated_fraction(images, low=0.01, high=0.99):
    """The share of pixel values at the ends of the valid range (<= low or >= high): an image that
    an optimiser pushed into the clamp."""
    images = np.asarray(images)
    return float(((images <= low) | (images >= high)).mean())


#: The class-model columns: (title, preset, key). The first two are baselines, kept to show what the
#: priors fix: no prior but the valid range, and Simonyan et al.'s L2 penalty alone, whose images
#: saturate; the claims (recognised by a second network, few saturated pixels) are for the others.
CLASS_MODEL_COLUMNS = (("no prior", "simonyan", "no_prior"),
                       ("L2 only\n(Simonyan)", "simonyan", "simonyan"),
                       ("L2, jitter, blur\n(cs231n)", "cs231n", "cs231n"),
                       ("decay, blur, clip\n(Yosinski)", "yosinski", "yosinski"),
                       ("Fourier, transforms\n(lucid)", "lucid", "lucid"))
BASELINES = ("no_prior", "simonyan")


def class_model_grid(ctx):
    net = ctx.shapes.model
    size = ctx.shapes.data["X_test"].shape[-1]
    steps = 60 if ctx.quick else 100
    classes = np.arange(len(CLASSES))
    images, scores, recognised, saturated = {}, {}, {}, {}
    for _, preset, key in CLASS_MODEL_COLUMNS:
        settings = dict(regularizers=[Clamp()]) if key == "no_prior" else {}
        img, _ = methods.class_model_visualization(net, _per_image_class(classes), (len(classes), 3, size, size),
                                                   preset=preset, steps=steps, seed=ctx.seed, progress_bar=False,
                                                   **settings)
        images[key] = img
        scores[key] = ctx.predict(net, img)[classes, classes]
        recognised[key] = int((ctx.predict(ctx.shapes_check.model, img).argmax(1) == classes).sum())
        saturated[key] = saturated_fraction(img)
    real = ctx.predict(net, ctx.shapes.data["X_test"])
    y = ctx.shapes.data["y_test"]
    fig, axes = plots.grid(len(classes), len(CLASS_MODEL_COLUMNS), size=1.25)
    for j, (name, _, key) in enumerate(CLASS_MODEL_COLUMNS):
        for c in classes:
            title = f"{name}\n{recognised[key]}/{len(classes)} recognised\n{100 * saturated[key]:.0f}% saturated"
            plots.image(axes[c, j], images[key][c], title=title if c == 0 else None)
            plots.badge(axes[c, j], f"{scores[key][c]:.1f}")
    for c in classes:
        plots.row_label(axes[c, 0], CLASSES[c])
    plots.save(fig, os.path.join(ctx.out, "class_models.png"))
    _save_arrays(os.path.join(ctx.out, "class_models.npz"), **images)
    mean_real = np.mean([real[y == c, c].mean() for c in classes])
    priors = [k for _, _, k in CLASS_MODEL_COLUMNS if k not in BASELINES]
    return Figure("class_models.png", "Class models with and without each prior",
                  "argmax_I S_c(I) - R(I) by gradient ascent from grey noise, one row per class; the number is the "
                  "class logit reached. Columns follow lecture 001's table of regularisers: none (only the valid "
                  "range), an L2 penalty (Simonyan et al. 2013, eq. 1), L2 + jitter + a blur every 10 steps "
                  "(cs231n), decay + blur + clipping small-norm and small-contribution pixels (Yosinski et al. 2015), "
                  "and a decorrelated Fourier parameterisation with jitter, scale and rotation (Olah et al. 2017). "
                  "'Recognised': classified as its class by a second network of another architecture and seed "
                  "(shapes_check), which the images were not made with; 'saturated': pixels at the ends of the "
                  "range (<= 0.01 or >= 0.99). Without a prior, or with the L2 penalty alone, "
                  + " and ".join(f"{100 * saturated[k]:.1f}%" for k in BASELINES) +
                  " of the pixels end in the clamp; with each of the three priors at most "
                  f"{100 * max(saturated[k] for k in priors):.1f}%, and the second network recognises "
                  f"{min(recognised[k] for k in priors)} to {max(recognised[k] for k in priors)} of the "
                  f"{len(classes)} classes.",
                  {"steps": steps, "mean logit reached": f"{np.mean([scores[k] for k in scores]):.2f}",
                   "mean logit of real test images of the class": f"{mean_real:.2f}",
                   "held-out accuracy of the second network": f"{ctx.shapes_check.info['accuracy']:.3f}"},
                  claims={**{f"recognised_{k}": r for k, r in recognised.items()},
                          **{f"saturated_{k}": f for k, f in saturated.items()},
                          "priors": priors, "classes": len(classes), "file": "class_models.npz"})


def _save_arrays(path, **arrays):
    """np.savez to a temporary name, then renamed: a reader never sees half a file."""
    tmp = path[:-len(".npz")] + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def unit_visualizations(ctx):
    net = ctx.shapes.model
    X = ctx.shapes.data["X_test"]
    size = X.shape[-1]
    # the last ReLU's input: the pre-activation, as lucid optimises it (a post-ReLU unit that is 0 on
    # the grey start has no gradient to follow)
    mods = list(net.features)
    layer = mods[mods.index(relus(net)[-1]) - 1]
    test_means = methods.activations(net, X, layer).mean(axis=(2, 3))  # (N, units): each image's channel means
    units = np.argsort(-test_means.mean(axis=0))[:6]  # the 6 units most active on the test images
    objective = Objective(lambda out, cap: cap[layer][np.arange(len(units)), units].mean(axis=(1, 2)), (layer,),
                          "channel per image", uses_output=False)
    steps = 60 if ctx.quick else 100
    img, hist = methods.class_model_visualization(net, objective, (len(units), 3, size, size), preset="lucid",
                                                  steps=steps, seed=ctx.seed, progress_bar=False)
    reached = methods.activations(net, img, layer).mean(axis=(2, 3))[np.arange(len(units)), units]
    best_real = test_means[:, units].max(axis=0)
    fig, axes = plots.grid(1, len(units), size=1.3)
    for ax, u, im, a, b in zip(axes[0], units, img, reached, best_real):
        plots.image(ax, im, title=f"unit {u}\n{a:.1f} (best real {b:.1f})")
    plots.save(fig, os.path.join(ctx.out, "unit_visualizations.png"))
    above = int((reached > best_real).sum())
    return Figure("unit_visualizations.png", "What single units want to see",
                  "For the 6 most active channels of the shapes network's last convolution (before its ReLU), "
                  "the image that maximises the channel's mean activation, lucid-style: decorrelated Fourier "
                  "image, jitter, scale and rotation, Adam (Olah et al. 2017). Above each: the channel mean it "
                  f"reaches, and in brackets the largest over the {len(X)} test images; {above} of {len(units)} "
                  "images drive their unit above every real image.",
                  {"steps": steps, "units above their best test image": f"{above}/{len(units)}",
                   "reached / best test image (mean)": f"{np.mean(reached / best_real):.2f}"},
                  claims={"units": len(units), "units_above_best_test_image": above,
                          "min_ratio_to_best_test_image": float(np.min(reached / best_real))})


def deep_dream(ctx):
    net = ctx.shapes.model
    photo = photograph(48 if ctx.quick else 96)
    dreamed = methods.deep_dream(net.features, photo, relus(net)[1], octaves=2 if ctx.quick else 3,
                                 steps=5 if ctx.quick else 10, lr=0.006, seed=ctx.seed)
    fig, axes = plots.grid(1, 3, size=2.2)
    plots.image(axes[0, 0], photo, title="photograph")
    plots.image(axes[0, 1], dreamed, title="DeepDream (2nd ReLU)")
    plots.signed(axes[0, 2], (dreamed - photo).mean(axis=0), title="what it added")
    plots.save(fig, os.path.join(ctx.out, "deep_dream.png"))
    return Figure("deep_dream.png", "DeepDream",
                  "Gradient ascent on 1/2 ||A||^2 of the shapes network's second ReLU (so dL/dA = A: amplify "
                  "whatever the layer "
                  "already sees), the step normalised by mean |g|, random jitter, from the smallest of several "
                  "octaves up (Mordvintsev et al. 2015). The photograph ships with matplotlib.",
                  {"octaves": 2 if ctx.quick else 3})


def fooling(ctx):
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    n_classes = len(CLASSES)
    pred = ctx.predict(net, X).argmax(1)
    idx = np.flatnonzero(pred == y)[:20]  # 20 correctly classified test images
    targets = (y[idx] + 1) % n_classes
    result = methods.fooling_image(net, X[idx], targets)
    fooled = ctx.predict(net, result.x).argmax(1)
    success = fooled == targets
    linf = np.asarray(result.linf)
    show = np.flatnonzero(success)[:3]
    fig, axes = plots.grid(len(show), 3, size=1.6)
    for r, i in enumerate(show):
        diff = result.x[i] - X[idx[i]]
        plots.image(axes[r, 0], X[idx[i]], title=f"{CLASSES[y[idx[i]]]} (correct)")
        plots.image(axes[r, 1], result.x[i], title=f"classified {CLASSES[fooled[i]]}")
        plots.image(axes[r, 2], 0.5 + diff / (2 * np.abs(diff).max()), title=f"change x{0.5 / np.abs(diff).max():.0f}, "
                    f"L-inf {linf[i]:.3f}")
    plots.save(fig, os.path.join(ctx.out, "fooling.png"))
    med = float(np.median(linf))
    return Figure("fooling.png", "Fooling images",
                  "Gradient ascent on log p(target | x) in sign steps of one grey level, x <- clip(x + "
                  "sign(grad_x log p) / 255, 0, 1) (the cs231n fooling loop with the L-inf steepest-ascent step of "
                  "Goodfellow et al. 2015 and Kurakin et al. 2017; lecture 003), stopping as soon as the network "
                  "agrees, then shrinking the change to the smallest L-inf ball in which projected gradient ascent "
                  f"still reaches the target (a bisection; Madry et al. 2018), on {len(idx)} correctly classified "
                  "test images with the "
                  f"target the next class: {int(success.sum())} of {len(idx)} reach it, with a median largest "
                  f"change per pixel (L-inf) of {med:.3f} on a 0-1 scale (at most {linf.max():.3f}). Three of them, "
                  "with the change magnified. The shapes network was trained on adversarial examples of L-inf 4/255, "
                  "so its changes are larger than an ordinary network's.",
                  {"reached the target": f"{int(success.sum())}/{len(idx)}", "median L-inf": f"{med:.3f}",
                   "median L2": f"{float(np.median(result.l2)):.3f}", "median steps": int(np.median(result.steps))},
                  claims={"images": len(idx), "reached_target": int(success.sum()), "median_linf": med,
                          "max_linf": float(linf.max()), "min_pixel": float(result.x.min()),
                          "max_pixel": float(result.x.max())})


def inversion(ctx):
    net, X = ctx.shapes.model, ctx.shapes.data["X_test"]
    x = X[3].astype(np.float64)
    relus = [m for m in net.features if isinstance(m, L.ReLU)]
    steps = 60 if ctx.quick else 150
    recs = [methods.feature_inversion(net, x, layer, steps=steps, lr=0.05, seed=ctx.seed, progress_bar=False)
            for layer in relus]
    fig, axes = plots.grid(1, len(relus) + 1, size=1.6)
    plots.image(axes[0, 0], x, title="image")
    for ax, (k, (rec, hist)) in zip(axes[0, 1:], enumerate(recs)):
        plots.image(ax, np.clip(rec, 0, 1), title=f"from ReLU {k + 1}")
    plots.save(fig, os.path.join(ctx.out, "inversion.png"))
    return Figure("inversion.png", "Feature inversion from successive layers",
                  "x* = argmin ||Phi(x) - Phi_0||^2 / ||Phi_0||^2 + lambda_a ||x||_6^6 + lambda_V TV^2(x) from grey "
                  "noise, "
                  "Phi the output of each ReLU of the shapes network (Mahendran & Vedaldi 2015, eq. 3): deeper "
                  "layers keep the "
                  "shape's identity and lose its exact pixels.",
                  {f"relative feature error, ReLU {k + 1}": f"{-h['objective'][-1, 0]:.3f}"
                   for k, (_, h) in enumerate(recs)})


FIGURES = (class_model_grid, unit_visualizations, deep_dream, fooling, inversion)
