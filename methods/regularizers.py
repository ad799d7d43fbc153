"""Regularisers of image optimisation: priors that make an optimised image look natural.

Each acts in one of three places (Olah et al. 2017 survey them):
- ``penalty(x) -> Tensor (N,)``: a differentiable term subtracted from the objective;
- ``on_gradient(g, step) -> g``: changes the gradient before the optimiser's step;
- ``after_step(x, g, step) -> x``: changes the pixels after the step (a projection).
The last two act on pixels, so they need the "pixel" parameterisation.

The papers work on mean-subtracted images, where 0 is the average colour: the L2 and alpha-norm
penalties, decay and clipping pull towards it. ``center`` says where that is for your images
(0.5 for images in [0, 1]; 0, the papers' convention, by default).
"""
import numpy as np

from methods.image_transforms import gaussian_blur
from methods.objectives import tv_loss
from minigrad.argument_checks import integer


def _positive(v, name, allow_zero=False):
    if not np.isscalar(v) or not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}: expected a finite number {'>=' if allow_zero else '>'} 0, got {v!r}")
    return float(v)


def _percentile(v, name):
    if not np.isscalar(v) or not 0 <= v < 100:
        raise ValueError(f"{name}: expected a percentile in [0, 100), got {v!r}")
    return float(v)


def _clip_below(x, score, percentile, center):
    """x with the pixels whose score (N, 1, H, W) lies below the image's percentile set to ``center``."""
    keep = score >= np.percentile(score, percentile, axis=(1, 2, 3), keepdims=True)
    return np.where(keep, x, x.dtype.type(center))


class Regularizer:
    """Base class: every hook does nothing."""

    name = "regularizer"
    acts_on_pixels = False

    def penalty(self, x):
        return None

    def on_gradient(self, g, step):
        return g

    def after_step(self, x, g, step):
        return x

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class L2(Regularizer):
    """weight * ||x - center||^2 per image (Simonyan et al. 2013, eq. 1: argmax_I S_c(I) - lambda ||I||_2^2)."""

    name = "l2"

    def __init__(self, weight, center=0.0):
        self.weight = _positive(weight, "weight", allow_zero=True)
        self.center = float(center)

    def penalty(self, x):
        d = x - self.center
        return (d * d).sum(axis=(1, 2, 3)) * self.weight


class AlphaNorm(Regularizer):
    """weight * sum |x - center|^alpha per image (Mahendran & Vedaldi 2015, eq. 10; alpha = 6 there)."""

    name = "alpha_norm"

    def __init__(self, weight, alpha=6.0, center=0.0):
        self.weight = _positive(weight, "weight", allow_zero=True)
        self.alpha = _positive(alpha, "alpha")
        self.center = float(center)

    def penalty(self, x):
        return ((x - self.center).abs() ** self.alpha).sum(axis=(1, 2, 3)) * self.weight


class TotalVariation(Regularizer):
    """weight * TV^beta(x) per image (Mahendran & Vedaldi 2015, eq. 11): favours piecewise-smooth images."""

    name = "tv"

    def __init__(self, weight, beta=2.0):
        self.weight = _positive(weight, "weight", allow_zero=True)
        self.beta = _positive(beta, "beta")

    def penalty(self, x):
        return tv_loss(x, self.beta) * self.weight


class Decay(Regularizer):
    """x <- center + (1 - theta)(x - center) after every step (Yosinski et al. 2015, r_theta: L2 decay)."""

    name, acts_on_pixels = "decay", True

    def __init__(self, theta, center=0.0):
        self.theta = _positive(theta, "theta", allow_zero=True)
        if self.theta >= 1:
            raise ValueError(f"theta: expected a value in [0, 1), got {theta!r}")
        self.center = float(center)

    def after_step(self, x, g, step):
        return self.center + (x - self.center) * (1 - self.theta)


class GaussianBlur(Regularizer):
    """Blur x with a Gaussian of std ``sigma`` every ``every`` steps (Yosinski et al. 2015; the
    cs231n recipe blurs with sigma 0.5 every 10 steps)."""

    name, acts_on_pixels = "blur", True

    def __init__(self, sigma, every=1):
        self.sigma = _positive(sigma, "sigma")
        self.every = integer(every, "every", low=1)

    def after_step(self, x, g, step):
        return gaussian_blur(x, self.sigma) if (step + 1) % self.every == 0 else x


class ClipNorm(Regularizer):
    """Set to ``center`` the pixels whose norm ||x - center|| over channels lies below the
    ``percentile``-th percentile of the image (Yosinski et al. 2015, clipping pixels with small norm)."""

    name, acts_on_pixels = "clip_norm", True

    def __init__(self, percentile, center=0.0):
        self.percentile, self.center = _percentile(percentile, "percentile"), float(center)

    def after_step(self, x, g, step):
        d = x - self.center
        return _clip_below(x, np.sqrt((d * d).sum(axis=1, keepdims=True)), self.percentile, self.center)


class ClipContribution(Regularizer):
    """Set to ``center`` the pixels whose contribution |sum_c (x - center) * dF/dx| (the linearised
    change of the objective if the pixel were set to ``center``) lies below the ``percentile``-th
    percentile (Yosinski et al. 2015)."""

    name, acts_on_pixels = "clip_contribution", True

    def __init__(self, percentile, center=0.0):
        self.percentile, self.center = _percentile(percentile, "percentile"), float(center)

    def after_step(self, x, g, step):
        return _clip_below(x, np.abs(((x - self.center) * g).sum(axis=1, keepdims=True)), self.percentile, self.center)


class Clamp(Regularizer):
    """Clip pixels to [low, high] after every step (the valid image range; cs231n's recipe)."""

    name, acts_on_pixels = "clamp", True

    def __init__(self, low=0.0, high=1.0):
        if not (np.isscalar(low) and np.isscalar(high) and low < high):
            raise ValueError(f"low, high: expected numbers with low < high, got {low!r}, {high!r}")
        self.low, self.high = float(low), float(high)

    def after_step(self, x, g, step):
        return np.clip(x, self.low, self.high)
