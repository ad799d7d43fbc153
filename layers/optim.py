"""Optimizers with PyTorch's update rules: SGD (momentum, weight decay, Nesterov) and Adam.

Arguments are checked as PyTorch does (lr >= 0 there; > 0 here, a zero step being a mistake),
before any state is made."""
import numpy as np

from minigrad import Tensor
from minigrad.argument_checks import number, one_of
from minigrad.kernels.adam import adam_step
from minigrad.kernels.sgd import sgd_step


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("params: expected at least one parameter, got none")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}]: expected a Tensor (a Parameter), got {type(p).__name__}")
        self.lr = number(lr, "lr", low=0, low_open=True)
        self.state = [{} for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                p.data -= self._update(p.data, p.grad.astype(p.dtype, copy=False), state).astype(p.dtype)


class SGD(Optimizer):
    """v <- mu v + (g + wd p); p <- p - lr v (or lr (g + mu v) with Nesterov), as torch.optim.SGD."""

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False):
        self.momentum = number(momentum, "momentum", low=0)
        self.weight_decay = number(weight_decay, "weight_decay", low=0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0 (as torch.optim.SGD)")
        self.nesterov = nesterov
        super().__init__(params, lr)

    def step(self):
        # one compiled pass per parameter (minigrad/kernels/sgd.py) instead of up to five NumPy passes
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                first = "v" not in state
                if first or not p.data.flags.c_contiguous:
                    p.data = np.ascontiguousarray(p.data)
                    state.setdefault("v", np.empty_like(p.data) if self.momentum else np.empty(0, p.dtype))
                sgd_step(p.data, p.grad, state["v"], self.lr, self.momentum, self.weight_decay, self.nesterov,
                         first)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) with bias correction; weight decay added to g (L2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        # beta = 1 would divide by 1 - beta^t = 0 in the bias correction: every weight becomes NaN
        self.b1 = number(betas[0], "betas[0]", low=0, high=1, high_open=True)
        self.b2 = number(betas[1], "betas[1]", low=0, high=1, high_open=True)
        self.eps = number(eps, "eps", low=0)
        self.weight_decay = number(weight_decay, "weight_decay", low=0)
        super().__init__(params, lr)

    def step(self):
        # one compiled pass per parameter (minigrad/kernels/adam.py) instead of a dozen NumPy passes
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                if "m" not in state or not p.data.flags.c_contiguous:
                    p.data = np.ascontiguousarray(p.data)
                    state.setdefault("m", np.zeros_like(p.data))
                    state.setdefault("v", np.zeros_like(p.data))
                state["t"] = state.get("t", 0) + 1
                adam_step(p.data, p.grad, state["m"], state["v"], self.lr, (self.b1, self.b2), self.eps,
                          self.weight_decay, state["t"])


class NormalizedGradient(Optimizer):
    """p <- p - lr g / ||g|| per sample (the first axis): a step of fixed size whatever the
    gradient's scale. norm='l2' is the cs231n fooling-image update; norm='mean_abs' divides by the
    mean |g|, as the original DeepDream does (Mordvintsev et al. 2015)."""

    def __init__(self, params, lr=1.0, norm="l2"):
        self.norm = one_of(norm, "norm", ("l2", "mean_abs"))
        super().__init__(params, lr)

    def _update(self, p, g, state):
        axes = tuple(range(1, g.ndim))
        size = np.sqrt((g * g).sum(axis=axes, keepdims=True)) if self.norm == "l2" else \
            np.abs(g).mean(axis=axes, keepdims=True)
        return self.lr * g / np.maximum(size, np.finfo(g.dtype).tiny)
