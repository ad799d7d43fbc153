"""Images made by optimisation (lectures 001 and 003): class models under each prior, unit
visualisations, DeepDream, a fooling image, feature inversion, texture synthesis, style transfer."""
import os

import numpy as np

import layers as L
import methods
from demos import plots
from demos.figure import Figure
from demos.images import photograph, procedural_texture
from demos.shapes import CLASSES
from methods.objectives import Objective
from methods.regularizers import Clamp


def _per_image_class(classes):
    """An objective whose image i maximises the logit of classes[i] (one batch, one class each)."""
    idx = np.arange(len(classes))
    return Objective(lambda out, cap: out[idx, classes], (), "class_score per image")


def class_model_grid(ctx):
    net, size = ctx.shapes.model, ctx.shapes.info["size"]
    steps = 40 if ctx.quick else 60
    classes = np.arange(len(CLASSES))
    columns = [("no prior", "simonyan", dict(regularizers=[Clamp()])),
               ("L2\n(Simonyan)", "simonyan", {}),
               ("L2, jitter, blur\n(cs231n)", "cs231n", {}),
               ("decay, blur, clip\n(Yosinski)", "yosinski", {}),
               ("Fourier, transforms\n(lucid)", "lucid", {})]
    images, scores = [], []
    for name, preset, extra in columns:
        img, hist = methods.class_model_visualization(net, _per_image_class(classes), (len(classes), 3, size, size),
                                                      preset=preset, steps=steps, seed=ctx.seed,
                                                      progress_bar=False, **extra)
        images.append(img)
        scores.append(ctx.predict(net, img)[classes, classes])
    real = ctx.predict(net, ctx.shapes.data["X_test"])
    y = ctx.shapes.data["y_test"]
    fig, axes = plots.grid(len(classes), len(columns), size=1.25)
    for c in classes:
        for j, (name, _, _) in enumerate(columns):
            plots.image(axes[c, j], images[j][c], title=(name if c == 0 else None))
            axes[c, j].text(0.03, 0.97, f"{scores[j][c]:.1f}", transform=axes[c, j].transAxes, fontsize=6,
                            va="top", color="white", bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))
        axes[c, 0].set_ylabel(CLASSES[c], fontsize=7)
    plots.save(fig, os.path.join(ctx.out, "class_models.png"))
    mean_real = np.mean([real[y == c, c].mean() for c in classes])
    return Figure("class_models.png", "Class models with and without each prior",
                  "argmax_I S_c(I) - R(I) by gradient ascent from grey noise, one row per class; the number is the "
                  "class logit reached. Columns follow lecture 001's table of regularisers: none (only the valid "
                  "range), an L2 penalty (Simonyan et al. 2013, eq. 1), L2 + jitter + a blur every 10 steps "
                  "(cs231n), decay + blur + clipping small-norm and small-contribution pixels (Yosinski et al. 2015), "
                  "and a decorrelated Fourier parameterisation with jitter, scale and rotation (Olah et al. 2017).",
                  {"steps": steps, "mean logit reached": f"{np.mean(scores):.2f}",
                   "mean logit of real test images of the class": f"{mean_real:.2f}"})


def unit_visualizations(ctx):
    net, size = ctx.shapes.model, ctx.shapes.info["size"]
    layer = net.features[-1]
    # the 6 units most active on the test images (a unit that never fires has no gradient to follow)
    units = np.argsort(-methods.activations(net, ctx.shapes.data["X_test"][:100], layer).mean(axis=(0, 2, 3)))[:6]
    objective = Objective(lambda out, cap: cap[layer][np.arange(len(units)), units].mean(axis=(1, 2)), (layer,),
                          "channel per image", uses_output=False)
    steps = 40 if ctx.quick else 80
    img, hist = methods.class_model_visualization(net, objective, (len(units), 3, 2 * size, 2 * size), preset="lucid",
                                                  steps=steps, lr=0.02, seed=ctx.seed, progress_bar=False)
    fig, axes = plots.grid(1, len(units), size=1.3)
    for ax, u, im in zip(axes[0], units, img):
        plots.image(ax, im, title=f"unit {u}")
    plots.save(fig, os.path.join(ctx.out, "unit_visualizations.png"))
    return Figure("unit_visualizations.png", "What single units want to see",
                  "For the 6 most active channels of GAPNet's last ReLU, the image (at twice the training size: "
                  "the network is "
                  "convolutional) that maximises the channel's mean activation, lucid-style: decorrelated Fourier "
                  "image, jitter, scale and rotation, Adam (Olah et al. 2017).",
                  {"steps": steps, "activation reached (mean)": f"{hist['objective'][-1].mean():.2f}"})


