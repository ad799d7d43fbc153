"""scikit-learn's estimator protocol, without importing scikit-learn.

What ``clone``, ``Pipeline``, ``set_output`` and a notebook expect of an estimator
(``sklearn.base.BaseEstimator``, ``TransformerMixin``, ``ClassNamePrefixFeaturesOutMixin``,
``_SetOutputMixin``, 1.9): ``get_params(deep)``/``set_params`` over the constructor's arguments, a
repr listing the changed ones, ``n_features_in_``/``feature_names_in_`` from a DataFrame's string
column names, ``get_feature_names_out()`` ('tsne0', 'tsne1', ...), ``set_output(transform=...)``
and the global ``transform_output`` configuration, and ``__sklearn_tags__``.

Why not subclass scikit-learn's classes: ``import sklearn.base`` takes ~0.52 s on top of
``import tsne``'s ~0.34 s (NumPy and Numba; measured on this project's machines). So this mixin
reads scikit-learn only once it is loaded anyway: the global configuration from
``sys.modules['sklearn']`` (a user who set it has imported it), and scikit-learn's own
pandas/polars container adapters when a non-default output is asked for.
"""
import inspect
import sys
import warnings

import numpy as np

_OUTPUTS = ("default", "pandas", "polars")


def feature_names(X):
    """The column names of a DataFrame X as an object array when they are all strings, else None;
    a TypeError for mixed string and non-string names (scikit-learn's ``_get_feature_names``)."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    if len(names) == 0:
        return None
    types = sorted({type(v).__qualname__ for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(f"X: Feature names are only supported if all input features have string names, "
                        f"but your input has {types} as feature name / column name types. Convert them "
                        f"all to strings (X.columns = X.columns.astype(str)) or none of them")
    return names if types == ["str"] else None


class EstimatorAPI:
    """Mixin: scikit-learn's estimator protocol (module docstring). The subclass's ``__init__``
    stores each argument under its own name; ``fit`` calls ``_set_feature_names(X)``, ``transform``
    ``_check_feature_names(X)``, and both return through ``_wrap_output(Y, X)``."""

    # scikit-learn's set_output machinery wraps 'transform' (and fit_transform) of such estimators
    _sklearn_auto_wrap_output_keys = {"transform"}

    @classmethod
    def _get_param_names(cls):
        """The constructor's argument names, sorted (as ``BaseEstimator``)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """The constructor's parameters and their values; with ``deep``, also those of parameters that
        are estimators themselves, as ``name__parameter``."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        """Set parameters (``name`` or ``name__parameter`` of a nested estimator); returns self."""
        valid = self._get_param_names()
        nested = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"set_params: unknown parameter {name!r} for {type(self).__name__}; "
                                 f"valid: {valid}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self):
        """``Class(changed=value, ...)``: the parameters that differ from the constructor's defaults."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{name}={value!r}" for name, value in self.get_params(deep=False).items()
                   if isinstance(value, np.ndarray) or repr(value) != repr(defaults.get(name))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """scikit-learn's tags (>= 1.6; only scikit-learn calls this, so it is loaded): a transformer
        that takes sparse input, pairwise when the metric is 'precomputed'."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=TransformerTags(),
                    input_tags=InputTags(sparse=True, pairwise=getattr(self, "metric", None) == "precomputed"))

    # --- feature names ------------------------------------------------------------------------
    def _set_feature_names(self, X):
        """``feature_names_in_`` from X's string column names (removed when X has none)."""
        names = feature_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_feature_names(self, X):
        """New data's column names against the fitted ones: a ValueError when they differ, a warning
        when only one of the two has names (scikit-learn's ``_check_feature_names``)."""
        fitted, names = getattr(self, "feature_names_in_", None), feature_names(X)
        if fitted is None and names is None:
            return
        if fitted is None or names is None:
            warnings.warn(f"X {'does not have' if names is None else 'has'} valid feature names, but "
                          f"{type(self).__name__} was fitted {'with' if names is None else 'without'} "
                          f"feature names", UserWarning, stacklevel=3)
        elif len(fitted) != len(names) or np.any(fitted != names):
            raise ValueError(f"X: The feature names should match those that were passed during fit: "
                             f"expected {list(fitted)}, got {list(names)}")

    @property
    def _n_features_out(self):
        return self.embedding_.shape[1]

    def get_feature_names_out(self, input_features=None):
        """The output columns' names: the class name in lower case and the component's index,
        ('tsne0', 'tsne1', ...) as scikit-learn's ``ClassNamePrefixFeaturesOutMixin``.
        ``input_features``, if given, must equal the fitted feature names (or their number)."""
        if not hasattr(self, "embedding_"):
            from sklearn.exceptions import NotFittedError  # scikit-learn's type, which pipelines catch

            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                                 f"appropriate arguments before using get_feature_names_out.")
        if input_features is not None:
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and not np.array_equal(np.asarray(input_features, dtype=object), fitted):
                raise ValueError(f"input_features is not equal to feature_names_in_: expected {list(fitted)}, "
                                 f"got {list(input_features)}")
            if len(input_features) != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to number of features "
                                 f"({self.n_features_in_}), got {len(input_features)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)

    # --- output containers -----------------------------------------------------------------------
    def set_output(self, *, transform=None):
        """The container of ``transform``/``fit_transform``'s output: 'default' (a NumPy array),
        'pandas' or 'polars' (a DataFrame with columns ``get_feature_names_out()``, the input's index
        kept), None to leave it unchanged. Without it the global
        ``sklearn.set_config(transform_output=...)`` applies. Returns self."""
        if transform is None:
            return self
        if transform not in _OUTPUTS:
            raise ValueError(f"set_output: transform expected one of {_OUTPUTS} or None, got {transform!r}")
        self._sklearn_output_config = {**getattr(self, "_sklearn_output_config", {}), "transform": transform}
        return self

    def _wrap_output(self, Y, X):
        """Y (n, n_components) in the configured container (X: the input, whose index a DataFrame keeps)."""
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        if config is None:
            sklearn = sys.modules.get("sklearn")  # not loaded: nobody can have configured it
            get_config = getattr(sklearn, "get_config", None)
            config = get_config()["transform_output"] if get_config is not None else "default"
        if config == "default":
            return Y
        from sklearn.utils._set_output import _wrap_data_with_container  # scikit-learn's own adapters

        return _wrap_data_with_container("transform", Y, X, self)
