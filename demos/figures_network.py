"""A pretrained ImageNet network (``minigrad gallery --arch NAME --weights FILE``): its first-layer
filters, Grad-CAM of the photograph for its top classes, class models of three ImageNet classes and,
for VGG-19, Gatys et al.'s style transfer on its layers.

Each figure reads ``ctx.network`` (the model from ``imagenet.load_network``, expecting
``imagenet.preprocess``'s inputs) and ``ctx.arch``; ``ctx.quick`` shrinks the optimised images and
their steps (the tests' setting). Optimised images live in [0, 1] and reach the network through
``imagenet.Normalized``, so the priors and the display see ordinary images.
"""
import os
import time

import numpy as np

import layers as L
import methods
from demos import imagenet, plots
from demos.figure import Figure
from demos.images import photograph, procedural_texture
from minigrad import Tensor

#: Classes whose class models are drawn: flamingo, pineapple, volcano (distinct colours and shapes).
CLASS_MODEL_CLASSES = (130, 953, 980)
#: GFLOPS per 224x224 image as torchvision documents each architecture's ImageNet weights
#: (``weights.meta["_ops"]``): what sizes the optimisation figures to about half a minute on 2 cores.
GFLOPS = {"alexnet": 0.714, "vgg11": 7.609, "vgg11_bn": 7.609, "vgg13": 11.308, "vgg13_bn": 11.308, "vgg16": 15.47,
          "vgg16_bn": 15.47, "vgg19": 19.632, "vgg19_bn": 19.632, "resnet18": 1.814, "resnet34": 3.664,
          "resnet50": 4.089, "mobilenet_v2": 0.301}
#: Gatys et al. 2016: style from conv1_1 .. conv5_1, content from conv4_2.
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYER = "conv4_2"


def _photograph_input(ctx):
    """The bundled photograph through ImageNet's preprocessing: (3, 224, 224), or (3, 112, 112) quick."""
    size = 112 if ctx.quick else 224
    return imagenet.preprocess(photograph(round(size * 256 / 224)).transpose(1, 2, 0), size=size,
                               resize=round(size * 256 / 224))


def _budget(ctx, images, passes):
    """(size, steps) for optimising ``images`` images: 112 pixels (64 for the VGGs, 128 for the light
    networks) and as many steps, 8 to 48, as ``passes`` GFLOP of forward passes allow (ResNet-18:
    112 pixels, 33 steps); quick: (64, 6)."""
    if ctx.quick:
        return 64, 6
    gflops = GFLOPS[ctx.arch]
    size = 128 if gflops < 1 else 112 if gflops < 5 else 64
    return size, int(np.clip(round(passes / (images * gflops * (size / 224) ** 2)), 8, 48))


def _probability(model, x, c):
    """(softmax probability of class c, its rank from 1) for one image x (3, H, W) as the model sees it."""
    ranked = imagenet.top_k(L.predict(model, x[None].astype(np.float32))[0], k=imagenet.NUM_CLASSES)
    rank = [i for i, _, _ in ranked].index(c)
    return ranked[rank][2], rank + 1


def first_layer_filters(ctx):
    """The first convolution's filters as RGB pictures, with the share of their weight that is colour."""
    conv = imagenet.first_conv(ctx.network)
    w = methods.filters(conv)  # (K, 3, k, k), each scaled to [0, 1] on its own
    cols = 8
    fig, axes = plots.grid(int(np.ceil(len(w) / cols)), cols, size=0.7)
    for ax, f in zip(axes.ravel(), w):
        plots.image(ax, f)
    plots.save(fig, os.path.join(ctx.out, "network_filters.png"))
    raw = conv.weight.data
    # a filter that weighs the three colours alike sees brightness only; the rest see colour
    colour = (np.abs(raw - raw.mean(axis=1, keepdims=True)).sum(axis=(1, 2, 3))
              / np.maximum(np.abs(raw).sum(axis=(1, 2, 3)), np.finfo(raw.dtype).tiny))
    return Figure("network_filters.png", f"First-layer filters of {ctx.arch}",
                  f"Each {raw.shape[2]}x{raw.shape[3]} RGB filter of {ctx.arch}'s first convolution, scaled to "
                  f"[0, 1] on its own (methods.filters), as lecture 004 shows AlexNet's (after training on ImageNet: "
                  f"oriented edges, blobs and colour-opponent patches). The colour share is the part of a "
                  f"filter's weight that differs between the R, G and B planes (0 for a grey filter).",
                  {"filters": f"{raw.shape[0]} of {raw.shape[2]}x{raw.shape[3]}x{raw.shape[1]}",
                   "median colour share": f"{np.median(colour):.2f}",
                   "filters with colour share > 0.5": int((colour > 0.5).sum())})


