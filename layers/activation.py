"""Elementwise activation layers; each is one op, so ``minigrad.rules`` can swap its backward."""
from layers.module import Module
from minigrad import as_tensor, relu, relu6, sigmoid, tanh
from minigrad.argument_checks import boolean


class ReLU(Module):
    """max(x, 0), any shape. Its backward is the rule table's ``relu`` entry (plain, guided, deconvnet).
    ``inplace=True`` (torchvision's choice) writes the result over the layer's input where nothing
    else reads it (see ``minigrad.relu``): VGG's graph then keeps one array per convolution and ReLU,
    not two. A captured layer's output or input is never overwritten."""

    def __init__(self, inplace=False):
        self.inplace = boolean(inplace, "ReLU: inplace")

    def forward(self, x):
        return relu(as_tensor(x), self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """min(max(x, 0), 6), any shape (MobileNetV2). Its backward is the rule table's ``relu6`` entry;
    ``inplace`` as in ``ReLU``."""

    def __init__(self, inplace=False):
        self.inplace = boolean(inplace, "ReLU6: inplace")

    def forward(self, x):
        return relu6(as_tensor(x), self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


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
