"""``Dropout`` (Srivastava et al. 2014), inverted: scaled by 1/(1-p) in training, identity in eval."""
import numpy as np

from layers.init import generator
from layers.module import Module
from minigrad import Tensor, as_tensor


class Dropout(Module):
    """Zero each element with probability ``p`` while training; masks come from ``rng``."""

    def __init__(self, p=0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = generator(rng)

    def forward(self, x):
        x = as_tensor(x)
        if not self.training or self.p == 0:
            return x
        keep = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / np.asarray(1 - self.p, x.dtype)
        return x * Tensor(keep)

    def extra_repr(self):
        return f"p={self.p}"
