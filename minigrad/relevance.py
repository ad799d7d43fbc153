"""Relevance-propagation backward rules: LRP's z-rules (Bach et al. 2015; Montavon et al. 2019)
and excitation backprop's marginal winning probability (Zhang et al. 2016).

They are one rule with different parameters. For a layer y = f(a; W, b) that is linear in its
input a (``conv2d``, ``linear``, ``avg_pool2d``, ``max_pool2d``, the global average ``mean``),
the relevance R arriving at the output is redistributed to the input as

    R_in = a * J_f'(a)^T [R_out / stab(f'(a))]       (Montavon et al. 2019, eqs. 3-4 and 7)

where f' is the layer run with modified parameters rho(W), b' and ``stab`` keeps the division
away from zero; J^T v is the op's own backward, so the same reverse pass (``minigrad.grad``) that
carries gradients carries relevance. Activations pass relevance unchanged (table below). Per rule:

    rule            rho(W)        bias b'   stab(z)
    epsilon(e)      W             b         z + e * sign(z), sign(0) = 1        (LRP-eps, LRP-0 at e=0)
    gamma(g)        W + g W^+     b         z + 1e-9 * sign(z)                 (LRP-gamma)
    alpha1beta0()   W^+           b         z + 1e-9 * sign(z)                 (LRP-alpha1beta0, z+)
    excitation()    W^+           0         z + 1e-20                          (MWP, Zhang eq. 7)
    excitation(contrast=True)     (-W)^+    0     z + 1e-20                    (the dual unit of c-MWP)

Biases and stabilisers follow Captum's LRP rules and TorchRay's excitation backprop. Pooling layers
(adaptive ones too) have no parameters, so every rule treats them alike: max pooling gives the
window's relevance to its maximum, average pooling shares it in proportion to the inputs.

Two more pieces of real networks:

- **BatchNorm** is folded into the convolution or linear layer that feeds it, as the LRP
  literature does (Montavon et al. 2019, sec. 10.3.1; zennit's canonizers): in evaluation
  y = scale * (W x + b) + shift is one layer with weights scale W and bias scale b + shift, and
  the z-rule runs on that layer, the BatchNorm passing relevance through. The pairing is read
  off the graph during the reverse pass (the BatchNorm's input was made by that op), so no
  module order is assumed. A BatchNorm fed by anything else is a diagonal layer of its own.
  (Folding assumes the convolution's output feeds only the BatchNorm, as in every torchvision
  network.)
- **A sum** a + b (a residual connection) splits the relevance in proportion to each input's
  contribution, R_a = a / stab(a + b) R (the z-rule with unit weights; the layer that ran the sum
  chooses the stabiliser); excitation backprop splits by positive parts, a^+ / (a^+ + b^+), so
  winning probabilities stay non-negative. A difference a - b is the sum of a and -b.

Every other op, one decision each (the table ``relevance_rules`` builds covers every op):

    ops                                       rule
    conv2d, linear, the pools, mean, sum, max the layer's z-rule (max: winner takes all, as max pooling)
    add, sub                                  split in proportion (above)
    batch_norm                                folded (above)
    mul, div by a factor that does not        the layer's z-rule on a diagonal layer with weights w
      depend on the input (dropout's mask)    (1/w): R_x = x rho(w) / stab(x rho(w)) R, i.e. relevance
                                              passes through up to the stabiliser (Captum passes
                                              relevance through nn.Dropout unchanged)
    relu, relu6, tanh, sigmoid                pass-through: a neuron a_k = g(z_k) with g element-wise
                                              and monotone is one node with one relevance R_k, as in
                                              the z-rules above (Montavon et al. 2019, eqs. 3-4);
                                              Captum passes ReLU and tanh, zennit's ``Pass`` every
                                              such activation (Captum refuses sigmoid)
    reshape, transpose, getitem,              the op's own backward: each output is a copy of one input,
      concatenate, stack                      so the z-rule is that copy backwards
    everything else (softmax, log_softmax,    no rule: LRP has none that does not depend on what the op
      exp, log, pow, sqrt, abs, neg,          means (a softmax is explained at its logits, a gate x * y
      matmul, a product of two inputs, ...)   has no weights), so it raises a ValueError naming the
                                              op, in a layer or not; ``methods.lrp(..., op_rules=...)``
                                              or an inner ``minigrad.rules`` block supplies one

Ops with a rule that run outside any layer (a callable target picking a unit) keep their plain
backward: they define the score whose relevance is propagated.

``relevance_rules(layer_rules, default)`` turns a choice of rule per layer into a table for
``minigrad.rules``: each node asks ``ctx.module`` (the layer that ran it) which rule applies. The
table records which layers a reverse pass consulted, so a rule given to a layer that runs no op a
rule applies to (a ReLU, a container, a folded BatchNorm) is refused rather than ignored.
"""
import copy

