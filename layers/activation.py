"""Elementwise activation layers; each is one op, so ``minigrad.rules`` can swap its backward."""
from layers.module import Module
from minigrad import as_tensor, relu, sigmoid, tanh


class ReLU(Module):
    """max(x, 0), any shape. Its backward is the rule table's ``relu`` entry (plain, guided, deconvnet)."""

    def forward(self, x):
        return relu(as_tensor(x))


class Sigmoid(Module):
    """1 / (1 + e^-x), any shape (one op, so its backward can be swapped too)."""

    def forward(self, x):
        return sigmoid(as_tensor(x))


class Tanh(Module):
    """tanh x, any shape (one op; LRP passes relevance through it unchanged)."""

    def forward(self, x):
        return tanh(as_tensor(x))
