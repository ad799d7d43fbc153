"""How an optimised image is parameterised: its pixels, or a scaled Fourier spectrum with
decorrelated colour (Olah et al. 2017, "Feature Visualization", section "Preconditioning and
Parameterization": the row "normalises gradient frequencies" of lecture 001's table).

A parameterisation turns a start image x0 into parameter arrays (``init``) and parameters into
an image Tensor (``image``), differentiably, so ``optimize_input`` steps in parameter space.
"""
import numpy as np

import minigrad as mg
from minigrad import Tensor

# The square root of ImageNet's colour covariance (lucid's ``color_correlation_svd_sqrt``, Olah et
# al. 2017), scaled so that its largest column has norm 1: independent spectra per row become
# natural, correlated colours.
_COLOUR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOUR_SQRT = _COLOUR_SQRT / np.max(np.linalg.norm(_COLOUR_SQRT, axis=0))


class Pixel:
    """The image's pixels are the parameters."""

    name = "pixel"

    def init(self, x0):
        return [np.array(x0)]

    def image(self, params):
        return params[0]


class Fourier:
    """x = range(colour(irfft2(scale * (re + i im)))) with scale_f = 1 / max(f, 1/max(H, W))^decay_power
    (f the spatial frequency in cycles per pixel), times sqrt(H W): every frequency's parameter then
    moves the image about equally, which whitens the gradient (Olah et al. 2017).

    decorrelate : mix the three channels with the square root of natural images' colour covariance
        (identity for other channel counts)
    sigmoid : map to (0, 1) with a sigmoid (lucid's ``to_valid_rgb``); else x is the raw signal
    """

    def __init__(self, decay_power=1.0, decorrelate=False, sigmoid=False):
        if not np.isscalar(decay_power) or not np.isfinite(decay_power) or decay_power < 0:
            raise ValueError(f"decay_power: expected a finite number >= 0, got {decay_power!r}")
        self.decay_power, self.decorrelate, self.sigmoid = float(decay_power), bool(decorrelate), bool(sigmoid)
        self.name = "decorrelated" if decorrelate else "fourier"

    def _scale(self, H, W):
        f = np.sqrt(np.fft.fftfreq(H)[:, None] ** 2 + np.fft.rfftfreq(W)[None, :] ** 2)
        return np.sqrt(H * W) / np.maximum(f, 1.0 / max(H, W)) ** self.decay_power

    def _colour(self, C, inverse=False):
        if not self.decorrelate or C != 3:
            return None
        return np.linalg.inv(_COLOUR_SQRT) if inverse else _COLOUR_SQRT

    def init(self, x0):
        x0 = np.asarray(x0)
        self.size = x0.shape[2:]  # irfft2 needs the width, which the spectrum's shape leaves open
        y = x0.astype(np.float64)
        if self.sigmoid:
            y = np.log(np.clip(y, 1e-4, 1 - 1e-4) / (1 - np.clip(y, 1e-4, 1 - 1e-4)))  # the logit
        M = self._colour(x0.shape[1], inverse=True)
        if M is not None:
            y = np.einsum("cd,ndhw->nchw", M, y)
        spec = np.fft.rfft2(y) / self._scale(*x0.shape[2:])
        return [spec.real.astype(x0.dtype), spec.imag.astype(x0.dtype)]

    def image(self, params):
        re, im = params
        H, W = self.size
        scale = Tensor(self._scale(H, W).astype(re.dtype))
        x = mg.irfft2(re * scale, im * scale, (H, W))
        M = self._colour(x.shape[1])
        if M is not None:  # x_c = sum_d M[c, d] y_d at every pixel
            x = (x.transpose(0, 2, 3, 1) @ Tensor(M.T.astype(x.dtype))).transpose(0, 3, 1, 2)
        return x.sigmoid() if self.sigmoid else x


PARAMETERIZATIONS = {"pixel": Pixel, "fourier": lambda: Fourier(),
                     "decorrelated": lambda: Fourier(decorrelate=True, sigmoid=True)}


def as_parameterization(p):
    """A parameterisation object from itself or a name: 'pixel', 'fourier' (spectrum, raw range) or
    'decorrelated' (spectrum, decorrelated colour, sigmoid: lucid's default image)."""
    if isinstance(p, str):
        if p not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization: expected one of {', '.join(PARAMETERIZATIONS)} or an "
                             f"object with init and image, got {p!r}")
        return PARAMETERIZATIONS[p]()
    if not (hasattr(p, "init") and hasattr(p, "image")):
        raise TypeError(f"parameterization: expected a name or an object with init(x0) and image(params), "
                        f"got {type(p).__name__}")
    return p