import numpy as np

from minigrad.graph import OPS, unbroadcast

#: Ops a z-rule can redistribute over: layers linear (max: piecewise linear) in their first input.
LINEAR_OPS = frozenset({"conv2d", "linear", "avg_pool2d", "max_pool2d", "adaptive_avg_pool2d",
                        "adaptive_max_pool2d", "mean", "sum", "max"})
#: Element-wise monotone nonlinearities: a neuron keeps its relevance across its activation.
PASS_THROUGH_OPS = frozenset({"relu", "relu6", "tanh", "sigmoid"})
#: Ops that only move values (each output element is a copy of one input element): their own
#: backward moves relevance exactly as the z-rule would.
STRUCTURAL_OPS = frozenset({"reshape", "transpose", "getitem", "concatenate", "stack"})
#: Products and quotients, a diagonal layer when one operand does not depend on the input.
CONSTANT_FACTOR_OPS = frozenset({"mul", "div"})
#: Ops a BatchNorm can be folded into.
_FOLDS_INTO = frozenset({"conv2d", "linear"})


def _signed_stabilizer(eps):
    def stab(z):
        return z + np.where(z >= 0, eps, -eps).astype(z.dtype)
    return stab


def _positive_stabilizer(z):
    return z + z.dtype.type(1e-20)


class LayerRule:
    """One z-rule: R_in = a * J_f'(a)^T [R_out / stab(f'(a))] with f' = f(.; rho(W), b').

    name : str                   shown in reprs and errors
    rho : callable or None       W -> modified weights (None keeps W)
    keep_bias : bool             False drops the bias from f'
    stabilizer : callable        z -> z kept away from zero
    """

    def __init__(self, name, rho=None, keep_bias=True, stabilizer=_signed_stabilizer(1e-9), positive_sum=False):
        self.name, self.rho, self.keep_bias, self.stabilizer = name, rho, keep_bias, stabilizer
        self.positive_sum = positive_sum

    def __repr__(self):
        return f"<LayerRule {self.name}>"

    def _share(self, relevance, z):
        zs = self.stabilizer(z)
        return np.divide(relevance, zs, out=np.zeros_like(relevance), where=zs != 0)

    def __call__(self, ctx, relevance, fold=None):
        """Redistribute ``relevance`` (the shape of ctx.output) to ctx's first input. ``fold``
        (scale, shift) per output channel: a BatchNorm after the layer, folded into its parameters."""
        a, params = ctx.arrays[0], ctx.arrays[1:]
        scratch = copy.copy(ctx)  # the node as f' sees it; the recorded graph is not touched
        if fold is not None:
            scale, shift = fold
            w = params[0] * scale.reshape((-1,) + (1,) * (params[0].ndim - 1))
            params = (w, shift if len(params) == 1 else params[1] * scale + shift)
        if fold is not None or ctx.output is None or (params and (self.rho is not None or not self.keep_bias)):
            # f' is not f, or an in-place ReLU overwrote f's output: run f' on the saved input
            w = params[0] if self.rho is None else self.rho(params[0])
            scratch.arrays = (a, w) + (params[1:] if self.keep_bias else ())
            z = ctx.op.forward(scratch, *scratch.arrays, **ctx.kwargs)
        else:  # f' is f: reuse what the forward pass saved (its output, pooling's argmax)
            z = ctx.output
        scratch.needs_input_grad = (True,) + (False,) * (len(scratch.arrays) - 1)
        back = ctx.op.backward(scratch, self._share(relevance, z))[0]
        return (a * back,) + (None,) * (len(ctx.arrays) - 1)

    def split_sum(self, ctx, relevance):
        """A sum a + b as a layer with unit weights: R_a = a / stab(a + b) R, R_b alike (positive
        parts for excitation backprop), each summed back to its input's shape. A difference a - b is
        the sum of a and -b, and -b's relevance is b's."""
        a, b = ctx.arrays
        b = -b if ctx.op.name == "sub" else b
        a, b = (np.maximum(a, 0), np.maximum(b, 0)) if self.positive_sum else (a, b)
        s = self._share(relevance, a + b)
        return unbroadcast(a * s, a.shape), unbroadcast(b * s, b.shape)

    def diagonal(self, x, w, relevance, shift=0):
        """y = x * w + shift element-wise (w and shift broadcast against x) as a layer with one weight
        per element: R_x = x rho(w) / stab(x rho(w) + shift') R, summed back to x's shape. Used for
        a BatchNorm not folded into a layer and for a product with a constant factor."""
        w = w if self.rho is None else self.rho(w)
        z = x * w + (shift if self.keep_bias else 0)
        return unbroadcast(x * w * self._share(relevance, z), x.shape).astype(x.dtype, copy=False)


