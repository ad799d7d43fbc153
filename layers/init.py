"""Weight initialisation (Glorot & Bengio 2010; He et al. 2015), each drawn from a seeded Generator.

``rng`` may be a ``numpy.random.Generator``, an int seed or None (the module-level
generator, reseeded with ``manual_seed``).
"""
import math

import numpy as np

from minigrad import argument_checks as check

_DEFAULT = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the generator used when a layer is built without ``rng``."""
    global _DEFAULT
    _DEFAULT = check.rng(seed, "seed")


def model_arguments(rng=None, dtype=np.float64, rng_name="rng", **sizes):
    """A layer's or model's seed, dtype and size arguments, checked before any weight is drawn:
    -> (Generator, numpy dtype). Each ``sizes`` entry must be an int >= 1 (``argument_checks``)."""
    for name, value in sizes.items():
        check.integer(value, name, low=1)
    return generator(rng, rng_name), check.dtype(dtype)


def generator(rng=None, name="rng"):
    """The Generator for ``rng``: a Generator as it is, an int >= 0 seeds a new one, None is the
    module-level generator; anything else raises naming ``name`` (``argument_checks.seed``)."""
    if check.seed(rng, name) is None:
        return _DEFAULT
    return check.rng(rng, name)


def fan_in_and_out(shape):
    """(fan_in, fan_out) of a weight (out, in) or (out, in, kh, kw)."""
    if len(shape) < 2:
        raise ValueError(f"shape: expected at least 2 dimensions, got {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _gain(nonlinearity, a=0.0):
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    raise ValueError(f"nonlinearity: expected 'relu', 'leaky_relu', 'linear', 'sigmoid' or 'tanh', "
                     f"got {nonlinearity!r}")


def kaiming_uniform(shape, a=0.0, nonlinearity="leaky_relu", rng=None, dtype=np.float64):
    """U(-b, b) with b = gain * sqrt(3 / fan_in) (He et al. 2015). PyTorch's layer default is a=sqrt(5)."""
    dtype = check.dtype(dtype)
    bound = _gain(nonlinearity, a) * math.sqrt(3.0 / fan_in_and_out(shape)[0])
    return generator(rng).uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def kaiming_normal(shape, a=0.0, nonlinearity="relu", rng=None, dtype=np.float64):
    """N(0, std^2) with std = gain / sqrt(fan_in) (He et al. 2015)."""
    dtype = check.dtype(dtype)
    std = _gain(nonlinearity, a) / math.sqrt(fan_in_and_out(shape)[0])
    return (generator(rng).standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, gain=1.0, rng=None, dtype=np.float64):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    dtype = check.dtype(dtype)
    fi, fo = fan_in_and_out(shape)
    bound = gain * math.sqrt(6.0 / (fi + fo))
    return generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def default_weight_and_bias(weight_shape, bias, rng, dtype):
    """PyTorch's default for Conv2d and Linear: kaiming_uniform(a=sqrt(5)) weights,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
    dtype = check.dtype(dtype)
    rng = generator(rng)
    w = kaiming_uniform(weight_shape, a=math.sqrt(5), rng=rng, dtype=dtype)
    if not bias:
        return w, None
    bound = 1.0 / math.sqrt(fan_in_and_out(weight_shape)[0])
    return w, rng.uniform(-bound, bound, size=weight_shape[0]).astype(dtype)
