"""Input checks shared by layers: a clear error naming the layer, what it expected and what it got."""
import numpy as np

from minigrad import Tensor, as_tensor


def layer_input(layer, x, ndim, what):
    """``x`` as a Tensor of float dtype with ``ndim`` dimensions, else a ValueError/TypeError."""
    if not isinstance(x, Tensor):
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{layer!r}: expected a numeric array, got dtype {arr.dtype}")
        x = as_tensor(arr)
    if x.ndim != ndim:
        raise ValueError(f"{layer!r}: expected input of shape {what}, got shape {x.shape}")
    return x


def check_size(layer, axis_name, expected, got, shape):
    if expected != got:
        raise ValueError(f"{layer!r}: expected {expected} {axis_name}, got {got} (input shape {shape})")
