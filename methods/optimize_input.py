"""``optimize_input``: the one loop behind every method that optimises an image through a network
(class models, unit visualisation, DeepDream, fooling images, inversion, style and texture).

Each step: image = parameterisation(params); seen = transforms(image) (random, seeded); one
forward pass with the objective's layers captured; value = objective - sum of penalties; one
reverse pass to the parameters; gradient hooks; the optimiser's step (ascent on value); pixel
hooks. Every method is a few lines of settings over this loop.
"""
import numpy as np

import minigrad as mg
from layers import SGD, Adam, NormalizedGradient, progress
from methods.inputs_and_targets import as_batch, evaluating
from methods.objectives import as_objective
from methods.parameterizations import as_parameterization
from minigrad import Tensor
from minigrad import argument_checks as check

#: Optimisers by name; each maximises (it is given the negated gradient).
OPTIMIZERS = {"adam": lambda ps, lr: Adam(ps, lr=lr),
              "ascent": lambda ps, lr: SGD(ps, lr=lr),
              "normalized": lambda ps, lr: NormalizedGradient(ps, lr=lr, norm="l2"),
              "normalized_mean_abs": lambda ps, lr: NormalizedGradient(ps, lr=lr, norm="mean_abs")}


def _check(steps, lr, optimizer, regularizers, transforms, callback, param):
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    if not np.isscalar(lr) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    for r in regularizers:
        if not all(hasattr(r, h) for h in ("penalty", "on_gradient", "after_step")):
            raise TypeError(f"regularizers: expected Regularizer objects, got {type(r).__name__}")
        if r.acts_on_pixels and param.name != "pixel":
            raise ValueError(f"regularizers: {r!r} changes pixels, which needs parameterization='pixel', "
                             f"got {param.name!r}")
    for t in transforms:
        if not callable(t):
            raise TypeError(f"transforms: expected callables (x, rng) -> x, got {type(t).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable (step, x, history) or None, got {type(callback).__name__}")


def _forward(model, x, objective):
    """The model's output and the captured layers the objective reads. When the objective does not
    read the output, the forward pass stops after its last layer (output None)."""
    if not objective.layers:
        return model(x), {}
    out = None
    with mg.capture(*objective.layers, stop=not objective.uses_output) as captured:
        out = model(x)
    return out, captured


def optimize_input(model, objective, x0, steps, lr, optimizer="adam", regularizers=(), transforms=(),
                   parameterization="pixel", callback=None, seed=None, progress_bar=True):
    """Maximise objective(model(T(x))) - sum_r penalty_r(x) over the image x.

    Parameters
    ----------
    model : a Module (run in eval mode, restored after)
    objective : an ``Objective`` (``methods.objectives``) or callable (output, captured) -> Tensor (N,)
    x0 : start image (N, C, H, W) or (C, H, W); cast to the model's dtype
    steps, lr : number of steps (>= 1) and learning rate (> 0)
    optimizer : 'adam', 'ascent' (x += lr g), 'normalized' (x += lr g / ||g||_2 per image, cs231n)
        or 'normalized_mean_abs' (x += lr g / mean|g|, DeepDream)
    regularizers : ``methods.regularizers`` objects (penalties, gradient and pixel hooks)
    transforms : callables (x Tensor, rng) -> Tensor applied before the forward pass, in order
        (``methods.image_transforms``: Jitter, RandomScale, RandomRotate, Pad)
    parameterization : 'pixel', 'fourier', 'decorrelated' or an object with init(x0), image(params)
    callback : callback(step, x, history) after each step; returning True stops the loop
    seed : seeds every random choice of the transforms (same seed -> same image, bit for bit)

    Returns
    -------
    x : the optimised image, x0's shape
    history : dict of arrays (steps taken, N): 'objective', one per penalty (by its name) and 'total'
    """
    objective = as_objective(objective)
    param = as_parameterization(parameterization)
    regularizers, transforms = tuple(regularizers), tuple(transforms)
    _check(steps, lr, optimizer, regularizers, transforms, callback, param)
    xb, single = as_batch(x0, "x0")
    weights = model.parameters()
    xb = xb.astype(weights[0].dtype if weights else xb.dtype)
    params = [Tensor(p, requires_grad=True) for p in param.init(xb)]
    opt = OPTIMIZERS[optimizer](params, lr)
    history = {"objective": [], "total": []}
    rng = check.rng(seed, "seed")
    with evaluating(model):
        for step in progress(range(steps), desc="optimize_input", enabled=progress_bar):
            image = param.image(params)
            seen = image
            for t in transforms:
                seen = t(seen, rng)
            out, captured = _forward(model, seen, objective)
            value = total = objective(out, captured)
            history["objective"].append(value.data.copy())
            for r in regularizers:
                p = r.penalty(image)
                if p is not None:
                    history.setdefault(r.name, []).append(p.data.copy())
                    total = total - p
            history["total"].append(total.data.copy())
            grads = mg.grad(total.sum(), params)
            for r in regularizers:
                grads[0] = r.on_gradient(grads[0], step)
            for p, g in zip(params, grads):
                p.grad = -g  # the optimisers descend; this climbs
            opt.step()
            for r in regularizers:
                params[0].data = r.after_step(params[0].data, grads[0], step).astype(params[0].dtype)
            if callback is not None and callback(step, param.image(params).data, history):
                break
    with mg.no_grad():
        x = param.image(params).data
    return (x[0] if single else x), {k: np.array(v) for k, v in history.items()}