def gradcam_photograph(ctx):
    """The photograph's top-5 classes and Grad-CAM maps for the first two, at the default layer."""
    model, x = ctx.network, _photograph_input(ctx)
    layer_name = imagenet.default_layer(model)
    layer = dict(model.named_modules())[layer_name]
    top = imagenet.top_k(L.predict(model, x[None])[0], k=5)
    maps = [methods.gradcam(model, x, c, layer) for c, _, _ in top[:2]]
    shown = imagenet.deprocess(x).transpose(2, 0, 1)
    fig, axes = plots.grid(1, 3, size=2.4)
    plots.image(axes[0, 0], shown, title="input")
    for ax, (c, name, p), m in zip(axes[0, 1:], top, maps):
        plots.overlay(ax, shown, m, title=f"{name} (p = {p:.3f})")
    plots.save(fig, os.path.join(ctx.out, "network_gradcam.png"))
    # how alike the two classes' evidence is: the cosine of their maps (1: the same places)
    cos = float((maps[0] * maps[1]).sum() / (np.linalg.norm(maps[0]) * np.linalg.norm(maps[1]) or 1.0))
    return Figure("network_gradcam.png", f"Grad-CAM of {ctx.arch} on the photograph",
                  f"The photograph (Grace Hopper, matplotlib's sample data) through ImageNet's preprocessing "
                  f"({x.shape[1]}x{x.shape[2]} centre crop, normalised), and Grad-CAM (Selvaraju et al. 2017, eqs. "
                  f"1-2: ReLU(sum_k w_k A^k) with w_k the mean gradient of the class score over the maps A^k of "
                  f"{layer_name}) for the network's two most probable classes, upsampled bilinearly.",
                  {**{f"top {i + 1}": f"{name} ({c}), p = {p:.4f}" for i, (c, name, p) in enumerate(top)},
                   "layer": layer_name, "cosine between the two maps": f"{cos:.2f}"})


def class_models(ctx):
    """Lucid-style class models of ``CLASS_MODEL_CLASSES``, with the probability each image reaches."""
    net = imagenet.Normalized(ctx.network)
    size, steps = _budget(ctx, len(CLASS_MODEL_CLASSES), passes=45)
    names = imagenet.class_names()
    images, rows, start = [], [], time.perf_counter()
    for c in CLASS_MODEL_CLASSES:
        img, hist = methods.class_model_visualization(net, c, (3, size, size), preset="lucid", steps=steps,
                                                      seed=ctx.seed, progress_bar=False)
        images.append(img)
        rows.append((c, names[c], hist["objective"][0, 0], hist["objective"][-1, 0], *_probability(net, img, c)))
    seconds = time.perf_counter() - start
    fig, axes = plots.grid(1, len(images), size=2.2)
    for ax, img, (c, name, _, _, p, rank) in zip(axes[0], images, rows):
        plots.image(ax, img, title=f"{name} ({c})\np = {p:.2g}, rank {rank}")
    plots.save(fig, os.path.join(ctx.out, "network_class_models.png"))
    return Figure("network_class_models.png", f"Class models of {ctx.arch}",
                  f"argmax_I S_c(I) for three ImageNet classes under lucid's priors (Olah et al. 2017: decorrelated "
                  f"Fourier image, jitter, scale, rotation, Adam), the image in [0, 1] normalised as ImageNet's "
                  f"inputs before the network. Shortened to keep the gallery quick on a laptop CPU: {size}x{size} "
                  f"pixels instead of 224 and {steps} steps instead of lucid's 512, so the images are rough "
                  f"sketches of the class; p is the class's softmax probability for the image and its rank among "
                  f"the 1000 classes.",
                  {**{f"{name} ({c})": f"logit {a:.2f} -> {b:.2f}, p = {p:.2g}, rank {rank}"
                      for c, name, a, b, p, rank in rows},
                   "size": f"{size}x{size}", "steps": steps, "optimisation time": f"{seconds:.1f} s"})


def _gatys_layers(features):
    """{'conv1_1': index, ...}: each convolution of VGG's ``features`` named by block and position
    (Simonyan & Zisserman's names, which Gatys et al. use), mapped to the index of the ReLU after it:
    Gatys et al.'s responses are rectified, since Caffe's ReLUs overwrite the convolutions' outputs."""
    names, block, position, current = {}, 1, 0, None
    for i, m in enumerate(features):
        if isinstance(m, L.MaxPool2d):
            block, position = block + 1, 0
        elif isinstance(m, L.Conv2d):
            position += 1
            current = f"conv{block}_{position}"
        elif isinstance(m, L.ReLU) and current is not None:
            names[current] = i
    return names


