"""``Linear`` (a fully connected layer) and ``Flatten``."""
import numpy as np

from layers.checks import check_size, layer_input
from layers.init import default_weight_and_bias, model_arguments
from layers.module import Module, Parameter
from minigrad import as_tensor, linear


class Linear(Module):
    """y = x W^T + b: x (N, in_features) -> (N, out_features); W (out, in), b (out,), as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float64):
        rng, dtype = model_arguments(rng, dtype, in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        w, b = default_weight_and_bias((out_features, in_features), bias, rng, dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None

    def forward(self, x):
        x = layer_input(self, x, 2, f"(N, {self.in_features})")
        check_size(self, "input features", self.in_features, x.shape[1], x.shape)
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x):
        x = as_tensor(x)
        if x.ndim < 1:
            raise ValueError(f"{self!r}: expected input with a batch axis, got a scalar")
        return x.reshape(x.shape[0], -1)