def epsilon(eps=1e-9):
    """LRP-eps (Bach et al. 2015, eq. 58; Montavon et al. 2019, eq. 5): stab(z) = z + eps sign(z).
    eps=0 is LRP-0 (0/0 gives 0). Captum's default eps is 1e-9."""
    if not np.isscalar(eps) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"epsilon: expected a finite number >= 0, got {eps!r}")
    return LayerRule(f"epsilon({eps:g})", stabilizer=_signed_stabilizer(eps))


def gamma(gamma=0.25):
    """LRP-gamma (Montavon et al. 2019, eq. 6): weights W + gamma W^+, favouring positive
    contributions; the bias is kept (Captum's GammaRule). Captum's default gamma is 0.25."""
    if not np.isscalar(gamma) or not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma: expected a finite number >= 0, got {gamma!r}")
    return LayerRule(f"gamma({gamma:g})", rho=lambda w: w + gamma * np.maximum(w, 0))


def alpha1beta0():
    """LRP-alpha1beta0 (Bach et al. 2015, eq. 60 with alpha=1, beta=0): only positive weights
    W^+ carry relevance; the bias is kept (Captum's Alpha1_Beta0_Rule)."""
    return LayerRule("alpha1beta0", rho=lambda w: np.maximum(w, 0))


def excitation(contrast=False):
    """Excitation backprop's marginal winning probability (Zhang et al. 2016, eqs. 5-7):
    P(a_j) = sum_i a_j w_ij^+ / (sum_k a_k w_ik^+) P(a_i), biases ignored. With ``contrast=True``
    the weights are negated first, giving the dual unit of contrastive MWP (sec. 3.3)."""
    rho = (lambda w: np.maximum(-w, 0)) if contrast else (lambda w: np.maximum(w, 0))
    return LayerRule("excitation(contrast)" if contrast else "excitation", rho=rho, keep_bias=False,
                     stabilizer=_positive_stabilizer, positive_sum=True)


def pass_through(ctx, relevance):
    """Relevance crosses an element-wise monotone activation unchanged (Captum's LRP on ReLU and tanh,
    zennit's ``Pass`` on every activation)."""
    return (relevance,)


_NAMED = {"epsilon": epsilon, "zero": lambda: epsilon(0.0), "gamma": gamma,
          "alpha1beta0": alpha1beta0, "excitation": excitation}


