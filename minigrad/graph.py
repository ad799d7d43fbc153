"""How a forward pass records the graph: ``Op``, the ``Node`` it leaves behind, and grad mode.

An op is a class with ``forward(ctx, *arrays, **kw) -> array`` and a default
``backward(ctx, grad_out) -> tuple of grads``, side by side (early tinygrad style).
``Op.apply(*tensors, **kw)`` runs ``forward`` on the raw arrays and, when grad mode is on and
some input requires grad, attaches the ``Node`` (the ``ctx``) to the output tensor. The reverse
pass (``minigrad.backward``) looks each node's backward rule up by ``Op.name`` at backward
time, so rules can be swapped after the forward pass.
"""
from contextlib import ContextDecorator
from contextvars import ContextVar

import numpy as np

from minigrad.argument_checks import op_input_name
from minigrad.tensor import Tensor, as_tensor

#: Every op class by name; ``minigrad.rules`` uses it to reject unknown names.
OPS = {}

_GRAD_ENABLED = ContextVar("minigrad_grad_enabled", default=True)
_CURRENT_MODULE = ContextVar("minigrad_current_module", default=None)
_INPLACE = ContextVar("minigrad_inplace", default=True)


class scoped(ContextDecorator):
    """Set the context variable ``variable`` to ``value`` for the block, and back after it (also after
    an exception): how grad mode, the running layer, rule tables, captures and feeds are scoped.
    Usable as a decorator too (``@no_grad()``, as PyTorch's). A class, not a generator-based
    context manager: every layer call enters one, and this costs about half as much (0.6 against 1.1 us)."""

    def __init__(self, variable, value):
        self.variable, self.value, self._tokens = variable, value, []

    def __enter__(self):
        self._tokens.append(self.variable.set(self.value))

    def __exit__(self, *exc):
        self.variable.reset(self._tokens.pop())  # None: an exception goes on


def no_grad():
    """Run the block without recording a graph (outputs get ``requires_grad=False``)."""
    return scoped(_GRAD_ENABLED, False)


def no_inplace():
    """Run the block with every ``inplace=True`` ignored, so each op's inputs stay as they were:
    for rules that read a pre-activation's values (DeepLIFT's Rescale reads what entered a ReLU)."""
    return scoped(_INPLACE, False)


def can_overwrite(t):
    """Whether an op may write its result over tensor ``t``'s array (PyTorch's ``inplace=True``,
    which lets VGG's graph keep one array per convolution and ReLU instead of two). Only an op's
    fresh output that no recorded op and no ``capture`` has taken (``t._pinned``) and, in a recorded
    graph, whose op's own backward does not read it (``Op.backward_reads_output``). The caller's
    arrays, a view, a captured layer's output or exp's output are never overwritten, so ``inplace``
    changes no value a rule, a method or the caller reads."""
    node, a = t._node, t.data
    return (_INPLACE.get() and not t._pinned and a.flags.c_contiguous and a.flags.writeable
            and (node is None or (not node.op.backward_reads_output and node.output is a)))


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
    output : ndarray         the forward result; None once an in-place op overwrote it
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
    #: False where ``backward`` never reads ``ctx.output``: an in-place op may then overwrite it
    backward_reads_output = True

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
        result._pinned = any(np.may_share_memory(result.data, a) for a in ctx.arrays)  # a view, or x itself
        if ctx.recorded:
            ctx.output = result.data
            result._node = ctx
            for t in ctx.inputs:
                t._pinned = True
        return result

    @classmethod
    def apply_inplace(cls, x, inplace):
        """``apply(x, inplace=...)``, writing over ``x``'s array when ``inplace`` and
        ``can_overwrite(x)``; x's node, if any, then no longer holds an output (LRP recomputes it)."""
        overwrite = bool(inplace) and isinstance(x, Tensor) and can_overwrite(x)
        result = cls.apply(x, inplace=overwrite)
        if overwrite and x._node is not None:
            x._node.output = None
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
