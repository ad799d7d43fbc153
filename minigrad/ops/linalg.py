"""Matrix products: ``matmul`` (NumPy semantics, batch axes broadcast) and ``linear``."""
import numpy as np

from minigrad.graph import Op, unbroadcast


class MatMul(Op):
    name = "matmul"
    forward = staticmethod(lambda ctx, a, b: a @ b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.arrays
        # promote 1-D operands the way np.matmul does, then undo it
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Op):
    """y = x W^T + b with x (..., in), W (out, in), b (out,): one op so a rule sees a whole layer."""

    name = "linear"

    @staticmethod
    def forward(ctx, x, w, b=None):
        y = x @ w.T
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.arrays[:2]
        need = ctx.needs_input_grad
        gx = g @ w if need[0] else None
        gw = g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1]) if need[1] else None
        if len(ctx.arrays) == 2:
            return gx, gw
        gb = g.reshape(-1, g.shape[-1]).sum(axis=0) if need[2] else None
        return gx, gw, gb


matmul = MatMul.apply


def linear(x, weight, bias=None):
    """x (..., in), weight (out, in), bias (out,) or None -> (..., out)."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)