def as_layer_rule(rule, what="rule"):
    """A ``LayerRule`` from itself or a name ('epsilon', 'zero', 'gamma', 'alpha1beta0', 'excitation')
    taken with its default parameter."""
    if isinstance(rule, LayerRule):
        return rule
    if isinstance(rule, str):
        if rule not in _NAMED:
            raise ValueError(f"{what}: unknown relevance rule '{rule}'; known: {', '.join(_NAMED)}")
        return _NAMED[rule]()
    raise TypeError(f"{what}: expected a LayerRule (minigrad.relevance.epsilon(...), ...) or a rule name, "
                    f"got {type(rule).__name__}")


class ByLayer:
    """The rule of a linear op's node, chosen by the layer that ran it (``ctx.module``).

    by_layer : dict id(layer) -> LayerRule;  default : LayerRule for the other layers;
    folds : dict id(node) -> (scale, shift) of the BatchNorm after that node, filled during the
    reverse pass by ``FoldBatchNorm``;  taken : set of id(layer) whose rule a node used.
    Both are shared by the entries of one table (``relevance_rules``).
    Ops run outside any layer (e.g. a callable target's indexing) keep their plain backward.
    """

    def __init__(self, by_layer, default, folds=None, taken=None):
        self.by_layer, self.default = by_layer, default
        self.folds = {} if folds is None else folds
        self.taken = set() if taken is None else taken

    def sharing(self, cls):
        """A rule of class ``cls`` with this one's choice of rules and its shared state."""
        return cls(self.by_layer, self.default, self.folds, self.taken)

    def rule(self, ctx):
        """The LayerRule of the layer that ran ``ctx``."""
        if id(ctx.module) in self.by_layer:
            self.taken.add(id(ctx.module))
            return self.by_layer[id(ctx.module)]
        return self.default

    def __call__(self, ctx, relevance):
        fold = self.folds.pop(id(ctx), None)
        if ctx.module is None and fold is None:
            return ctx.op.backward(ctx, relevance)
        return self.rule(ctx)(ctx, relevance, fold)


class SplitSum(ByLayer):
    """The rule of an ``add`` node (a residual connection) or a ``sub`` node (a - b, as subtracting a
    mean): ``LayerRule.split_sum`` of the layer that ran it. Outside any layer: the plain backward."""

    def __call__(self, ctx, relevance):
        if ctx.module is None:
            return ctx.op.backward(ctx, relevance)
        return self.rule(ctx).split_sum(ctx, relevance)


class FoldBatchNorm(ByLayer):
    """The rule of a ``batch_norm`` node: when a convolution or linear layer made its input, the
    BatchNorm's affine map is handed to that node's rule (folded) and relevance passes through;
    otherwise ``LayerRule.diagonal`` with weights ``scale`` and bias ``shift`` per channel."""

    def __call__(self, ctx, relevance):
        source = getattr(ctx.inputs[0], "_node", None)
        if source is not None and source.op.name in _FOLDS_INTO and not getattr(source, "released", False):
            self.folds[id(source)] = (ctx.scale, ctx.shift)
            return (relevance,) + (None,) * (len(ctx.arrays) - 1)
        x = ctx.arrays[0]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        r = self.rule(ctx).diagonal(x, ctx.scale.reshape(shape), relevance, ctx.shift.reshape(shape))
        return (r,) + (None,) * (len(ctx.arrays) - 1)


class ConstantFactor(ByLayer):
    """The rule of a ``mul`` or ``div`` node: x * w (x / w) with a factor w that does not depend on
    the explained input (dropout's mask, a fixed scale) is a diagonal layer with weights w (1 / w)
    and no bias, so it takes its layer's ``LayerRule.diagonal``: R_x = x rho(w) / stab(x rho(w)) R,
    relevance passing through up to the stabiliser. (The plain backward would multiply R by w once
    more: dropout's 1 / (1 - p) twice.) When both operands depend on the input (a gate), or the
    input is the divisor, there are no weights and no rule: it raises, as ``NoRule``, in a layer
    or not. A product with a constant outside any layer keeps its plain backward, as ``ByLayer``."""

    def __call__(self, ctx, relevance):
        variable = [i for i, needed in enumerate(ctx.needs_input_grad) if needed]
        if variable not in (([0], [1]) if ctx.op.name == "mul" else ([0],)):
            raise ValueError(_no_rule_message(ctx, "its operands are not an input and a constant factor "
                                                  "(a product of two inputs, a gate, has no weights)"))
        if ctx.module is None:
            return ctx.op.backward(ctx, relevance)
        i = variable[0]
        w = ctx.arrays[1 - i]
        r = self.rule(ctx).diagonal(ctx.arrays[i], 1 / w if ctx.op.name == "div" else w, relevance)
        return (r, None) if i == 0 else (None, r)


