"""``Tensor``: one NumPy array, whether it wants a gradient, and the node that made it.

Operators are thin sugar over the ops in ``minigrad.ops``.  float64 is the default
(good for checking formulas); float32 arrays stay float32 end to end (good for speed).
"""
import numpy as np

_FLOATS = (np.float32, np.float64)


def _to_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if arr.dtype not in _FLOATS:
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"Tensor data: expected a numeric array, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    return arr


class Tensor:
    """A node of the computation graph.

    Parameters
    ----------
    data : array_like
        Any numeric array; float32 and float64 are kept, everything else becomes float64.
    requires_grad : bool
        Whether the reverse pass should compute a gradient for this tensor.
    dtype : numpy dtype, optional
        Force a dtype.
    """

    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None

    # --- plain information -------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)

    @property
    def is_leaf(self):
        return self._node is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        op = f", op={self._node.op.name}" if self._node is not None else ""
        rg = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, threshold=8, precision=4)}{rg}{op})"

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def detach(self):
        """A new leaf sharing the data, cut from the graph."""
        return Tensor(self.data)

    def astype(self, dtype):
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad)

    # --- reverse mode ---------------------------------------------------------
    def backward(self, seed=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``seed`` defaults to ones (the gradient of ``self.sum()``).  This is the training
        convenience; ``minigrad.grad`` is the pure version that mutates nothing.
        """
        from minigrad.backward import accumulate_into_leaves

        accumulate_into_leaves(self, seed)

    def zero_grad(self):
        self.grad = None

    # --- operator sugar -------------------------------------------------------
    def _other(self, other):
        if isinstance(other, Tensor):
            return other
        # keep python scalars weak so a float32 tensor stays float32
        return Tensor(np.asarray(other, dtype=self.dtype))

    def __add__(self, o): return ops.add(self, self._other(o))
    def __radd__(self, o): return ops.add(self._other(o), self)
    def __sub__(self, o): return ops.sub(self, self._other(o))
    def __rsub__(self, o): return ops.sub(self._other(o), self)
    def __mul__(self, o): return ops.mul(self, self._other(o))
    def __rmul__(self, o): return ops.mul(self._other(o), self)
    def __truediv__(self, o): return ops.div(self, self._other(o))
    def __rtruediv__(self, o): return ops.div(self._other(o), self)
    def __pow__(self, o): return ops.pow(self, self._other(o))
    def __rpow__(self, o): return ops.pow(self._other(o), self)
    def __matmul__(self, o): return ops.matmul(self, self._other(o))
    def __rmatmul__(self, o): return ops.matmul(self._other(o), self)
    def __neg__(self): return ops.neg(self)
    def __getitem__(self, idx): return ops.getitem(self, idx)

    def __gt__(self, o): return self.data > _to_array(o)
    def __lt__(self, o): return self.data < _to_array(o)
    def __ge__(self, o): return self.data >= _to_array(o)
    def __le__(self, o): return self.data <= _to_array(o)

    def sum(self, axis=None, keepdims=False): return ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return ops.max(self, axis, keepdims)
    def reshape(self, *shape): return ops.reshape(self, shape[0] if len(shape) == 1 else shape)
    def flatten(self, start_dim=1): return ops.reshape(self, self.shape[:start_dim] + (-1,))
    def transpose(self, *axes): return ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    T = property(lambda self: ops.transpose(self, None))
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def relu(self): return ops.relu(self)
    def sigmoid(self): return ops.sigmoid(self)
    def tanh(self): return ops.tanh(self)
    def softmax(self, axis=-1): return ops.softmax(self, axis)
    def log_softmax(self, axis=-1): return ops.log_softmax(self, axis)


def as_tensor(x):
    """``x`` itself if it is a Tensor, else a constant Tensor wrapping it."""
    return x if isinstance(x, Tensor) else Tensor(x)


from minigrad import ops  # noqa: E402  (ops need Tensor; Tensor's sugar needs ops)
