"""``Tensor``: one NumPy array, whether it wants a gradient, and the node that made it.

float64 is the default (good for checking formulas); float32 arrays stay float32 end to end
(good for speed). This file imports nothing from minigrad: the ops need ``Tensor``, so
Tensor's operators (``+ - * / ** @``, indexing, ``.sum()``, ``.backward()``, ...) are attached
in ``minigrad/tensor_operators.py`` once the ops exist, each one line over an op.
"""
import numpy as np

from minigrad import argument_checks as _check

_FLOATS = (np.float32, np.float64)


def _to_array(data, dtype=None, name="Tensor data"):
    """data as a real float32/float64 array: complex numbers, strings, None and other objects are
    refused naming ``name`` (see ``argument_checks.real_array``); ``dtype`` must be float32/float64."""
    if isinstance(data, Tensor):
        data = data.data
    arr = _check.real_array(data, name)
    if dtype is not None:
        return arr.astype(_check.dtype(dtype, "dtype"), copy=False)
    return arr


class Tensor:
    """A value in the computation graph.

    Parameters
    ----------
    data : array_like
        Any numeric array; float32 and float64 are kept, everything else becomes float64.
    requires_grad : bool
        Whether the reverse pass should compute a gradient for this tensor.
    dtype : np.float32 or np.float64, optional
        Force a dtype (minigrad computes in these two; others raise naming ``dtype``).

    Attributes: ``data`` (the ndarray), ``requires_grad``, ``grad`` (filled by ``backward()``)
    and ``_node`` (the ``minigrad.graph.Node`` that made it; None for a leaf). ``_pinned``: whether
    in-place ops (``relu(x, inplace=True)``) must leave the array alone: True for the caller's data,
    False for an op's fresh output until a recorded op or a ``capture`` takes it
    (``minigrad.graph.can_overwrite``).
    """

    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        self._pinned = True

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._node is None, doc="True unless an op made this tensor.")

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        op = f", op={self._node.op.name}" if self._node is not None else ""
        rg = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, threshold=8, precision=4)}{rg}{op})"

    def numpy(self):
        """The underlying ndarray (not a copy)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self):
        """A new leaf sharing the data, cut from the graph."""
        return Tensor(self.data)

    def astype(self, dtype):
        """A new leaf with the data cast to ``dtype`` (np.float32 or np.float64)."""
        return Tensor(self.data.astype(_check.dtype(dtype, "dtype")), requires_grad=self.requires_grad)

    def zero_grad(self):
        """Forget the accumulated ``grad``."""
        self.grad = None

    def __gt__(self, o): return self.data > _to_array(o)
    def __lt__(self, o): return self.data < _to_array(o)
    def __ge__(self, o): return self.data >= _to_array(o)
    def __le__(self, o): return self.data <= _to_array(o)


def as_tensor(x, name=None):
    """``x`` itself if it is a Tensor, else a constant Tensor wrapping it (errors name ``name``)."""
    return x if isinstance(x, Tensor) else Tensor(_to_array(x, name=name or "Tensor data"))
