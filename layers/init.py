"""Weight initialisation (Glorot & Bengio 2010; He et al. 2015), each drawn from a seeded Generator.

``rng`` may be a ``numpy.random.Generator``, an int seed or None (the module-level
generator, reseeded with ``manual_seed``).
"""
import math

import numpy as np

_DEFAULT = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the generator used when a layer is built without ``rng``."""
    global _DEFAULT
    _DEFAULT = np.random.default_rng(seed)


def generator(rng=None):
    if rng is None:
        return _DEFAULT
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng: expected a numpy Generator, an int seed or None, got {type(rng).__name__}")


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
    bound = _gain(nonlinearity, a) * math.sqrt(3.0 / fan_in_and_out(shape)[0])
    return generator(rng).uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def kaiming_normal(shape, a=0.0, nonlinearity="relu", rng=None, dtype=np.float64):
    """N(0, std^2) with std = gain / sqrt(fan_in) (He et al. 2015)."""
    std = _gain(nonlinearity, a) / math.sqrt(fan_in_and_out(shape)[0])
    return (generator(rng).standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, gain=1.0, rng=None, dtype=np.float64):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fi, fo = fan_in_and_out(shape)
    bound = gain * math.sqrt(6.0 / (fi + fo))
    return generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def xavier_normal(shape, gain=1.0, rng=None, dtype=np.float64):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fi, fo = fan_in_and_out(shape)
    return (generator(rng).standard_normal(shape) * gain * math.sqrt(2.0 / (fi + fo))).astype(dtype)


def default_weight_and_bias(weight_shape, bias, rng, dtype):
    """PyTorch's default for Conv2d and Linear: kaiming_uniform(a=sqrt(5)) weights,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
    rng = generator(rng)
    w = kaiming_uniform(weight_shape, a=math.sqrt(5), rng=rng, dtype=dtype)
    if not bias:
        return w, None
    bound = 1.0 / math.sqrt(fan_in_and_out(weight_shape)[0])
    return w, rng.uniform(-bound, bound, size=weight_shape[0]).astype(dtype)
