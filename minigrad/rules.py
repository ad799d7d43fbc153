"""Swappable backward rules.

During the reverse pass each node's rule is looked up by op name in the current table,
falling back to the op's own ``backward``. ``with rules(relu=guided):`` installs a table
for the reverse passes run inside the block; because lookup happens at backward time, one
forward pass can be differentiated with several rule tables (Guided Grad-CAM).

A rule is a plain function ``rule(ctx, grad_out) -> tuple of grads, one per input``
(``None`` for an input that gets none). ``ctx`` is the ``minigrad.graph.Node``: ``ctx.arrays``
(the inputs' data), ``ctx.output``, what forward saved, ``ctx.kwargs`` and ``ctx.module``
(the layer that ran the op, so a per-layer rule such as LRP can dispatch on it).
"""
from contextlib import contextmanager
from contextvars import ContextVar

from minigrad.graph import OPS
from minigrad.kernels.relu import relu_backward, relu_forward

_TABLE = ContextVar("minigrad_rule_table", default={})


def guided(ctx, grad_out):
    """Guided backpropagation through ReLU (Springenberg et al. 2014, eq. in sec. 3.4):
    R_in = relu(R_out) * 1[x > 0] -- pass only positive gradients, only where the input was positive."""
    return (relu_backward(relu_forward(grad_out), ctx.arrays[0]),)  # relu(g) * 1[x > 0], one pass each


def deconvnet(ctx, grad_out):
    """The deconvnet's ReLU (Zeiler & Fergus 2014, sec. 2.1): R_in = relu(R_out), ignoring the
    sign of the forward input."""
    return (relu_forward(grad_out),)


guided.ops = deconvnet.ops = frozenset({"relu"})

#: Rules that can be named by a string in ``rules(...)``. "plain" means the op's own backward.
NAMED_RULES = {"plain": None, "guided": guided, "deconvnet": deconvnet}


def _resolve(op_name, rule):
    if op_name not in OPS:
        raise ValueError(f"rules: unknown op name '{op_name}'; known ops: {', '.join(sorted(OPS))}")
    if isinstance(rule, str):
        if rule not in NAMED_RULES:
            raise ValueError(f"rules: unknown rule name '{rule}' for op '{op_name}'; "
                             f"known names: {', '.join(NAMED_RULES)}")
        rule = NAMED_RULES[rule]
    if rule is not None and not callable(rule):
        raise TypeError(f"rules: the rule for '{op_name}' must be a function (ctx, grad_out) -> grads, "
                        f"a rule name or None, got {type(rule).__name__}")
    allowed = getattr(rule, "ops", None)
    if allowed is not None and op_name not in allowed:
        raise ValueError(f"rules: rule '{rule.__name__}' applies to {sorted(allowed)}, not to '{op_name}'")
    return rule


@contextmanager
def rules(**table):
    """Differentiate the reverse passes inside the block with other backward rules.

    ``with rules(relu=guided): gx, = grad(y, [x])``. Keys are op names (``relu``,
    ``conv2d``, ``max_pool2d``, ...); values are rule functions, one of the names
    ``"plain"``, ``"guided"``, ``"deconvnet"``, or ``None`` for the op's own backward.
    Nested blocks compose (the inner table overrides the outer one key by key); the
    previous table comes back on exit, also after an exception.

    The ``with`` must surround the *backward* call (``grad`` or ``.backward()``): rules are
    looked up during the reverse pass, so the forward pass may run before or inside it.
    An unknown op or rule name raises ``ValueError``.
    """
    resolved = {name: _resolve(name, rule) for name, rule in table.items()}
    token = _TABLE.set({**_TABLE.get(), **resolved})
    try:
        yield
    finally:
        _TABLE.reset(token)


def current_rules():
    """The rule table in force: a dict op name -> rule (``None`` entries mean the default)."""
    return dict(_TABLE.get())


def rule_for(op):
    """The backward function used for ``op`` now: the table's rule, else ``op.backward``."""
    return _TABLE.get().get(op.name) or op.backward
