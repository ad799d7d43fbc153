"""Swappable backward rules, and the table of every alternative backward of every op.

During the reverse pass each node's rule is looked up by op name in the current table,
falling back to the op's own ``backward``. ``with rules(relu=guided):`` installs a table for
the reverse passes run inside the block; because lookup happens at backward time, one forward
pass can be differentiated with several rule tables (Guided Grad-CAM).

A rule is a plain function ``rule(ctx, grad_out) -> tuple of grads, one per input``
(``None`` for an input that gets none). ``ctx`` is the ``minigrad.graph.Node``: ``ctx.arrays``
(the inputs' data), ``ctx.output``, what forward saved, ``ctx.kwargs`` and ``ctx.module``
(the layer that ran the op, so a per-layer rule such as LRP can dispatch on it).
"""
from contextvars import ContextVar

from minigrad import relevance
from minigrad.graph import OPS, scoped
from minigrad.kernels.relu import relu_forward

_TABLE = ContextVar("minigrad_rule_table", default={})


def guided(ctx, grad_out):
    """Guided backpropagation through ReLU (Springenberg et al. 2014, sec. 3.4):
    R_in = relu(R_out) * 1[x > 0] -- pass only positive gradients, only where the input was positive.
    The op's own backward of relu(R_out), so on ReLU6 the mask is 1[0 < x < 6]."""
    return ctx.op.backward(ctx, relu_forward(grad_out))


def deconvnet(ctx, grad_out):
    """The deconvnet's ReLU (Zeiler & Fergus 2014, sec. 2.1): R_in = relu(R_out), ignoring the
    sign of the forward input."""
    return (relu_forward(grad_out),)


#: Every alternative backward, per op (autodidact's VJP table): op name -> {name: rule}. An entry
#: is a rule function, or a class whose instances are rules built with parameters. ``rules(op=name)``
#: picks a function by name ("plain" is the op's own ``backward``); a rule listed here raises when
#: used on an op it is not listed for. A function of your own may go on any op.
ALTERNATIVES = {
    **{op: {"relevance": relevance.pass_through} for op in relevance.PASS_THROUGH_OPS},
    **{op: {"guided": guided, "deconvnet": deconvnet, "relevance": relevance.pass_through} for op in ("relu", "relu6")},
    **{op: {"relevance": relevance.ByLayer, "z-rule": relevance.LayerRule} for op in relevance.LINEAR_OPS},
    **{op: {"relevance": relevance.ConstantFactor} for op in relevance.CONSTANT_FACTOR_OPS},
    **{op: {"relevance": relevance.SplitSum} for op in ("add", "sub")},
    "batch_norm": {"relevance": relevance.FoldBatchNorm},
}


def _resolve(op_name, rule):
    if op_name not in OPS:
        raise ValueError(f"rules: unknown op name '{op_name}'; known ops: {', '.join(sorted(OPS))}")
    if rule is None or (isinstance(rule, str) and rule == "plain"):
        return None
    if isinstance(rule, str):
        named = {k: v for k, v in ALTERNATIVES.get(op_name, {}).items() if not isinstance(v, type)}
        if rule not in named:
            raise ValueError(f"rules: unknown rule name '{rule}' for op '{op_name}'; "
                             f"known names: {', '.join(['plain', *named])}")
        return named[rule]
    if not callable(rule):
        raise TypeError(f"rules: the rule for '{op_name}' must be a function (ctx, grad_out) -> grads, "
                        f"a rule name or None, got {type(rule).__name__}")
    owners = sorted(op for op, alts in ALTERNATIVES.items()  # a class entry stands for its instances
                    if any(isinstance(rule, e) if isinstance(e, type) else rule is e for e in alts.values()))
    if owners and op_name not in owners:
        name = getattr(rule, "__name__", type(rule).__name__)
        raise ValueError(f"rules: rule '{name}' applies to {owners}, not to '{op_name}'")
    return rule


def rules(**table):
    """Differentiate the reverse passes inside the block with other backward rules.

    ``with rules(relu=guided): gx, = grad(y, [x])``. Keys are op names (``relu``,
    ``conv2d``, ``max_pool2d``, ...); values are rule functions, a name from ``ALTERNATIVES``
    (``"guided"``, ``"deconvnet"``, ``"relevance"``), ``"plain"`` or ``None`` for the op's own
    backward. Nested blocks compose (the inner table overrides the outer one key by key); the
    previous table comes back on exit, also after an exception.

    The ``with`` must surround the *backward* call (``grad`` or ``.backward()``): rules are
    looked up during the reverse pass, so the forward pass may run before or inside it.
    An unknown op or rule name raises ``ValueError``.
    """
    resolved = {name: _resolve(name, rule) for name, rule in table.items()}
    return scoped(_TABLE, {**_TABLE.get(), **resolved})


def current_rules():
    """The rule table in force: a dict op name -> rule (``None`` entries mean the default)."""
    return dict(_TABLE.get())


def rule_for(op):
    """The backward function used for ``op`` now: the table's rule, else ``op.backward``."""
    return _TABLE.get().get(op.name) or op.backward
