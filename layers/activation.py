"""Elementwise activation layers; each is one op, so ``minigrad.rules`` can swap its backward."""
from layers.module import Module
from minigrad import as_tensor, relu, relu6, sigmoid, tanh


class ReLU(Module):
    """max(x, 0), any shape. Its backward is the rule table's ``relu`` entry (plain, guided, deconvnet).
    ``inplace`` is accepted for PyTorch's signature and ignored: a graph keeps every activation."""

    def __init__(self, inplace=False):
        pass

    def forward(self, x):
        return relu(as_tensor(x))


class ReLU6(Module):
    """min(max(x, 0), 6), any shape (MobileNetV2). Its backward is the rule table's ``relu6`` entry."""

    def __init__(self, inplace=False):
        pass

    def forward(self, x):
        return relu6(as_tensor(x))


class Identity(Module):
    """Returns its input unchanged (PyTorch's ``nn.Identity``: a placeholder where a layer is removed)."""

    def __init__(self, *args, **kwargs):
        pass

    def forward(self, x):
        return as_tensor(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), any shape (one op, so its backward can be swapped too)."""

    def forward(self, x):
        return sigmoid(as_tensor(x))


class Tanh(Module):
    """tanh x, any shape (one op; LRP passes relevance through it unchanged)."""

    def forward(self, x):
        return tanh(as_tensor(x))
