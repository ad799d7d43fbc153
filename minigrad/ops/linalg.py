"""Matrix products: ``matmul`` (NumPy semantics, batch axes broadcast) and ``linear``."""
import numpy as np

from minigrad.graph import Op, unbroadcast
from minigrad.kernels import gemm
from minigrad.tensor import as_tensor


class MatMul(Op):
    """NumPy's matmul: 1-D operands are promoted to matrices and the promotion undone after."""

    name = "matmul"
    backward_reads_output = False

    def forward(ctx, a, b):
        return gemm.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.arrays
        # promote 1-D operands (and g with them) the way np.matmul does; reshape undoes it
        a2 = a[None] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = np.expand_dims(g, -2) if a.ndim == 1 else g
        g2 = np.expand_dims(g2, -1) if b.ndim == 1 else g2
        need = ctx.needs_input_grad
        ga = unbroadcast(gemm.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape) if need[0] else None
        gb = unbroadcast(gemm.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape) if need[1] else None
        return ga, gb


class Linear(Op):
    """One op, not matmul + add, so that a rule sees a whole layer."""

    name = "linear"
    backward_reads_output = False

    def forward(ctx, x, w, b=None):
        y = gemm.matmul(x, w.T)
        return y if b is None else np.add(y, b, out=y)

    def backward(ctx, g):
        x, w = ctx.arrays[:2]
        need = ctx.needs_input_grad
        gx = gemm.matmul(g, w) if need[0] else None
        gw = gemm.matmul(g.reshape(-1, g.shape[-1]).T, x.reshape(-1, x.shape[-1])) if need[1] else None
        gb = g.reshape(-1, g.shape[-1]).sum(axis=0) if len(need) == 3 and need[2] else None
        return (gx, gw, gb)[:len(need)]  # no bias: two inputs


def matmul(a, b):
    """a @ b with NumPy's semantics (batch axes broadcast). Backward: (g b^T, a^T g), summed over
    broadcast batch axes."""
    return MatMul.apply(a, b)


def linear(x, weight, bias=None):
    """y = x W^T + b: x (..., in), weight (out, in), bias (out,) or None -> (..., out).
    Backward: (g W, g^T x, sum g)."""
    args = (x, weight) if bias is None else (x, weight, bias)
    return Linear.apply(*(as_tensor(a, f"linear: argument {n}") for a, n in zip(args, ("x", "weight", "bias"))))
