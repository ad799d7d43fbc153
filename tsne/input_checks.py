"""The checks every t-SNE function runs on an array or a count before its work, naming the argument
(the estimator's parameters have theirs in ``parameter_constraints``). Imports only NumPy, so
every module of the package can use it."""
import numbers

import numpy as np


def real_matrix(X, name, finite=True, keep_float32=False, min_rows=1):
    """X as a dense (n, d) float64 array (float32 kept with ``keep_float32``), with n >= ``min_rows``: the check
    every t-SNE function taking data, distances or affinities runs before its work. None, strings,
    objects and complex numbers are a TypeError, NaN or inf (with ``finite``) and a wrong shape a
    ValueError, each naming ``name``."""
    if hasattr(X, "tocsr"):  # a SciPy sparse matrix (tsne.sparse_input takes those where they are allowed)
        raise TypeError(f"{name}: expected a dense array, got a sparse matrix ({type(X).__name__})")
    arr = np.asarray(X)
    if np.iscomplexobj(arr) or arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name}: expected a real numeric array, got {type(X).__name__} of dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < min_rows:
        raise ValueError(f"{name}: expected a 2-D array with at least {min_rows} row(s), got shape {arr.shape}")
    arr = arr.astype(np.float32 if keep_float32 and arr.dtype == np.float32 else np.float64, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf ({int(np.sum(~np.isfinite(arr)))} values)")
    return np.ascontiguousarray(arr)


def count(value, name, low, high=None):
    """An int (not bool, not float, not a string) in [low, high], or a ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}: expected an int in [{low}, {'inf' if high is None else high}], got {value}")
    return int(value)


def random_generator(random_state, name="random_state"):
    """A NumPy Generator (or the RandomState given) for ``random_state``: None, an int in [0, 2^32 - 1],
    a Generator or a RandomState; anything else a TypeError/ValueError naming ``name``."""
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if random_state is not None:
        count(random_state, name, 0, 2 ** 32 - 1)
    return np.random.default_rng(random_state)
