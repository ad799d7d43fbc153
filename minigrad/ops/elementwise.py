"""Elementwise ops: binary arithmetic with NumPy broadcasting, and unary functions.

Binary backwards sum the incoming gradient back to each input's shape (``unbroadcast``).
Conventions at kinks, shared with PyTorch: relu'(0) = 0, abs'(0) = 0.
"""
import numpy as np

from minigrad.argument_checks import boolean
from minigrad.graph import Op, unbroadcast
from minigrad.kernels.relu import relu_backward, relu_forward


def _binary(ctx, ga, gb):
    a, b = ctx.arrays
    return (unbroadcast(ga, a.shape) if ctx.needs_input_grad[0] else None,
            unbroadcast(gb, b.shape) if ctx.needs_input_grad[1] else None)


class Add(Op):
    name = "add"
    backward_reads_output = False

    def forward(ctx, a, b):
        return a + b

    def backward(ctx, g):
        return _binary(ctx, g, g)


class Sub(Op):
    name = "sub"
    backward_reads_output = False

    def forward(ctx, a, b):
        return a - b

    def backward(ctx, g):
        return _binary(ctx, g, -g)


class Mul(Op):
    name = "mul"

    def forward(ctx, a, b):
        return a * b

    def backward(ctx, g):
        return _binary(ctx, g * ctx.arrays[1], g * ctx.arrays[0])


class Div(Op):
    name = "div"

    def forward(ctx, a, b):
        return a / b

    def backward(ctx, g):
        a, b = ctx.arrays
        gb = -g * ctx.output / b if ctx.needs_input_grad[1] else g
        return _binary(ctx, g / b, gb)


class Pow(Op):
    name = "pow"

    def forward(ctx, a, b):
        return a ** b

    def backward(ctx, g):
        a, b = ctx.arrays
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else g
        gb = g * ctx.output * np.log(a) if ctx.needs_input_grad[1] else g
        return _binary(ctx, ga, gb)


class Neg(Op):
    name = "neg"

    def forward(ctx, a):
        return -a

    def backward(ctx, g):
        return (-g,)


class Exp(Op):
    name = "exp"

    def forward(ctx, a):
        return np.exp(a)

    def backward(ctx, g):
        return (g * ctx.output,)


class Log(Op):
    name = "log"

    def forward(ctx, a):
        return np.log(a)

    def backward(ctx, g):
        return (g / ctx.arrays[0],)


class Sqrt(Op):
    name = "sqrt"

    def forward(ctx, a):
        return np.sqrt(a)

    def backward(ctx, g):
        return (g / (2 * ctx.output),)


class Abs(Op):
    name = "abs"

    def forward(ctx, a):
        return np.abs(a)

    def backward(ctx, g):
        return (g * np.sign(ctx.arrays[0]),)


class ReLU(Op):
    """Both formulas run as single parallel passes (``minigrad/kernels/relu.py``)."""

    name = "relu"

    def forward(ctx, a, inplace=False):
        return relu_forward(a, out=a if inplace else None)

    def backward(ctx, g):
        return (relu_backward(g, ctx.arrays[0]),)


class ReLU6(Op):
    name = "relu6"

    def forward(ctx, a, inplace=False):
        return relu_forward(a, 6, out=a if inplace else None)

    def backward(ctx, g):
        return (relu_backward(g, ctx.arrays[0], 6),)


class Sigmoid(Op):
    name = "sigmoid"

    def forward(ctx, a):
        e = np.exp(-np.abs(a))  # split by sign so exp never overflows
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)

    def backward(ctx, g):
        return (g * ctx.output * (1 - ctx.output),)


class Tanh(Op):
    name = "tanh"

    def forward(ctx, a):
        return np.tanh(a)

    def backward(ctx, g):
        return (g * (1 - ctx.output ** 2),)


def add(a, b):
    """a + b, NumPy broadcasting. Backward: g to each input, summed to its shape."""
    return Add.apply(a, b)


def sub(a, b):
    """a - b, NumPy broadcasting. Backward: (g, -g), each summed to its input's shape."""
    return Sub.apply(a, b)


def mul(a, b):
    """a * b, NumPy broadcasting. Backward: (g b, g a), each summed to its input's shape."""
    return Mul.apply(a, b)


def div(a, b):
    """a / b, NumPy broadcasting. Backward: (g / b, -g a / b^2)."""
    return Div.apply(a, b)


def pow(a, b):
    """a ** b, NumPy broadcasting. Backward: (g b a^(b-1), g a^b log a), the second only when
    b requires grad."""
    return Pow.apply(a, b)


def neg(a):
    """-a. Backward: -g."""
    return Neg.apply(a)


def exp(a):
    """e^a, elementwise. Backward: g e^a."""
    return Exp.apply(a)


def log(a):
    """Natural log, elementwise. Backward: g / a."""
    return Log.apply(a)


def sqrt(a):
    """Square root, elementwise. Backward: g / (2 sqrt a)."""
    return Sqrt.apply(a)


def abs(a):
    """|a|, elementwise. Backward: g sign(a) (0 at a = 0)."""
    return Abs.apply(a)


def relu(x, inplace=False):
    """max(x, 0), any shape. Backward: g * 1[x > 0] (relu'(0) = 0); ``minigrad.rules`` can swap it
    (``"guided"``, ``"deconvnet"``, relevance pass-through). ``inplace=True`` writes the result over
    x's array where nothing else reads it (``minigrad.graph.can_overwrite``), as PyTorch's
    ``relu_``: the mask 1[x > 0] is then read from the output, where it is the same."""
    return ReLU.apply_inplace(x, boolean(inplace, "relu: inplace"))


def relu6(x, inplace=False):
    """min(max(x, 0), 6), any shape (MobileNetV2's activation). Backward: g * 1[0 < x < 6] (0 at
    both kinks, as PyTorch); ``minigrad.rules`` can swap it like ReLU's. ``inplace`` as in ``relu``
    (0 < relu6(x) < 6 exactly where 0 < x < 6)."""
    return ReLU6.apply_inplace(x, boolean(inplace, "relu6: inplace"))


def sigmoid(x):
    """1 / (1 + e^-x), elementwise, without overflow. Backward: g s (1 - s)."""
    return Sigmoid.apply(x)


def tanh(x):
    """tanh x, elementwise. Backward: g (1 - tanh^2 x)."""
    return Tanh.apply(x)
