"""Images made by gradient ascent through a network, each a few settings over ``optimize_input``:
class models (Simonyan et al. 2013; Yosinski et al. 2015; Olah et al. 2017), unit visualisation,
DeepDream (Mordvintsev et al. 2015), feature inversion (Mahendran & Vedaldi 2015), texture
synthesis (Gatys et al. 2015) and style transfer (Gatys et al. 2016).
"""
import numpy as np

import minigrad as mg
from methods.image_transforms import Jitter, Pad, RandomRotate, RandomScale, resize
from methods.inputs_and_targets import as_batch, check_layer, evaluating
from methods.objectives import (Objective, channel, class_score, content, content_loss, dream,
                                feature_match, gram_matrix, neuron, style, style_loss)
from methods.optimize_input import optimize_input
from methods.regularizers import (AlphaNorm, Clamp, ClipContribution, ClipNorm, Decay, GaussianBlur, L2,
                                  TotalVariation)
from minigrad import Tensor, no_grad
from minigrad import argument_checks as check


def _presets(H):
    """Settings per preset for H x H images (jitter scaled from the papers' 224-pixel images).

    The pixel presets take the cs231n step, x += lr g / ||g||_2 per image, with lr = 0.0208 H: a
    root-mean-square change of 0.012 per pixel and step for 3 channels, whatever the size. A plain
    step lr g depends on the network's logit scale: on the gallery's adversarially trained shapes
    network, whose input gradients are ~100x smaller than an ordinary network's, 100 plain steps of
    0.05 g left the image grey. ``optimizer='ascent'`` and ``lr`` override it (the papers' plain
    ascent). Lucid's Adam takes lr 0.02: at 0.05, 12% of the 48x48 shapes' pixels ended at 0 or 1."""
    j = max(1, round(H / 14))
    c = 0.5  # the papers' images are mean-subtracted: their 0 is the middle of our [0, 1]
    step = dict(optimizer="normalized", lr=0.0208 * H, steps=200)
    return {
        # Simonyan et al. 2013: gradient ascent on S_c(I) - lambda ||I||^2
        "simonyan": dict(step, regularizers=[L2(1e-3, c), Clamp()]),
        # cs231n (assignment 3): L2 1e-3, jitter, clamp to the valid range, blur every 10 steps
        "cs231n": dict(step, transforms=[Jitter(j)], regularizers=[L2(1e-3, c), Clamp(), GaussianBlur(0.5, every=10)]),
        # Yosinski et al. 2015: decay, periodic blur and clipping of small-norm and small-contribution
        # pixels (settings in the spirit of their table, for small images; decay 0.02, not 0.01: on
        # the shapes network a second network recognised 5 of 6 class models against 4)
        "yosinski": dict(step, regularizers=[Decay(0.02, c), GaussianBlur(0.5, every=4), ClipNorm(10, c),
                                             ClipContribution(10, c), Clamp()]),
        # Olah et al. 2017 (lucid): decorrelated Fourier image, pad, jitter, scale, rotate, Adam
        "lucid": dict(optimizer="adam", lr=0.02, steps=200, parameterization="decorrelated",
                      transforms=[Pad(j), Jitter(j), RandomScale(), RandomRotate(), Jitter(max(1, j // 2))]),
    }


def _start(shape, seed, scale=0.01):
    """A grey start image with a little seeded noise: 0.5 + scale * N(0, 1), float64 (N, C, H, W)."""
    shape = tuple(int(s) for s in shape) if np.ndim(shape) == 1 else None
    if shape is None or len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"shape: expected (C, H, W) or (N, C, H, W) of positive ints, got {shape!r}")
    full = shape if len(shape) == 4 else (1,) + shape
    return 0.5 + scale * check.rng(seed, "seed").standard_normal(full), len(shape) == 3


def _run(model, objective, x0, single, preset, seed, overrides):
    presets = _presets(x0.shape[2])
    if preset not in presets:
        raise ValueError(f"preset: expected one of {', '.join(presets)}, got {preset!r}")
    settings = {**presets[preset], **overrides}
    x, history = optimize_input(model, objective, x0, seed=seed, **settings)
    return (x[0] if single else x), history


def class_model_visualization(model, target, shape, preset="simonyan", seed=0, **overrides):
    """The image that maximises the class score S_c (the pre-softmax logit) under a preset's priors.

    target : class index, or any ``Objective``
    shape : (C, H, W) or (N, C, H, W) of the image; the start is grey with seeded noise
    preset : 'simonyan' (L2 penalty, Simonyan et al. 2013, eq. 1), 'cs231n' (L2 1e-3, jitter, blur
        every 10 steps), 'yosinski' (decay, blur, clipping; Yosinski et al. 2015) or 'lucid'
        (decorrelated Fourier image, jitter, scale, rotate; Olah et al. 2017)
    overrides : any ``optimize_input`` option (steps, lr, optimizer, regularizers, transforms, ...)

    Returns (image of ``shape``, history).
    """
    objective = target if isinstance(target, Objective) else class_score(_class_index(model, target, shape))
    x0, single = _start(shape, seed)
    return _run(model, objective, x0, single, preset, seed, overrides)


def _class_index(model, target, shape):
    if not isinstance(target, (int, np.integer)) or isinstance(target, bool):
        raise ValueError(f"target: expected a class index (int) or an Objective, got {target!r}")
    x0, _ = _start(shape, 0)
    with no_grad(), evaluating(model):
        n_classes = model(Tensor(x0[:1].astype(model.parameters()[0].dtype))).shape[1]
    if not 0 <= target < n_classes:
        raise ValueError(f"target: expected a class index in [0, {n_classes}), got {target}")
    return int(target)


def _diversity(layer):
    """Lucid's diversity term, per image: -(1/N) sum_{j != i} <G_i, G_j> of the unit-normalised
    Gram matrices of ``layer``: images of one batch are pushed to differ in style."""
    def fn(out, cap):
        G = gram_matrix(cap[layer])
        N = G.shape[0]
        flat = G.reshape(N, -1)
        unit = flat / (flat * flat).sum(axis=1, keepdims=True).sqrt()
        return ((unit @ unit.T).sum(axis=1) - 1.0) * (-1.0 / N)
    return Objective(fn, (layer,), "diversity", uses_output=False)


def unit_visualization(model, layer, unit, shape, kind="channel", position=None, batch=1, diversity=0.0,
                       preset="lucid", seed=0, **overrides):
    """The image that maximises one unit of ``layer``: the mean of channel ``unit`` (kind='channel')
    or its value at ``position`` (i, j) (kind='neuron', the centre by default).

    batch > 1 makes several images at once; ``diversity`` > 0 adds lucid's diversity term (Olah et
    al. 2017) so that they show different facets of the unit. shape: (C, H, W). Returns
    (images (batch, C, H, W), history).
    """
    check_layer(model, layer)
    if kind not in ("channel", "neuron"):
        raise ValueError(f"kind: expected 'channel' or 'neuron', got {kind!r}")
    batch = check.integer(batch, "batch", low=1)
    if not np.isscalar(diversity) or not diversity >= 0:
        raise ValueError(f"diversity: expected a number >= 0, got {diversity!r}")
    x0, single = _start(shape, seed)
    if not single:
        raise ValueError(f"shape: expected one image's (C, H, W), got {shape!r}; use batch for several")
    x0 = np.repeat(x0, batch, axis=0) + 0.01 * check.child_rng(seed, "seed", 1).standard_normal((batch,) + x0.shape[1:])
    K = _layer_channels(model, layer, x0)
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < K:
        raise ValueError(f"unit: expected a channel index in [0, {K}), got {unit!r}")
    objective = channel(layer, unit) if kind == "channel" else neuron(layer, unit, *(position or (None, None)))
    if diversity > 0:
        objective = objective + diversity * _diversity(layer)
    return _run(model, objective, x0, False, preset, seed, overrides)


def _layer_channels(model, layer, x):
    with no_grad(), mg.capture(layer) as acts:
        model(Tensor(x[:1].astype(model.parameters()[0].dtype)))
    A = acts[layer]
    if A.ndim != 4:
        raise ValueError(f"layer: expected a layer with (N, K, h, w) outputs, got shape {A.shape}")
    return A.shape[1]


def deep_dream(model, x, layer, octaves=3, octave_scale=1.4, steps=10, lr=1.5, jitter=None, seed=0,
               progress_bar=False):
    """DeepDream (Mordvintsev et al. 2015): amplify what ``layer`` sees in x, at ``octaves`` scales.

    The image is shrunk by ``octave_scale`` per octave; from the smallest up, each octave runs
    ``steps`` steps of ascent on 1/2 ||A||^2 with the gradient normalised by its mean |g| and a
    random jitter (default H / 14 pixels), and hands the detail it added up to the next size (as
    the original notebook). ``model`` must accept each octave's size (e.g. a network's convolutional
    part). x (C, H, W) or (N, C, H, W) in [0, 1] -> the dreamed image, same shape.
    """
    check_layer(model, layer)
    xb, single = as_batch(x)
    octaves = check.integer(octaves, "octaves", low=1)
    check.seed(seed, "seed")
    if not np.isscalar(octave_scale) or not octave_scale >= 1:
        raise ValueError(f"octave_scale: expected a number >= 1, got {octave_scale!r}")
    H, W = xb.shape[2:]
    sizes = [(max(1, round(H / octave_scale ** k)), max(1, round(W / octave_scale ** k))) for k in range(octaves)][::-1]
    jitter = max(1, round(H / 14)) if jitter is None else jitter
    detail = np.zeros_like(xb[:, :, :sizes[0][0], :sizes[0][1]])
    for o, size in enumerate(sizes):
        with no_grad():
            base = resize(Tensor(xb), size).data if size != (H, W) else xb
            detail = resize(Tensor(detail), size).data if detail.shape[2:] != size else detail
        dreamed, _ = optimize_input(model, dream(layer), base + detail, steps, lr, optimizer="normalized_mean_abs",
                                    transforms=[Jitter(jitter)], regularizers=[Clamp()],
                                    seed=check.child_rng(seed, "seed", o), progress_bar=progress_bar)
        detail = dreamed - base
    return dreamed[0] if single else dreamed


def feature_inversion(model, x, layer, steps=200, lr=0.05, alpha=6.0, alpha_weight=1e-4, tv_beta=2.0,
                      tv_weight=1e-2, optimizer="adam", seed=0, **overrides):
    """Reconstruct x from its representation Phi_0 = ``layer``(x) (Mahendran & Vedaldi 2015, eq. 3):
    x* = argmin ||Phi(x) - Phi_0||^2 / ||Phi_0||^2 + alpha_weight N_alpha(x) + tv_weight TV^beta(x),
    from grey noise. x (C, H, W) or (N, C, H, W) -> (reconstruction of x's shape, history)."""
    check_layer(model, layer)
    xb, single = as_batch(x)
    with no_grad(), evaluating(model), mg.capture(layer) as acts:
        model(Tensor(xb.astype(model.parameters()[0].dtype)))
    target = acts[layer].data
    x0, _ = _start(xb.shape, seed)
    regs = [r for r in (AlphaNorm(alpha_weight, alpha), TotalVariation(tv_weight, tv_beta)) if r.weight > 0]
    out, history = optimize_input(model, -feature_match(layer, target), x0, steps, lr, optimizer=optimizer,
                                  regularizers=regs, seed=seed, **overrides)
    return (out[0] if single else out), history


def _features(model, image, layers):
    """The outputs of ``layers`` for one image batch, as arrays."""
    with no_grad(), evaluating(model), mg.capture(*layers) as acts:
        model(Tensor(image.astype(model.parameters()[0].dtype)))
    return [acts[m].data for m in layers]


def texture_synthesis(model, texture, layers, shape=None, steps=200, lr=0.05, weights=None,
                      parameterization="fourier", init="mean", seed=0, **overrides):
    """A new image with the texture's Gram matrices at ``layers`` (Gatys et al. 2015): maximise
    -style_loss from noise. texture (C, H, W); shape: the output's (C, H, W) (default the
    texture's). The Fourier parameterisation is the default: on the random multi-scale network it
    reached a ~100x lower style loss than pixels in as many steps, without a frame at the border.

    init: 'mean' (the texture's mean colour plus a little seeded noise) or 'grey' (0.5 plus the
    noise). Zero-mean filters (``layers.RandomMultiScaleNet``, Ustyuzhaninov et al. 2017) give the
    same response to x and to x + c (1, 1, 1) away from the zero-padded border, so nothing but the
    start sets the image's overall brightness: from grey, a dark texture came out too light.
    Returns (image, history)."""
    layers = _check_layers(model, layers)
    tb, _ = as_batch(texture, "texture")
    if init not in ("mean", "grey"):
        raise ValueError(f"init: expected 'mean' or 'grey', got {init!r}")
    grams = [gram_matrix(Tensor(A)).data for A in _features(model, tb, layers)]
    x0, single = _start(shape if shape is not None else tb.shape[1:], seed)
    if x0.shape[1] != tb.shape[1]:
        raise ValueError(f"shape: expected {tb.shape[1]} channels (the texture's), got {shape!r}")
    if init == "mean":
        x0 = x0 - 0.5 + tb.mean(axis=(0, 2, 3))[:, None, None]
    out, history = optimize_input(model, -style(layers, grams, weights), x0, steps, lr,
                                  parameterization=parameterization, seed=seed, **overrides)
    return (out[0] if single else out), history


def style_transfer(model, content_image, style_image, content_layer, style_layers, content_weight=1.0,
                   style_weight=1e8, tv_weight=0.0, steps=200, lr=0.02, style_layer_weights=None, init="content",
                   seed=0, **overrides):
    """Neural style (Gatys et al. 2016, eq. 7): maximise -(alpha L_content + beta L_style) - TV, i.e.
    keep ``content_layer``'s features of the content image and the Gram matrices of ``style_layers``
    of the style image. init: 'content' (start from the content image) or 'noise'.
    The balance alpha/beta depends on the network's activation scale (Gatys et al. sweep it from
    1e-5 to 1e-2 on VGG): the default 1e-8 suits ``layers.RandomMultiScaleNet``, whose Gram
    matrices are small; on 64x64 images 1e6 left the photograph unchanged, 1e8 shows the style.
    content_image (C, H, W); style_image (C, H', W') of any size. Returns (image, history)."""
    cb, _ = as_batch(content_image, "content_image")
    if init not in ("content", "noise"):
        raise ValueError(f"init: expected 'content' or 'noise', got {init!r}")
    style_layers, target, grams = _style_targets(model, content_image, style_image, content_layer, style_layers)
    objective = -(content_weight * content(content_layer, target)
                  + style_weight * style(style_layers, grams, style_layer_weights))
    x0 = cb if init == "content" else _start(cb.shape, seed)[0]
    regs = [TotalVariation(tv_weight)] if tv_weight > 0 else []
    out, history = optimize_input(model, objective, x0, steps, lr, regularizers=regs, seed=seed, **overrides)
    return out[0], history


def style_transfer_losses(model, image, content_image, style_image, content_layer, style_layers,
                          style_layer_weights=None):
    """(L_content, L_style) of ``image``: the two terms of ``style_transfer``'s objective before
    alpha and beta weigh them (Gatys et al. 2016, eqs. 1 and 5), to measure a result against its
    start. image, content_image (C, H, W); style_image (C, H', W'). -> two floats."""
    style_layers, target, grams = _style_targets(model, content_image, style_image, content_layer, style_layers)
    xb, _ = as_batch(image, "image")
    feats = [Tensor(A.astype(np.float64)) for A in _features(model, xb, [content_layer, *style_layers])]
    return (float(content_loss(feats[0], target).data[0]),
            float(style_loss(feats[1:], grams, style_layer_weights).data[0]))


def _style_targets(model, content_image, style_image, content_layer, style_layers):
    """(style layers as a list, the content layer's features of the content image, the style
    image's Gram matrices at the style layers), checked."""
    check_layer(model, content_layer, "content_layer")
    style_layers = _check_layers(model, style_layers, "style_layers")
    cb, _ = as_batch(content_image, "content_image")
    sb, _ = as_batch(style_image, "style_image")
    target = _features(model, cb, [content_layer])[0]
    grams = [gram_matrix(Tensor(A)).data for A in _features(model, sb, style_layers)]
    return style_layers, target, grams


def _check_layers(model, layers, what="layers"):
    layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not layers:
        raise ValueError(f"{what}: expected at least one layer, got none")
    for m in layers:
        check_layer(model, m, what)
    return layers
