"""How a forward pass records the graph: ``Op``, the ``Node`` it leaves behind, and grad mode.

An op is a class with ``forward(ctx, *arrays, **kw) -> array`` and a default
``backward(ctx, grad_out) -> tuple of grads``, side by side (early tinygrad style).
``Op.apply(*tensors, **kw)`` runs ``forward`` on the raw arrays and, when grad mode is on and
some input requires grad, attaches the ``Node`` (the ``ctx``) to the output tensor. The reverse
pass (``minigrad.backward``) looks each node's backward rule up by ``Op.name`` at backward
time, so rules can be swapped after the forward pass.
"""
from contextlib import contextmanager
from contextvars import ContextVar

from minigrad.argument_checks import op_input_name
from minigrad.tensor import Tensor, as_tensor

#: Every op class by name; ``minigrad.rules`` uses it to reject unknown names.
OPS = {}

_GRAD_ENABLED = ContextVar("minigrad_grad_enabled", default=True)
_CURRENT_MODULE = ContextVar("minigrad_current_module", default=None)


@contextmanager
def scoped(variable, value):
    """Set the context variable ``variable`` to ``value`` for the block, and back after it (also after
    an exception): how grad mode, the running layer, rule tables, captures and feeds are scoped."""
    token = variable.set(value)
    try:
        yield value
    finally:
        variable.reset(token)


def no_grad():
    """Run the block without recording a graph (outputs get ``requires_grad=False``)."""
    return scoped(_GRAD_ENABLED, False)


def is_grad_enabled():
    """False inside ``no_grad()``, else True: whether ops record the graph."""
    return _GRAD_ENABLED.get()


def running_module(module):
    """Mark ``module`` as the layer running inside the block: nodes recorded there get
    ``ctx.module = module`` (what per-layer rules such as LRP dispatch on)."""
    return scoped(_CURRENT_MODULE, module)


class Node:
    """The record of one op application; it is the ``ctx`` seen by forward, backward and rules.

    Attributes
    ----------
    op : type[Op]            the op class (``ctx.op.name`` is its rule-table key)
    inputs : tuple[Tensor]   the input tensors
    arrays : tuple[ndarray]  their ``.data`` (what forward received)
    kwargs : dict            the op's keyword options (stride, axis, ...)
    output : ndarray         the forward result
    module : Module or None  the innermost layer that was running when the op was recorded
    needs_input_grad : tuple[bool]  set by the reverse pass: which inputs want a gradient
    recorded : bool          whether the node joins a graph; when False, forward may keep
                             nothing for backward (e.g. it can build temporaries in scratch space)

    ``forward`` may store anything else it wants to reuse as plain attributes
    (max pooling's ``ctx.argmax``, ...). ``.backward()`` empties each node once its rule has run
    (``minigrad.backward``), leaving ``op``, ``module`` and ``released = True``.
    """

    def __init__(self, op, inputs, kwargs):
        self.op = op
        self.inputs = inputs
        self.arrays = tuple(t.data for t in inputs)
        self.kwargs = kwargs
        self.output = None
        self.module = _CURRENT_MODULE.get()
        self.needs_input_grad = tuple(t.requires_grad for t in inputs)
        self.recorded = _GRAD_ENABLED.get() and any(self.needs_input_grad)

    def __repr__(self):
        return f"<Node {self.op.name} module={type(self.module).__name__ if self.module else None}>"


class Op:
    """Base class of all ops. Subclasses set ``name`` and define ``forward`` and ``backward``."""

    name = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name is not None:
            OPS[cls.name] = cls

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the inputs' arrays; record the node when a gradient may be asked for."""
        ctx = Node(cls, tuple(t if isinstance(t, Tensor) else as_tensor(t, op_input_name(cls, i))
                              for i, t in enumerate(inputs)), kwargs)
        result = Tensor(cls.forward(ctx, *ctx.arrays, **kwargs), requires_grad=ctx.recorded)
        if ctx.recorded:
            ctx.output = result.data
            result._node = ctx
        return result


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
