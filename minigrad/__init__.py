"""minigrad: a small reverse-mode autodiff core whose backward rules can be swapped.

    x = Tensor(image, requires_grad=True)
    y = model(x)                                   # one forward pass
    g, = grad(y, [x], seed=onehot)                 # plain gradient
    with rules(relu=guided):
        gg, = grad(y, [x], seed=onehot)            # guided backprop, same graph

Reading order: tensor -> graph -> backward -> rules -> ops (-> kernels for the fast code).
"""
from minigrad.kernels import process_settings as _process

_process.let_blas_threads_sleep()  # before anything below imports NumPy
_process.keep_freed_memory()
_process.choose_numba_threading_layer()  # before the first parallel kernel compiles

from minigrad import relevance  # noqa: E402
from minigrad import tensor_operators as _tensor_operators  # noqa: E402,F401  (Tensor's + - @ ...)
from minigrad.backward import grad  # noqa: E402
from minigrad.capture import capture, feed  # noqa: E402
from minigrad.draw_graph import draw_graph  # noqa: E402
from minigrad.gradcheck import gradcheck  # noqa: E402
from minigrad.graph import OPS, Node, Op, is_grad_enabled, no_grad, no_inplace  # noqa: E402
from minigrad import kernels  # noqa: E402  (the package, callable: kernels("reference") chooses kernels for a block)
from minigrad.kernels import choice as _choice  # noqa: E402,F401  (so that kernels(...) finds it)
from minigrad.ops import *  # noqa: E402,F401,F403  (the op functions: conv2d, relu, ...)
from minigrad.ops import __all__ as _op_names  # noqa: E402
from minigrad.rules import ALTERNATIVES, current_rules, deconvnet, guided, rules  # noqa: E402
from minigrad.tensor import Tensor, as_tensor  # noqa: E402

__all__ = ["ALTERNATIVES", "OPS", "Node", "Op", "Tensor", "as_tensor", "capture", "current_rules",
           "deconvnet", "draw_graph", "feed", "grad", "gradcheck", "guided", "is_grad_enabled", "kernels", "no_grad",
           "no_inplace", "relevance", "rules"] + list(_op_names)