def deep_dream(ctx):
    net = ctx.shapes.model
    photo = photograph(48 if ctx.quick else 96)
    dreamed = methods.deep_dream(net.features, photo, net.features[4], octaves=2 if ctx.quick else 3,
                                 steps=5 if ctx.quick else 10, lr=0.006, seed=ctx.seed)
    fig, axes = plots.grid(1, 3, size=2.2)
    plots.image(axes[0, 0], photo, title="photograph")
    plots.image(axes[0, 1], dreamed, title="DeepDream (2nd ReLU)")
    plots.signed(axes[0, 2], (dreamed - photo).mean(axis=0), title="what it added")
    plots.save(fig, os.path.join(ctx.out, "deep_dream.png"))
    return Figure("deep_dream.png", "DeepDream",
                  "Gradient ascent on 1/2 ||A||^2 of GAPNet's second ReLU (so dL/dA = A: amplify whatever the layer "
                  "already sees), the step normalised by mean |g|, random jitter, from the smallest of several "
                  "octaves up (Mordvintsev et al. 2015). The photograph ships with matplotlib.",
                  {"octaves": 2 if ctx.quick else 3})


def fooling(ctx):
    net, X, y = ctx.shapes.model, ctx.shapes.data["X_test"], ctx.shapes.data["y_test"]
    pred = ctx.predict(net, X).argmax(1)
    i = int(np.flatnonzero(pred == y)[0])
    target = int((y[i] + 3) % len(CLASSES))
    result = methods.fooling_image(net, X[i].astype(np.float64), target, max_steps=100, lr=0.1)
    diff = result.x - X[i]
    fig, axes = plots.grid(1, 3, size=1.9)
    plots.image(axes[0, 0], X[i], title=f"{CLASSES[y[i]]} (correct)")
    plots.image(axes[0, 1], result.x, title=f"classified {CLASSES[ctx.predict(net, result.x[None]).argmax()]}")
    plots.image(axes[0, 2], 0.5 + diff / (2 * np.abs(diff).max()), title="difference, magnified")
    plots.save(fig, os.path.join(ctx.out, "fooling.png"))
    return Figure("fooling.png", "A fooling image",
                  f"Normalised gradient ascent x <- x + 0.1 g / ||g||_2 on log p({CLASSES[target]} | x) until the "
                  "network agrees (the cs231n update; lecture 003). The change is small and spread over the image.",
                  {"steps": int(result.steps), "L-inf": f"{float(result.linf):.3f}", "L2": f"{float(result.l2):.3f}",
                   "success": bool(result.success)})


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
                  "Phi the output of each ReLU of GAPNet (Mahendran & Vedaldi 2015, eq. 3): deeper layers keep the "
                  "shape's identity and lose its exact pixels.",
                  {f"relative feature error, ReLU {k + 1}": f"{-h['objective'][-1, 0]:.3f}"
                   for k, (_, h) in enumerate(recs)})


def texture_and_style(ctx):
    size = 40 if ctx.quick else 48
    steps = 60 if ctx.quick else 120
    rnet = L.RandomMultiScaleNet(width=16, kernel_sizes=(3, 5, 7, 11), seed=ctx.seed).float()
    branches = list(rnet.branches)
    texture = procedural_texture(size, "cells", seed=ctx.seed)
    synth, th = methods.texture_synthesis(rnet, texture, branches, steps=steps, lr=0.05, seed=ctx.seed,
                                          progress_bar=False)
    photo, style = photograph(size), procedural_texture(size, "waves", seed=ctx.seed)
    styled, sh = methods.style_transfer(rnet, photo, style, branches[0], branches, steps=steps, lr=0.02,
                                        seed=ctx.seed, progress_bar=False)
    fig, axes = plots.grid(1, 5, size=1.8)
    for ax, img, title in zip(axes[0], (texture, synth, photo, style, styled),
                              ("texture", "synthesised", "content", "style", "style transfer")):
        plots.image(ax, img, title=title)
    plots.save(fig, os.path.join(ctx.out, "texture_style.png"))
    drop = th["objective"][0, 0] / th["objective"][-1, 0]
    return Figure("texture_style.png", "Texture synthesis and style transfer with random filters",
                  "Gram matrices G = F F^T / (C H W) of a network of random zero-mean filters of sizes 3-11 "
                  "(Ustyuzhaninov et al. 2017; no pretrained weights can be downloaded): texture synthesis matches "
                  "them from noise (Gatys et al. 2015); style transfer keeps the photograph's features at the 3x3 "
                  "branch and the style's Gram matrices at all branches (Gatys et al. 2016, eq. 7).",
                  {"style loss reduction (texture)": f"{drop:.0f}x", "steps": steps})


FIGURES = (class_model_grid, unit_visualizations, deep_dream, fooling, inversion, texture_and_style)
