"""TSNE's parameter constraints, after scikit-learn's ``TSNE._parameter_constraints`` (1.9), checked
before any work. tsne keeps this table of its own so that it needs only NumPy and Numba.

Where the two differ, on purpose: ``callback``/``callback_every``, ``neighbors`` and the FFT
settings are ours (openTSNE's names); ``n_jobs=None`` keeps Numba's thread count (all cores) where
joblib means one, and ``n_jobs=0`` is refused. ``metric`` takes scikit-learn's own list of names
(``_VALID_METRICS``), read from scikit-learn only for a name other than 'euclidean' or 'precomputed'.
"""
import math
import numbers

import numpy as np

from tsne.approximate_neighbors import NEIGHBOR_SEARCHES
from tsne.distances import valid_metric_names


def _finite(v):
    """Whether a number is finite; Python ints of any size are (NumPy cannot take those)."""
    if isinstance(v, numbers.Integral):
        return True
    try:
        return math.isfinite(v)
    except (OverflowError, TypeError):
        return False


class Interval:
    """A number of ``kind`` (numbers.Integral or numbers.Real) in a range; closed: 'left', 'right',
    'both' or 'neither'."""

    def __init__(self, kind, low, high, closed):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, v):
        if isinstance(v, bool) or not isinstance(v, self.kind) or not _finite(v):
            return False
        lo_ok = self.low is None or (v >= self.low if self.closed in ("left", "both") else v > self.low)
        hi_ok = self.high is None or (v <= self.high if self.closed in ("right", "both") else v < self.high)
        return lo_ok and hi_ok

    def __str__(self):
        what = "an int" if self.kind is numbers.Integral else "a finite number"
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        return f"{what} in {left}{'-inf' if self.low is None else self.low}, {'inf' if self.high is None else self.high}{right}"


class Options:
    """One of the given strings."""

    kind = str

    def __init__(self, *options):
        self.options = options

    def accepts(self, v):
        return isinstance(v, str) and v in self.options

    def __str__(self):
        names = list(map(repr, self.options))
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class Kind:
    """Anything for which ``test(v)`` holds, described as ``text``; ``kind``: the type whose values
    this constraint is about (a value of that kind that fails is a ValueError, not a TypeError)."""

    def __init__(self, test, text, kind=type(None)):
        self.test, self.text, self.kind = test, text, kind

    def accepts(self, v):
        return self.test(v)

    def __str__(self):
        return self.text


NONE = Kind(lambda v: v is None, "None")


def _metric_name(v):
    """Whether v names a metric scikit-learn's TSNE accepts (its list is read only for other names)."""
    if not isinstance(v, str):
        return False
    if v in ("euclidean", "precomputed"):
        return True
    return v in valid_metric_names()  # imports scikit-learn's list: not for the default metric


CONSTRAINTS = {
    "n_components": [Interval(numbers.Integral, 1, None, "left")],
    "perplexity": [Interval(numbers.Real, 0, None, "neither"),
                   Kind(lambda v: isinstance(v, (list, tuple)) and len(v) > 0
                        and all(Interval(numbers.Real, 0, None, "neither").accepts(q) for q in v),
                        "a non-empty list of positive floats (multiscale)", (list, tuple))],
    "exaggeration": [NONE, Interval(numbers.Real, 0, None, "neither")],
    "early_exaggeration": [Interval(numbers.Real, 1, None, "left")],
    "learning_rate": [Options("auto"), Interval(numbers.Real, 0, None, "neither")],
    "max_iter": [Interval(numbers.Integral, 250, None, "left")],
    "n_iter_without_progress": [Interval(numbers.Integral, -1, None, "left")],
    "min_grad_norm": [Interval(numbers.Real, 0, None, "left")],
    "metric": [Kind(_metric_name, "a metric name of scikit-learn's (sklearn.metrics.pairwise._VALID_METRICS) "
                    "or 'precomputed'", str), Kind(callable, "a callable(x, y) -> distance")],
    "metric_params": [NONE, Kind(lambda v: isinstance(v, dict), "a dict", dict)],
    "init": [Options("pca", "random"), Kind(lambda v: isinstance(v, np.ndarray), "a numpy array")],
    "progress_bar": [Kind(lambda v: isinstance(v, (bool, np.bool_)), "a bool", bool)],
    "verbose": [Interval(numbers.Integral, 0, None, "left"), Kind(lambda v: isinstance(v, bool), "a bool")],
    "random_state": [NONE, Interval(numbers.Integral, 0, 2**32 - 1, "both"),
                     Kind(lambda v: isinstance(v, (np.random.Generator, np.random.RandomState)),
                          "a numpy Generator or RandomState")],
    "method": [Options("barnes_hut", "exact", "fft")],
    "angle": [Interval(numbers.Real, 0, 1, "both")],
    "dof": [NONE, Interval(numbers.Real, 0, None, "neither")],
    "n_interpolation_points": [Interval(numbers.Integral, 1, None, "left")],
    "min_num_intervals": [Interval(numbers.Integral, 1, None, "left")],
    "ints_in_interval": [Interval(numbers.Real, 0, None, "neither")],
    "n_jobs": [NONE, Kind(lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v != 0,
                          "a non-zero int (-1: all cores)", numbers.Integral)],
    "callback": [NONE, Kind(callable, "a callable (iteration, Y, kl)")],
    "callback_every": [Interval(numbers.Integral, 1, None, "left")],
    "neighbors": [Options(*NEIGHBOR_SEARCHES)],
}


_POSITIVE = Interval(numbers.Real, 0, None, "neither")
TRANSFORM_CONSTRAINTS = {  # TSNE.transform's settings (openTSNE's names)
    "perplexity": [_POSITIVE],
    "n_iter": [Interval(numbers.Integral, 1, None, "left")],
    "learning_rate": [_POSITIVE],
    "exaggeration": [_POSITIVE],
    "momentum": [Interval(numbers.Real, 0, 1, "left")],
    "max_grad_norm": [_POSITIVE],
}


def validate_params(params, constraints=None):
    """A ValueError naming the first parameter whose value no constraint accepts (TypeError when
    the value is of a kind no constraint takes at all); ``constraints`` defaults to TSNE's."""
    for name, constraints in (CONSTRAINTS if constraints is None else constraints).items():
        v = params[name]
        if any(c.accepts(v) for c in constraints):
            continue
        accepted = " or ".join(map(str, constraints))
        right_kind = not isinstance(v, bool) and any(isinstance(v, c.kind) and c.kind is not type(None)
                                                     for c in constraints)
        error = ValueError if right_kind else TypeError
        raise error(f"{name}: expected {accepted}, got {v!r}")


def threads(n_jobs, available):
    """Numba threads for ``n_jobs``: None keeps ``available``; k > 0 means k (at most ``available``);
    -1 all, -2 all but one, ... (joblib's convention), at least 1."""
    if n_jobs is None:
        return available
    if n_jobs > 0:
        return min(int(n_jobs), available)
    k = available + 1 + int(n_jobs)
    if k < 1:
        raise ValueError(f"n_jobs: {n_jobs} leaves no thread of the {available} available")
    return k
