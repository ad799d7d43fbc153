"""Adversarial examples: small input changes that flip a network's decision.

``fooling_image`` is the cs231n recipe (gradient ascent on the target class until the network
agrees; by default in sign steps, which keep the L-inf change small); ``fgsm`` is Goodfellow et
al. (2015); ``pgd`` is Madry et al. (2018). All of them are one loop, ``_ascend``: steps
x <- clip(x0 + Proj(x + step d(g) - x0)) with d the unit ascent direction of the gradient g in the
norm that measures the change (sign(g) for L-inf, g / ||g||_2 for L2) and Proj onto a ball around
x0 when the attack has one; each attack is its published step rule over it. (The loop is not
``optimize_input``'s: an attack steps in sign or unit directions, projects onto a ball and stops
each image on its own, where image optimisation takes an optimiser's step on a whole batch.)
Each returns an ``AdversarialResult``: it unpacks as (x_adv, steps) and also carries the size of
the change (``linf``, ``l2`` per image) and whether the attack reached its goal (``success``).
"""
import numpy as np

import minigrad as mg
from layers import cross_entropy
from methods.inputs_and_targets import as_batch, evaluating, scores, unbatch
from minigrad import Tensor, no_grad
from minigrad import argument_checks as check
from minigrad.argument_checks import boolean


class AdversarialResult(tuple):
    """(x_adv, steps) with attributes ``x``, ``steps``, ``linf``, ``l2``, ``success``, ``prediction``."""

    def __new__(cls, x, steps, x_orig, prediction, success, single):
        d = (x - x_orig).reshape(len(x), -1)
        self = super().__new__(cls, (unbatch(x, single), unbatch(steps, single)))
        self.x, self.steps = self
        self.linf, self.l2 = unbatch(np.abs(d).max(axis=1), single), unbatch(np.sqrt((d * d).sum(axis=1)), single)
        self.prediction, self.success = unbatch(prediction, single), unbatch(success, single)
        return self


def _predict(model, x):
    with no_grad():
        return model(Tensor(x)).data.argmax(axis=1)


def _labels(model, xb, target):
    """target as one class index per sample (an int for all, or N ints), checked against the model."""
    t = np.asarray(target) if not callable(target) else None
    if t is None or t.shape not in ((), (len(xb),)) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target: expected a class index or {len(xb)} integer indices, got {target!r}")
    t = np.broadcast_to(t, (len(xb),)).copy()
    with no_grad():
        scores(model(Tensor(xb)), t)  # raises when an index is out of range
    return t


def _input_grad(model, x, loss_of_output):
    xt = Tensor(x, requires_grad=True)
    g, = mg.grad(loss_of_output(model(xt)), [xt])
    return g


def _ascend(model, x0, start, gain, step, steps, norm, clip, radius=None, done=None):
    """The one loop of every attack: from ``start``, ``steps`` times
    x <- clip(x0 + Proj_radius(x + step * d(g) - x0)), with g the gradient of ``gain(output, rows)``
    (a scalar Tensor; ``rows`` the indices of the images still moving) and d ``_ascent_direction``.
    Without ``radius`` there is no projection. ``done(x, rows)`` -> a boolean per image: those stop
    moving (checked at the start too). ``step`` and ``radius``: a number, or one per image
    (N, 1, 1, 1). -> (x, steps taken per image)."""
    x, taken = start.copy(), np.zeros(len(x0), dtype=np.int64)
    active = np.ones(len(x0), bool) if done is None else ~done(x, np.arange(len(x0)))
    per_image = lambda v, rows: v[rows] if np.ndim(v) else v  # noqa: E731
    for _ in range(steps):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        g = _input_grad(model, x[rows], lambda out: gain(out, rows))
        moved = x[rows] + per_image(step, rows) * _ascent_direction(g, norm)
        if radius is not None:
            moved = x0[rows] + _project(moved - x0[rows], per_image(radius, rows), norm)
        x[rows] = _clip(moved, clip).astype(x.dtype)
        taken[rows] += 1
        if done is not None:
            active[rows] = ~done(x[rows], rows)
    return x, taken


