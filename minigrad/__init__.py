"""minigrad: a small reverse-mode autodiff core whose backward rules can be swapped.

    x = Tensor(image, requires_grad=True)
    y = model(x)                                   # one forward pass
    g, = grad(y, [x], seed=onehot)                 # plain gradient
    with rules(relu=guided):
        gg, = grad(y, [x], seed=onehot)            # guided backprop, same graph
"""
from minigrad import blas_threads as _blas_threads

_blas_threads.let_blas_threads_sleep()  # before anything below imports NumPy

from minigrad import malloc as _malloc
from minigrad.backward import grad
from minigrad.capture import capture
from minigrad.gradcheck import gradcheck
from minigrad.graph import OPS, Node, Op, is_grad_enabled, no_grad
from minigrad.ops import *  # noqa: F401,F403  (the op functions: conv2d, relu, ...)
from minigrad.ops import __all__ as _op_names
from minigrad import relevance
from minigrad.rules import current_rules, deconvnet, guided, rules
from minigrad.tensor import Tensor, as_tensor

_malloc.keep_freed_memory()

__all__ = ["OPS", "Node", "Op", "Tensor", "as_tensor", "capture", "current_rules", "deconvnet",
           "grad", "gradcheck", "guided", "is_grad_enabled", "no_grad", "relevance", "rules"] + list(_op_names)
