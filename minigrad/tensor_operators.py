"""Tensor's operators and methods, each one line over an op or the reverse pass.

They are attached here, after the ops exist, so that ``tensor.py`` needs no op and no module of
minigrad imports another in a cycle (early tinygrad registered its ops on Tensor the same way).
"""
import numpy as np

from minigrad import ops
from minigrad.backward import accumulate_into_leaves
from minigrad.tensor import Tensor


def _other(self, other):
    # python scalars stay weak, so that a float32 tensor stays float32
    return other if isinstance(other, Tensor) else Tensor(np.asarray(other, dtype=self.dtype))


Tensor.backward = accumulate_into_leaves
Tensor.__add__ = lambda self, o: ops.add(self, _other(self, o))
Tensor.__radd__ = lambda self, o: ops.add(_other(self, o), self)
Tensor.__sub__ = lambda self, o: ops.sub(self, _other(self, o))
Tensor.__rsub__ = lambda self, o: ops.sub(_other(self, o), self)
Tensor.__mul__ = lambda self, o: ops.mul(self, _other(self, o))
Tensor.__rmul__ = lambda self, o: ops.mul(_other(self, o), self)
Tensor.__truediv__ = lambda self, o: ops.div(self, _other(self, o))
Tensor.__rtruediv__ = lambda self, o: ops.div(_other(self, o), self)
Tensor.__pow__ = lambda self, o: ops.pow(self, _other(self, o))
Tensor.__rpow__ = lambda self, o: ops.pow(_other(self, o), self)
Tensor.__matmul__ = lambda self, o: ops.matmul(self, _other(self, o))
Tensor.__rmatmul__ = lambda self, o: ops.matmul(_other(self, o), self)
Tensor.__neg__ = ops.neg
Tensor.__getitem__ = ops.getitem
Tensor.sum, Tensor.mean, Tensor.max = ops.sum, ops.mean, ops.max
Tensor.exp, Tensor.log, Tensor.sqrt, Tensor.abs = ops.exp, ops.log, ops.sqrt, ops.abs
Tensor.relu, Tensor.sigmoid, Tensor.tanh = ops.relu, ops.sigmoid, ops.tanh
Tensor.softmax, Tensor.log_softmax = ops.softmax, ops.log_softmax
Tensor.reshape = lambda self, *shape: ops.reshape(self, shape[0] if len(shape) == 1 else shape)
Tensor.flatten = lambda self, start_dim=1: ops.reshape(self, self.shape[:start_dim] + (-1,))
Tensor.transpose = lambda self, *axes: ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
Tensor.T = property(lambda self: ops.transpose(self, None))
