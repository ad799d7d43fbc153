"""Relevance-propagation backward rules: LRP's z-rules (Bach et al. 2015; Montavon et al. 2019)
and excitation backprop's marginal winning probability (Zhang et al. 2016).

They are one rule with different parameters. For a layer y = f(a; W, b) that is linear in its
input a (``conv2d``, ``linear``, ``avg_pool2d``, ``max_pool2d``, the global average ``mean``),
the relevance R arriving at the output is redistributed to the input as

    R_in = a * J_f'(a)^T [R_out / stab(f'(a))]       (Montavon et al. 2019, eqs. 3-4 and 7)

where f' is the layer run with modified parameters rho(W), b' and ``stab`` keeps the division
away from zero; J^T v is the op's own backward, so the same reverse pass (``minigrad.grad``) that
carries gradients carries relevance. ReLU, ReLU6 and tanh pass relevance unchanged. Per rule:

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
  winning probabilities stay non-negative.

``relevance_rules(layer_rules, default)`` turns a choice of rule per layer into a table for
``minigrad.rules``: each node asks ``ctx.module`` (the layer that ran it) which rule applies.
"""
import copy

import numpy as np

from minigrad.graph import unbroadcast

#: Ops a z-rule can redistribute over: layers linear in their first input.
LINEAR_OPS = frozenset({"conv2d", "linear", "avg_pool2d", "max_pool2d", "adaptive_avg_pool2d",
                        "adaptive_max_pool2d", "mean"})
#: Element-wise nonlinearities that pass relevance unchanged (as Captum's LRP does).
PASS_THROUGH_OPS = frozenset({"relu", "relu6", "tanh"})
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
        if fold is not None or (params and (self.rho is not None or not self.keep_bias)):
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
        parts for excitation backprop), each summed back to its input's shape."""
        a, b = (np.maximum(v, 0) for v in ctx.arrays) if self.positive_sum else ctx.arrays
        s = self._share(relevance, a + b)
        return unbroadcast(a * s, a.shape), unbroadcast(b * s, b.shape)

    def diagonal(self, ctx, relevance):
        """A BatchNorm not folded into a layer: y = x * scale + shift as a layer with one weight per
        channel, R_x = x rho(scale) / stab(x rho(scale) + shift') R."""
        x = ctx.arrays[0]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        w = (ctx.scale if self.rho is None else self.rho(ctx.scale)).reshape(shape)
        z = x * w + (ctx.shift.reshape(shape) if self.keep_bias else 0)
        return (x * w * self._share(relevance, z),) + (None,) * (len(ctx.arrays) - 1)


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
    """Relevance crosses an element-wise nonlinearity unchanged (Captum's LRP on ReLU and tanh)."""
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
    reverse pass by ``FoldBatchNorm`` (shared by the table's entries).
    Ops run outside any layer (e.g. a callable target's indexing) keep their plain backward.
    """

    def __init__(self, by_layer, default, folds=None):
        self.by_layer, self.default = by_layer, default
        self.folds = {} if folds is None else folds

    def rule(self, ctx):
        """The LayerRule of the layer that ran ``ctx``."""
        return self.by_layer.get(id(ctx.module), self.default)

    def __call__(self, ctx, relevance):
        fold = self.folds.pop(id(ctx), None)
        if ctx.module is None and fold is None:
            return ctx.op.backward(ctx, relevance)
        return self.rule(ctx)(ctx, relevance, fold)


class SplitSum(ByLayer):
    """The rule of an ``add`` node (a residual connection): ``LayerRule.split_sum`` of the layer that
    ran it. A sum outside any layer keeps its plain backward."""

    def __call__(self, ctx, relevance):
        if ctx.module is None:
            return ctx.op.backward(ctx, relevance)
        return self.rule(ctx).split_sum(ctx, relevance)


class FoldBatchNorm(ByLayer):
    """The rule of a ``batch_norm`` node: when a convolution or linear layer made its input, the
    BatchNorm's affine map is handed to that node's rule (folded) and relevance passes through;
    otherwise ``LayerRule.diagonal``."""

    def __call__(self, ctx, relevance):
        source = getattr(ctx.inputs[0], "_node", None)
        if source is not None and source.op.name in _FOLDS_INTO and not getattr(source, "released", False):
            self.folds[id(source)] = (ctx.scale, ctx.shift)
            return (relevance,) + (None,) * (len(ctx.arrays) - 1)
        return self.rule(ctx).diagonal(ctx, relevance)


def relevance_rules(layer_rules, default):
    """A table for ``minigrad.rules(**table)`` that propagates relevance.

    layer_rules : dict  layer (Module) -> LayerRule or name; layers not in it use ``default``
    default : LayerRule or name
    """
    default = as_layer_rule(default, "default")
    chosen = {id(m): as_layer_rule(r, f"layer_rules[{m!r}]") for m, r in layer_rules.items()}
    by_layer = ByLayer(chosen, default)
    return {**{op: by_layer for op in LINEAR_OPS}, **{op: pass_through for op in PASS_THROUGH_OPS},
            "add": SplitSum(chosen, default), "batch_norm": FoldBatchNorm(chosen, default, by_layer.folds)}
