"""Tensor's operators and methods, each one line over an op or the reverse pass.

They are attached here, after the ops exist, so that ``tensor.py`` needs no op and no module of
minigrad imports another in a cycle (early tinygrad registered its ops on Tensor the same way).
"""
from minigrad import ops
from minigrad.argument_checks import real_array
from minigrad.backward import accumulate_into_leaves
from minigrad.tensor import Tensor


def _other(self, other):
    # python scalars stay weak, so that a float32 tensor stays float32; None, strings, objects and
    # complex numbers are refused (np.asarray(None, dtype=float) would be a silent NaN)
    return other if isinstance(other, Tensor) else Tensor(real_array(other, "operand").astype(self.dtype, copy=False))


def _binary(op):
    """(t op o, o op t): the operator and its reflected form (``2 * t`` calls ``t.__rmul__(2)``)."""
    return lambda self, o: op(self, _other(self, o)), lambda self, o: op(_other(self, o), self)


Tensor.backward = accumulate_into_leaves
Tensor.__add__, Tensor.__radd__ = _binary(ops.add)
Tensor.__sub__, Tensor.__rsub__ = _binary(ops.sub)
Tensor.__mul__, Tensor.__rmul__ = _binary(ops.mul)
Tensor.__truediv__, Tensor.__rtruediv__ = _binary(ops.div)
Tensor.__pow__, Tensor.__rpow__ = _binary(ops.pow)
Tensor.__matmul__, Tensor.__rmatmul__ = _binary(ops.matmul)
Tensor.__neg__, Tensor.__getitem__ = ops.neg, ops.getitem
Tensor.sum, Tensor.mean, Tensor.max = ops.sum, ops.mean, ops.max
Tensor.exp, Tensor.log, Tensor.sqrt, Tensor.abs = ops.exp, ops.log, ops.sqrt, ops.abs
Tensor.relu, Tensor.sigmoid, Tensor.tanh, Tensor.softmax = ops.relu, ops.sigmoid, ops.tanh, ops.softmax
Tensor.log_softmax = ops.log_softmax
Tensor.reshape = lambda self, *shape: ops.reshape(self, shape[0] if len(shape) == 1 else shape)
Tensor.flatten = lambda self, start_dim=1: ops.reshape(self, self.shape[:start_dim] + (-1,))
Tensor.transpose = lambda self, *axes: ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
Tensor.T = property(lambda self: ops.transpose(self, None))