def fooling_image(model, x, target, max_steps=255, lr=1 / 255, objective="log_probability", norm="inf",
                  clip=(0.0, 1.0), shrink=True):
    """Gradient ascent on the target class until the network agrees (the cs231n fooling-image
    loop), one step x <- clip(x + lr d) per iteration, where g is the gradient of log p(target | x)
    and d its direction of steepest ascent for the norm that measures the change:

        norm='inf':  d = sign(g)          (Goodfellow et al. 2015; iterated as in Kurakin et al. 2017)
        norm='2':    d = g / ||g||_2      (the cs231n update)

    Each image stops as soon as it is classified as ``target``. With norm='inf' a step moves every
    pixel by at most lr, so L-inf <= lr * steps; the defaults take Kurakin et al.'s step of one grey
    level of an 8-bit image and 255 steps, enough to cross the whole [0, 1] range. The
    L2-normalised step spends its budget on the few pixels with the largest gradient, which is
    small in L2 but large in L-inf. Measured on 20 correctly classified test images each, target
    (label + 1) mod classes, median L-inf with the former defaults (lr=1, norm='2', no clip, no
    shrink) -> with the sign steps alone: a 48x48 shapes network 0.29 (19 of 20 reached) -> 0.078
    (20 of 20); a 24x24 GAPNet 0.31 -> 0.049 (20 and 20); LeNet on the 8x8 digits 0.49 -> 0.18 (20
    and 20, max 0.33; 64 pixels leave little room: PGD brings only 2 of the 20 within 0.1).

    g is that of log p(target | x) by default; with objective='logit' it is that of the raw target
    score, as in cs231n. On this project's small networks the raw score is a poor choice: classes
    share features, so raising the target's logit raised the current class's logit faster (measured
    on the shapes GAPNet with norm='2': 4 of 8 images never flipped in 100 steps), while log p also
    pushes the other classes down.

    ``clip`` (low, high): every step is clipped to it, so pixels stay valid; x must lie inside it
    (None: no clipping, e.g. for mean-subtracted inputs).

    ``shrink``: once an image is fooled, look for a smaller change that still fools it: bisect the
    radius of a ball around x (in ``norm``) from the change found down, with 10 steps of projected
    gradient ascent inside each ball (Madry et al. 2018), keeping the smallest ball that works (6
    halvings). The greedy path is not the shortest: sign steps pile up in pixels that stopped
    mattering. On the gallery's shapes network (adversarially trained, so harder to fool) it lowered
    the median L-inf of 20 fooling images from 0.108 to 0.088 (all 20 reached), for 60 more
    gradients per image.

    x (N, C, H, W) or (C, H, W). Returns an ``AdversarialResult`` (x_fool, steps_taken):
    steps_taken = max_steps and success False for an image that never reached the target."""
    xb, single = as_batch(x)
    check.one_of(objective, "objective", ("log_probability", "logit"))
    check.one_of(norm, "norm", ("inf", "2"))
    clip = _clip_range(clip, xb)
    shrink = boolean(shrink, "shrink")
    max_steps = check.integer(max_steps, "max_steps", low=1)
    lr = check.number(lr, "lr", low=0, low_open=True)
    with evaluating(model):
        t = _labels(model, xb, target)

        def loss_of_output(out, labels):
            return scores(mg.log_softmax(out, axis=1) if objective == "log_probability" else out, labels).sum()

        xa, steps = _ascend(model, xb, xb, lambda out, rows: loss_of_output(out, t[rows]), lr, max_steps, norm, clip,
                            done=lambda x, rows: _predict(model, x) == t[rows])
        if shrink:
            xa = _shrink(model, xb, xa, t, loss_of_output, clip, norm)
        pred = _predict(model, xa)
    return AdversarialResult(xa, steps, xb, pred, pred == t, single)


def _shrink(model, x, x_fooled, t, loss_of_output, clip, norm, levels=6, steps=10):
    """The fooled images moved into the smallest ball around x (radius in ``norm``) in which
    projected gradient ascent (Madry et al. 2018: ``steps`` steps of radius/4, started from the
    best image so far projected into the ball) still reaches t: a bisection over the radius,
    ``levels`` halvings, per image. Images not fooled are returned as they are."""
    d = (x_fooled - x).reshape(len(x), -1)
    hi = np.abs(d).max(axis=1) if norm == "inf" else np.sqrt((d * d).sum(axis=1))
    lo, best = np.zeros(len(x)), x_fooled.copy()
    todo = np.flatnonzero(_predict(model, x_fooled) == t)
    for _ in range(levels):
        if not len(todo):
            break
        eps = ((lo + hi) / 2)[todo][:, None, None, None]
        x0, labels = x[todo], t[todo]
        start = _clip(x0 + _project(best[todo] - x0, eps, norm), clip).astype(x.dtype)
        xa, _ = _ascend(model, x0, start, lambda out, rows: loss_of_output(out, labels[rows]), eps / 4, steps, norm,
                        clip, radius=eps)
        ok = _predict(model, xa) == labels
        best[todo[ok]] = xa[ok]
        hi[todo[ok]], lo[todo[~ok]] = eps[ok, 0, 0, 0], eps[~ok, 0, 0, 0]
    return best


