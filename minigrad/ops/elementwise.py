"""Elementwise ops: binary arithmetic with NumPy broadcasting, and unary functions.

Binary backwards sum the incoming gradient back to each input's shape (``unbroadcast``).
Conventions at kinks, shared with PyTorch: relu'(0) = 0, abs'(0) = 0.
"""
import numpy as np

from minigrad.graph import Op, unbroadcast
from minigrad.kernels.relu import relu_backward, relu_forward


def _binary(ctx, ga, gb):
    a, b = ctx.arrays
    return (unbroadcast(ga, a.shape) if ctx.needs_input_grad[0] else None,
            unbroadcast(gb, b.shape) if ctx.needs_input_grad[1] else None)


class Add(Op):
    name = "add"
    forward = staticmethod(lambda ctx, a, b: a + b)
    backward = staticmethod(lambda ctx, g: _binary(ctx, g, g))


class Sub(Op):
    name = "sub"
    forward = staticmethod(lambda ctx, a, b: a - b)
    backward = staticmethod(lambda ctx, g: _binary(ctx, g, -g))


class Mul(Op):
    name = "mul"
    forward = staticmethod(lambda ctx, a, b: a * b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.arrays
        return _binary(ctx, g * b, g * a)


class Div(Op):
    name = "div"
    forward = staticmethod(lambda ctx, a, b: a / b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.arrays
        gb = -g * ctx.output / b if ctx.needs_input_grad[1] else g
        return _binary(ctx, g / b, gb)


class Pow(Op):
    """a ** b; d/da = b a^(b-1), d/db = a^b log a (only asked for when b requires grad)."""

    name = "pow"
    forward = staticmethod(lambda ctx, a, b: a ** b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.arrays
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else g
        gb = g * ctx.output * np.log(a) if ctx.needs_input_grad[1] else g
        return _binary(ctx, ga, gb)


class Neg(Op):
    name = "neg"
    forward = staticmethod(lambda ctx, a: -a)
    backward = staticmethod(lambda ctx, g: (-g,))


class Exp(Op):
    name = "exp"
    forward = staticmethod(lambda ctx, a: np.exp(a))
    backward = staticmethod(lambda ctx, g: (g * ctx.output,))


class Log(Op):
    name = "log"
    forward = staticmethod(lambda ctx, a: np.log(a))
    backward = staticmethod(lambda ctx, g: (g / ctx.arrays[0],))


class Sqrt(Op):
    name = "sqrt"
    forward = staticmethod(lambda ctx, a: np.sqrt(a))
    backward = staticmethod(lambda ctx, g: (g / (2 * ctx.output),))


class Abs(Op):
    name = "abs"
    forward = staticmethod(lambda ctx, a: np.abs(a))
    backward = staticmethod(lambda ctx, g: (g * np.sign(ctx.arrays[0]),))


class ReLU(Op):
    """max(x, 0); the plain backward is g * 1[x > 0]. ``minigrad.rules`` can swap it.
    Both formulas run as single parallel passes (``minigrad/kernels/relu.py``)."""

    name = "relu"
    forward = staticmethod(lambda ctx, a: relu_forward(a))
    backward = staticmethod(lambda ctx, g: (relu_backward(g, ctx.arrays[0]),))


class Sigmoid(Op):
    name = "sigmoid"

    @staticmethod
    def forward(ctx, a):
        # split by sign so exp never overflows
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)

    backward = staticmethod(lambda ctx, g: (g * ctx.output * (1 - ctx.output),))


class Tanh(Op):
    name = "tanh"
    forward = staticmethod(lambda ctx, a: np.tanh(a))
    backward = staticmethod(lambda ctx, g: (g * (1 - ctx.output ** 2),))


add, sub, mul, div, pow = Add.apply, Sub.apply, Mul.apply, Div.apply, Pow.apply
neg, exp, log, sqrt, abs = Neg.apply, Exp.apply, Log.apply, Sqrt.apply, Abs.apply
relu, sigmoid, tanh = ReLU.apply, Sigmoid.apply, Tanh.apply
