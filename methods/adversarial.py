"""Adversarial examples: small input changes that flip a network's decision.

``fooling_image`` is the cs231n recipe (normalised gradient ascent on the target class until the
network agrees); ``fgsm`` is Goodfellow et al. (2015); ``pgd`` is Madry et al. (2018).
Each returns an ``AdversarialResult``: it unpacks as (x_adv, steps) and also carries the size of
the change (``linf``, ``l2`` per image) and whether the attack reached its goal (``success``).
"""
import numpy as np

import minigrad as mg
from layers import cross_entropy
from methods.inputs_and_targets import as_batch, evaluating, scores, unbatch
from minigrad import Tensor, no_grad


class AdversarialResult(tuple):
    """(x_adv, steps) with attributes ``x``, ``steps``, ``linf``, ``l2``, ``success``, ``prediction``."""

    def __new__(cls, x, steps, x_orig, prediction, success, single):
        d = (x - x_orig).reshape(len(x), -1)
        self = super().__new__(cls, (unbatch(x, single), unbatch(steps, single)))
        self.x, self.steps = self
        self.linf, self.l2 = unbatch(np.abs(d).max(axis=1), single), unbatch(np.sqrt((d * d).sum(axis=1)), single)
        self.prediction, self.success = unbatch(prediction, single), unbatch(success, single)
        return self


def _number(v, name, low=0.0, strict=False):
    if not np.isscalar(v) or isinstance(v, bool) or not np.isfinite(v) or v < low or (strict and v == low):
        raise ValueError(f"{name}: expected a finite number {'>' if strict else '>='} {low:g}, got {v!r}")
    return float(v)


def _steps(v, name):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
    return int(v)


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


def fooling_image(model, x, target, max_steps=100, lr=1.0, objective="log_probability"):
    """Normalised gradient ascent, x <- x + lr g / ||g||_2, until the network predicts ``target``
    (the cs231n fooling-image update). g is the gradient of log p(target | x) by default; with
    objective='logit' it is that of the raw target score, as in cs231n. On this project's small
    networks the raw score is a poor choice: classes share features, so raising the target's logit
    raised the current class's logit faster (measured on the shapes GAPNet: 4 of 8 images never
    flipped in 100 steps), while log p also pushes the other classes down.

    x (N, C, H, W) or (C, H, W). Returns an ``AdversarialResult`` (x_fool, steps_taken): each image
    stops as soon as it is classified as the target (steps_taken = max_steps and success False
    when it never is)."""
    xb, single = as_batch(x)
    if objective not in ("log_probability", "logit"):
        raise ValueError(f"objective: expected 'log_probability' or 'logit', got {objective!r}")
    with evaluating(model):
        t = _labels(model, xb, target)
        max_steps = _steps(max_steps, "max_steps")
        lr = _number(lr, "lr", strict=True)
        xa, steps = xb.copy(), np.zeros(len(xb), dtype=np.int64)
        active = _predict(model, xa) != t
        for _ in range(max_steps):
            if not active.any():
                break
            ta = t[active]
            g = _input_grad(model, xa[active], lambda out: scores(
                mg.log_softmax(out, axis=1) if objective == "log_probability" else out, ta).sum())
            norm = np.sqrt((g * g).sum(axis=(1, 2, 3), keepdims=True))
            xa[active] += (lr * g / np.maximum(norm, np.finfo(g.dtype).tiny)).astype(xa.dtype)
            steps[active] += 1
            active &= _predict(model, xa) != t
        pred = _predict(model, xa)
    return AdversarialResult(xa, steps, xb, pred, pred == t, single)


def _clip(x, clip):
    return x if clip is None else np.clip(x, clip[0], clip[1])


def fgsm(model, x, target, eps, targeted=False, clip=(0.0, 1.0)):
    """Fast gradient sign method (Goodfellow et al. 2015, eq. 3): x' = x + eps sign(dJ/dx), J the
    cross-entropy with the true label ``target``; targeted: x' = x - eps sign(dJ/dx) with J for the
    wanted class ``target``. The result is clipped to ``clip`` (None: not clipped).
    Returns an ``AdversarialResult`` (x_adv, 1)."""
    xb, single = as_batch(x)
    eps = _number(eps, "eps")
    with evaluating(model):
        t = _labels(model, xb, target)
        g = _input_grad(model, xb, lambda out: cross_entropy(out, t) * float(len(xb)))
        xa = _clip(xb + (-eps if targeted else eps) * np.sign(g).astype(xb.dtype), clip)
        pred = _predict(model, xa)
    return AdversarialResult(xa, np.ones(len(xb), dtype=np.int64), xb, pred, (pred == t) if targeted else (pred != t),
                             single)


def pgd(model, x, target, eps, step, steps, norm="inf", targeted=False, seed=0, clip=(0.0, 1.0)):
    """Projected gradient descent (Madry et al. 2018, eq. 2): from a uniform random start in the
    eps-ball, ``steps`` steps x <- Proj(x + step * d) with d = sign(dJ/dx) (norm='inf') or
    dJ/dx / ||dJ/dx||_2 (norm='2'), Proj onto the eps-ball around x and the ``clip`` range. J is the
    cross-entropy with ``target`` (its negative when ``targeted``). Returns an ``AdversarialResult``."""
    xb, single = as_batch(x)
    eps, step = _number(eps, "eps"), _number(step, "step")
    steps = _steps(steps, "steps")
    if norm not in ("inf", "2"):
        raise ValueError(f"norm: expected 'inf' or '2', got {norm!r}")
    rng = np.random.default_rng(seed)
    with evaluating(model):
        t = _labels(model, xb, target)
        xa = _clip(xb + _project(_ball_sample(rng, xb.shape, eps, norm), eps, norm).astype(xb.dtype), clip)
        sign = -1.0 if targeted else 1.0
        for _ in range(steps):
            g = sign * _input_grad(model, xa, lambda out: cross_entropy(out, t) * float(len(xb)))
            if norm == "inf":
                d = np.sign(g)
            else:
                d = g / np.maximum(np.sqrt((g * g).sum(axis=(1, 2, 3), keepdims=True)), np.finfo(g.dtype).tiny)
            xa = _clip(xb + _project(xa + step * d - xb, eps, norm), clip).astype(xb.dtype)
        pred = _predict(model, xa)
    return AdversarialResult(xa, np.full(len(xb), steps), xb, pred, (pred == t) if targeted else (pred != t), single)


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