def _ascent_direction(g, norm):
    """The unit step (in ``norm``) that raises a linear function with gradient g the most, per image."""
    if norm == "inf":
        return np.sign(g)
    return g / np.maximum(np.sqrt((g * g).sum(axis=(1, 2, 3), keepdims=True)), np.finfo(g.dtype).tiny)


def _clip_range(clip, x):
    """``clip`` as (low, high) with low < high, both finite, holding every value of x; or None."""
    if clip is None:
        return None
    try:
        low, high = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(f"clip: expected None or a pair (low, high) of numbers, got {clip!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"clip: expected finite low < high, got {clip!r}")
    if x.min() < low or x.max() > high:
        raise ValueError(f"clip: x has values in [{x.min():g}, {x.max():g}], outside clip={clip!r}; "
                         f"pass clip=None or a range that holds x")
    return low, high


def _clip(x, clip):
    return x if clip is None else np.clip(x, clip[0], clip[1])


def fgsm(model, x, target, eps, targeted=False, clip=(0.0, 1.0)):
    """Fast gradient sign method (Goodfellow et al. 2015, eq. 3): x' = x + eps sign(dJ/dx), J the
    cross-entropy with the true label ``target``; targeted: x' = x - eps sign(dJ/dx) with J for the
    wanted class ``target``. The result is clipped to ``clip`` (None: not clipped).
    Returns an ``AdversarialResult`` (x_adv, 1)."""
    xb, single = as_batch(x)
    eps = check.number(eps, "eps", low=0)
    clip = _clip_range(clip, xb)
    with evaluating(model):
        t = _labels(model, xb, target)
        xa, _ = _ascend(model, xb, xb, _cross_entropy_gain(t, targeted), eps, 1, "inf", clip)
        pred = _predict(model, xa)
    return AdversarialResult(xa, np.ones(len(xb), dtype=np.int64), xb, pred, (pred == t) if targeted else (pred != t),
                             single)


def pgd(model, x, target, eps, step, steps, norm="inf", targeted=False, seed=0, clip=(0.0, 1.0)):
    """Projected gradient descent (Madry et al. 2018, eq. 2): from a uniform random start in the
    eps-ball, ``steps`` steps x <- Proj(x + step * d) with d = sign(dJ/dx) (norm='inf') or
    dJ/dx / ||dJ/dx||_2 (norm='2'), Proj onto the eps-ball around x and the ``clip`` range. J is the
    cross-entropy with ``target`` (its negative when ``targeted``). Returns an ``AdversarialResult``."""
    xb, single = as_batch(x)
    eps, step = check.number(eps, "eps", low=0), check.number(step, "step", low=0)
    steps = check.integer(steps, "steps", low=1)
    check.one_of(norm, "norm", ("inf", "2"))
    clip = _clip_range(clip, xb)
    rng = check.rng(seed, "seed")
    with evaluating(model):
        t = _labels(model, xb, target)
        start = _clip(xb + _project(_ball_sample(rng, xb.shape, eps, norm), eps, norm).astype(xb.dtype), clip)
        xa, _ = _ascend(model, xb, start, _cross_entropy_gain(t, targeted), step, steps, norm, clip, radius=eps)
        pred = _predict(model, xa)
    return AdversarialResult(xa, np.full(len(xb), steps), xb, pred, (pred == t) if targeted else (pred != t), single)


def _cross_entropy_gain(t, targeted):
    """What FGSM and PGD climb: the summed cross-entropy with the true labels t, or its negative
    for the wanted classes t of a targeted attack."""
    sign = -1.0 if targeted else 1.0
    return lambda out, rows: cross_entropy(out, t[rows]) * (sign * len(rows))


def _ball_sample(rng, shape, eps, norm):
    """Uniform samples in the L-inf or L2 ball of radius eps, one per image."""
    if norm == "inf":
        return rng.uniform(-eps, eps, shape)
    d = int(np.prod(shape[1:]))
    v = rng.standard_normal(shape)
    v /= np.sqrt((v * v).sum(axis=(1, 2, 3), keepdims=True))
    return v * eps * rng.uniform(0, 1, (shape[0], 1, 1, 1)) ** (1.0 / d)


def _project(delta, eps, norm):
    """The nearest point of the eps-ball (L-inf: clip; L2: shrink) to ``delta``, per image."""
    if norm == "inf":
        return np.clip(delta, -eps, eps)
    n = np.sqrt((delta * delta).sum(axis=(1, 2, 3), keepdims=True))
    return delta * np.minimum(1.0, eps / np.maximum(n, 1e-300))