def _style_losses(net, image, content_layer, content_target, style_layers, grams, weights):
    """(content loss, style loss) of one image (3, H, W), as style_transfer's objective weighs them."""
    acts = methods.activations(net, image[None], [content_layer, *style_layers])
    c = methods.content_loss(Tensor(acts[content_layer]), content_target).data[0]
    s = methods.style_loss([Tensor(acts[m]) for m in style_layers], grams, weights).data[0]
    return float(c), float(s)


def style_transfer(ctx):
    """Gatys et al.'s style transfer of a drawn texture onto the photograph with VGG's ``features``."""
    net = imagenet.Normalized(ctx.network)
    features = ctx.network.features
    index = _gatys_layers(features)
    content_layer, style_layers = features[index[CONTENT_LAYER]], [features[index[n]] for n in STYLE_LAYERS]
    size, steps = (64, 6) if ctx.quick else (96, 30)  # VGG-19 only: ~30 s on 2 cores
    photo, style = photograph(size), procedural_texture(size, "waves", seed=ctx.seed)
    # each image on its own, as the losses below see them: a kernel may be chosen by the batch's size
    content_target = methods.activations(net, photo[None], [content_layer])[content_layer][0]
    acts = methods.activations(net, style[None], style_layers)
    grams = [methods.gram_matrix(Tensor(acts[m])).data[0] for m in style_layers]
    # PyTorch's neural-style tutorial balance on torchvision's VGG-19 (content 1, style 1e6 on mean squared
    # errors), in the sums of Gatys et al.'s eqs. 1 and 4 that methods' losses are: per layer l with C_l
    # channels, w_l = 1e6 * (4 / C_l^2) / (2 / (C H W of the content layer))
    chw = content_target.size
    weights = [1e6 * 4 / acts[m].shape[1] ** 2 * chw / 2 for m in style_layers]
    before = _style_losses(net, photo, content_layer, content_target, style_layers, grams, weights)
    start = time.perf_counter()
    styled, _ = methods.style_transfer(net, photo, style, content_layer, style_layers, content_weight=1.0,
                                       style_weight=1.0, style_layer_weights=weights, steps=steps, lr=0.02,
                                       seed=ctx.seed, progress_bar=False)
    seconds = time.perf_counter() - start
    after = _style_losses(net, styled, content_layer, content_target, style_layers, grams, weights)
    fig, axes = plots.grid(1, 3, size=2.2)
    for ax, img, title in zip(axes[0], (photo, style, styled), ("content", "style", "style transfer")):
        plots.image(ax, img, title=title)
    plots.save(fig, os.path.join(ctx.out, "network_style_transfer.png"))
    used = ", ".join(f"{n} = features.{index[n]}" for n in STYLE_LAYERS)
    return Figure("network_style_transfer.png", f"Style transfer with {ctx.arch}",
                  f"Gatys et al. 2016 (eq. 7) on {ctx.arch}'s layers: keep the photograph's {CONTENT_LAYER} "
                  f"responses (features.{index[CONTENT_LAYER]}) and the drawn texture's Gram matrices at {used} "
                  f"(the ReLU outputs after those convolutions), starting from the photograph; the style weights "
                  f"are PyTorch's neural-style tutorial balance (1e6 on mean squared errors) written for Gatys's "
                  f"sums. Shortened for a laptop CPU: {size}x{size} pixels and {steps} Adam steps (lr 0.02) "
                  f"instead of Gatys's 512 pixels and L-BFGS to convergence.",
                  {"content loss": f"{before[0]:.3g} -> {after[0]:.3g}",
                   "weighted style loss": f"{before[1]:.3g} -> {after[1]:.3g}",
                   "size": f"{size}x{size}", "steps": steps, "optimisation time": f"{seconds:.1f} s"})


FIGURES = (first_layer_filters, gradcam_photograph, class_models)


def section(arch):
    """The gallery section (title, lectures, figure functions) for the network ``arch``: style
    transfer joins the figures for VGG-19, the network Gatys et al. used."""
    figures = FIGURES + ((style_transfer,) if arch in ("vgg19", "vgg19_bn") else ())
    return (f"An ImageNet network: {arch}", "Lectures 001-004's methods on a network trained on ImageNet (its weights "
            "given with --weights)", figures)
