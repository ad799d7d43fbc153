"""The checks every public function runs on its arguments before doing any work.

Each takes the value and the argument's name, returns the value in the form the caller needs,
and raises ``ValueError`` (a wrong value) or ``TypeError`` (a wrong kind of value) whose message
names the argument, what is accepted and what was given. Imports only NumPy, so any package can
use it without importing the autodiff core's ops.
"""
import functools
import inspect
import numbers

import numpy as np


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(value, name, low=None, high=None):
    """An int (NumPy ints too, not bool, not float) with low <= value <= high."""
    # a plain int skips the ABC check (about 1 us; a layer's call checks a dozen arguments)
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
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


def real_array(value, name):
    """``value`` as a real numeric ndarray (float32/float64 kept, other numbers -> float64).

    Refuses, naming ``name``: None and other objects (``TypeError``), strings, and complex numbers
    (``TypeError``: minigrad computes in real float32/float64, and dropping the imaginary part
    with only NumPy's ComplexWarning would hide a mistake; pass ``x.real`` or ``abs(x)``)."""
    # the common cases first, on every Tensor an op makes: nothing to convert or refuse
    if isinstance(value, np.ndarray) and value.dtype.char in "fd":
        return value
    if type(value) is float or (type(value) is int and -2**53 <= value <= 2**53):
        return np.asarray(value, dtype=np.float64)
    if value is None:
        raise TypeError(f"{name}: expected a real numeric array, got None")
    try:
        arr = np.asarray(getattr(value, "data", value))
    except (TypeError, ValueError) as e:  # ragged lists and objects NumPy cannot read
        raise TypeError(f"{name}: expected a real numeric array, got {type(value).__name__} ({e})") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: expected real numbers, got complex dtype {arr.dtype} "
                        f"(pass x.real or abs(x) to say which real array you mean)")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name}: expected a real numeric array, got "
                        f"{type(value).__name__ if arr.ndim == 0 and arr.dtype.kind in 'OUS' else 'dtype'} "
                        f"{arr.dtype if arr.ndim or arr.dtype.kind not in 'OUS' else _shown(value)}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=None)
def op_input_name(op, i):
    """How errors name input ``i`` of an op class: its parameter in ``forward`` (a, b, x, weight)."""
    try:
        names = [p for p in inspect.signature(op.forward).parameters if p != "ctx"]
    except (TypeError, ValueError):
        names = []
    return f"{op.name}: argument {names[i]!r}" if i < len(names) else f"{op.name}: input {i}"


def dtype(value, name="dtype"):
    """np.float32 or np.float64 (or their names) -> the ``numpy.dtype``. minigrad computes in these
    two only: float16, integers (which would truncate the weights to zero), complex, strings and
    objects are refused naming ``name``."""
    if value is None or isinstance(value, bool):
        raise TypeError(f"{name}: expected numpy.float32 or numpy.float64, got {_shown(value)}")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected numpy.float32 or numpy.float64, got {_shown(value)}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name}: expected numpy.float32 or numpy.float64 (minigrad computes in these two), "
                         f"got {dt.name if dt.kind != 'U' else _shown(value)}")
    return dt


def seed(value, name="seed"):
    """A seed as scikit-learn's ``random_state`` takes one: None, an int >= 0 or a
    ``numpy.random.Generator`` (used as it is). Returns the value; ``rng`` gives the Generator."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected None, an int >= 0 or a numpy.random.Generator, "
                        f"got {type(value).__name__} {_shown(value)}")
    if value < 0:
        raise ValueError(f"{name}: expected None, an int >= 0 or a numpy.random.Generator, got {value}")
    return int(value)


def rng(value, name="seed"):
    """``numpy.random.default_rng`` of a checked ``seed``: a Generator is returned as it is."""
    return np.random.default_rng(seed(value, name))


def child_rng(value, name="seed", stream=1):
    """A second, independent Generator derived from the same seed (``seed + stream`` for an int, as
    the code did before Generators were accepted; a child of a Generator's bit generator otherwise)."""
    value = seed(value, name)
    if stream == 0:
        return np.random.default_rng(value)
    if isinstance(value, np.random.Generator):
        return value.spawn(1)[0]
    return np.random.default_rng(None if value is None else value + stream)


def array(value, name, ndim=None, shape=None, finite=True, min_size=1):
    """A real numeric (not object, not string, not complex) ndarray; floats are kept, other
    numbers become float64. ``ndim``: an int or a tuple of allowed ranks; ``shape``: the exact
    shape wanted."""
    arr = real_array(value, name)
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
    if type(value) is tuple and len(value) == 2 and type(value[0]) is type(value[1]) is int \
            and min(value) >= minimum:
        return value  # what layers pass on every call, already checked when they were built
    if isinstance(value, str) or value is None or not (np.isscalar(value) or hasattr(value, "__len__")):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {type(value).__name__} {_shown(value)}")
    v = (value, value) if np.isscalar(value) else tuple(value)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {_shown(value)}")
    return integer(v[0], name, low=minimum), integer(v[1], name, low=minimum)


def size_pair_or_none(value, name, minimum=1):
    """An adaptive pooling's output size: an int, None, or a pair of (int or None) -> (a, b), where
    None keeps that side of the input."""
    if value is None:
        return (None, None)
    if isinstance(value, str) or not (np.isscalar(value) or hasattr(value, "__len__")):
        raise TypeError(f"{name}: expected an int, None or a pair of them, got {type(value).__name__} {_shown(value)}")
    v = (value, value) if np.isscalar(value) else tuple(value)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int, None or a pair of them, got {_shown(value)}")
    return tuple(None if s is None else integer(s, name, low=minimum) for s in v)
