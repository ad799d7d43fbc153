"""``BatchNorm1d`` and ``BatchNorm2d`` (Ioffe & Szegedy 2015) with PyTorch's parameters, buffers
and running-statistics update.

In training the layer normalises with the batch's statistics (biased variance) and updates

    running_mean <- (1 - f) running_mean + f mean,   running_var <- (1 - f) running_var + f var n / (n - 1)

with f = ``momentum``, or f = 1 / num_batches_tracked when ``momentum=None`` (a cumulative
average), as PyTorch does. In evaluation it applies the running statistics: a fixed affine map
per channel. ``track_running_stats=False`` keeps no statistics and always uses the batch's.
"""
import numpy as np

from layers.checks import check_size, layer_input
from layers.module import Buffer, Module, Parameter
from minigrad import Tensor, batch_norm
from minigrad.argument_checks import dtype as check_dtype
from minigrad.argument_checks import integer, number


class _BatchNorm(Module):
    _shapes = ()  # the accepted input ranks

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float64):
        self.num_features = integer(num_features, "num_features", 1)
        dtype = check_dtype(dtype)
        self.eps = number(eps, "eps", 0, low_open=True)
        self.momentum = None if momentum is None else number(momentum, "momentum", 0, 1)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        C = self.num_features
        self.weight = Parameter(np.ones(C, dtype)) if affine else None
        self.bias = Parameter(np.zeros(C, dtype)) if affine else None
        if self.track_running_stats:
            self.running_mean = Buffer(np.zeros(C, dtype))
            self.running_var = Buffer(np.ones(C, dtype))
            self.num_batches_tracked = Buffer(np.array(0, np.int64))

    def reset_running_stats(self):
        """Running mean 0, variance 1, batch count 0."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        rank = np.ndim(x.data if isinstance(x, Tensor) else x)
        x = layer_input(self, x, rank if rank in self._shapes else self._shapes[0],
                        " or ".join(f"{d}-D" for d in self._shapes) + " (N, C, ...)")
        check_size(self, "channels", self.num_features, x.shape[1], x.shape)
        batch = self.training or not self.track_running_stats
        if not batch:
            mean, var = self.running_mean.data, self.running_var.data
        else:
            axes = (0,) + tuple(range(2, x.ndim))
            n = x.size // self.num_features
            if n < 2:
                raise ValueError(f"{self!r}: expected more than 1 value per channel when training, got input "
                                 f"shape {x.shape}")
            mean, var = x.data.mean(axis=axes), x.data.var(axis=axes)
            if self.training and self.track_running_stats:
                self.num_batches_tracked.data += 1
                f = 1.0 / int(self.num_batches_tracked.data) if self.momentum is None else self.momentum
                rm, rv = self.running_mean.data, self.running_var.data
                rm[...] = (1 - f) * rm + f * mean
                rv[...] = (1 - f) * rv + f * var * (n / (n - 1))
        return batch_norm(x, mean, var, self.weight, self.bias, self.eps, batch_stats=batch)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per channel C (the module docstring)."""

    _shapes = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel C (the module docstring)."""

    _shapes = (4,)