def _no_rule_message(ctx, why):
    """The error of an op that relevance cannot cross: the op, its layer, why, and how to give a rule."""
    name = ctx.op.name
    where = "outside any layer (in a callable target?)" if ctx.module is None else \
        f"by layer {type(ctx.module).__name__}"
    return (f"relevance: op '{name}' (run {where}) has no relevance rule: {why}. "
            f"Explain an output it does not feed (for a softmax, its logits), or supply a rule "
            f"rule(ctx, relevance) -> one relevance array per input: methods.lrp(..., op_rules={{'{name}': rule}}), "
            f"or with minigrad.grad a 'with minigrad.rules({name}=rule):' block inside the relevance table's")


class NoRule:
    """The entry of every op the table has no rule for (softmax, exp, a user's own op, ...): it raises
    a ValueError naming the op (as Captum raises on a layer without a rule) rather than pass the
    plain gradient on as relevance -- outside any layer too, where a callable target such as
    ``out.softmax(1)[:, c]`` would otherwise scale the relevance by the softmax's derivative."""

    def __call__(self, ctx, relevance):
        raise ValueError(_no_rule_message(ctx, "LRP's rules need weights to share relevance by, or an "
                                              "element-wise monotone activation to pass it through"))


class RelevanceTable(dict):
    """A rule table (op name -> rule) for ``minigrad.rules(**table)`` that remembers the layers given
    a rule, so that ``check_every_rule_taken`` can refuse a rule that no node used."""

    def __init__(self, table, layers, taken):
        super().__init__(table)
        self.layers, self.taken = layers, taken

    def check_every_rule_taken(self, what="layer_rules"):
        """After a reverse pass under the table: a ValueError naming ``what`` and each layer whose rule
        no node took (it runs no op a rule applies to, so the rule would silently do nothing)."""
        idle = [m for m in self.layers if id(m) not in self.taken]
        if idle:
            names = ", ".join(type(m).__name__ for m in idle)
            raise ValueError(f"{what}: no op of {names} took the rule given to it. A rule goes to the innermost "
                             f"layer running one of {', '.join(sorted(LINEAR_OPS | CONSTANT_FACTOR_OPS))}, add, "
                             f"sub, batch_norm; a container's rule does not reach its children, an activation "
                             f"has none, and a BatchNorm after a convolution or linear layer is folded into "
                             f"it and takes that layer's rule")


def relevance_rules(layer_rules, default):
    """A ``RelevanceTable`` for ``minigrad.rules(**table)`` that propagates relevance: an entry for
    every op (see the module docstring), ``NoRule`` for those without one.

    layer_rules : dict  layer (Module) -> LayerRule or name; layers not in it use ``default``
    default : LayerRule or name
    """
    default = as_layer_rule(default, "default")
    chosen = {id(m): as_layer_rule(r, f"layer_rules[{m!r}]") for m, r in layer_rules.items()}
    by_layer = ByLayer(chosen, default)
    table = {op: NoRule() for op in OPS}
    table.update({op: by_layer for op in LINEAR_OPS})
    table.update({op: by_layer.sharing(ConstantFactor) for op in CONSTANT_FACTOR_OPS})
    table.update({op: pass_through for op in PASS_THROUGH_OPS})
    table.update({op: None for op in STRUCTURAL_OPS})  # None: the op's own backward
    table.update(add=by_layer.sharing(SplitSum), sub=by_layer.sharing(SplitSum),
                 batch_norm=by_layer.sharing(FoldBatchNorm))
    return RelevanceTable(table, list(layer_rules), by_layer.taken)
