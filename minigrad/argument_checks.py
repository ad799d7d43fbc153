"""The checks every public function runs on its arguments before doing any work.

Each takes the value and the argument's name, returns the value in the form the caller needs,
and raises ``ValueError`` (a wrong value) or ``TypeError`` (a wrong kind of value) whose message
names the argument, what is accepted and what was given. Imports only NumPy, so any package can
use it without importing the autodiff core's ops.
"""
import numbers

import numpy as np


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(value, name, low=None, high=None):
    """An int (NumPy ints too, not bool, not float) with low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}: expected an int{_range(low, high)}, got {value}")
    return int(value)


def number(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number (not bool) in [low, high]; ``low_open``/``high_open`` exclude the bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {_shown(value)}")
    try:
        v = float(value)
    except OverflowError:  # a Python int too large for a float
        v = float("inf") if value > 0 else float("-inf")
    bad = (not np.isfinite(v) or (low is not None and (v < low or (low_open and v == low)))
           or (high is not None and (v > high or (high_open and v == high))))
    if bad:
        raise ValueError(f"{name}: expected a finite number{_range(low, high, low_open, high_open)}, got {value!r}")
    return v


def _range(low, high, low_open=False, high_open=False):
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def one_of(value, name, options):
    """``value`` if it is one of ``options`` (strings compared exactly)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, options))}, got {_shown(value)}")
    return value


def boolean(value, name):
    """True or False (not 0, 1 or None: a misspelt option fails loudly)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {_shown(value)}")
    return bool(value)


def function(value, name, allow_none=False):
    """A callable (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(f"{name}: expected a callable{' or None' if allow_none else ''}, "
                        f"got {type(value).__name__} {_shown(value)}")
    return value


def array(value, name, ndim=None, shape=None, finite=True, min_size=1):
    """A numeric (not object, not string) ndarray; floats are kept, other numbers become float64.
    ``ndim``: an int or a tuple of allowed ranks; ``shape``: the exact shape wanted."""
    arr = np.asarray(getattr(value, "data", value))
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name}: expected {ndim}-D array, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name}: expected at least {min_size} value(s), got an empty array of shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf ({int(np.sum(~np.isfinite(arr)))} values)")
    return arr


def size_pair(value, name, minimum=1):
    """An int or a pair of ints, each >= minimum -> (a, b)."""
    v = (value, value) if np.isscalar(value) else tuple(value)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {_shown(value)}")
    return integer(v[0], name, low=minimum), integer(v[1], name, low=minimum)
