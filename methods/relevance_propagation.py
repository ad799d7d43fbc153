"""Relevance propagation: LRP (Bach et al. 2015) with a rule per layer, and excitation backprop
(Zhang et al. 2016) with its contrastive form. Both are one forward pass and reverse passes
under a relevance rule table (``minigrad.relevance``); the model is never edited.

Both take ``additional_forward_args``: extra arguments of the model's forward, passed after x as
they are (Captum's; see ``methods.inputs_and_targets``).
"""
from contextlib import nullcontext

import numpy as np

import minigrad
from methods.inputs_and_targets import (Inputs, as_batch, check_layer, layer_output, layer_tensor, run_model,
                                        scores, unbatch)
from methods.upsample import bilinear_resize
from minigrad import Tensor
from minigrad.argument_checks import boolean
from minigrad.relevance import epsilon as epsilon_rule, excitation, relevance_rules


def _check_rules(model, layer_rules):
    if layer_rules is None:
        return {}
    if not isinstance(layer_rules, dict):
        raise TypeError(f"layer_rules: expected a dict layer -> rule, got {type(layer_rules).__name__}")
    for layer in layer_rules:
        check_layer(model, layer)
    return layer_rules


def _with_op_rules(table, op_rules):
    """``table`` with the rules given per op name (``op_rules``) in place of its entries."""
    if op_rules is None:
        return table
    if not isinstance(op_rules, dict):
        raise TypeError(f"op_rules: expected a dict op name -> rule(ctx, relevance), got {type(op_rules).__name__}")
    return {**table, **op_rules}


def lrp(model, x, target, layer_rules=None, epsilon=1e-9, return_convergence_delta=False, op_rules=None,
        additional_forward_args=None):
    """Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019).

    The output relevance is the target score f_c(x); each layer redistributes what reaches its
    output to its input by its rule, R_in = a * J_f'(a)^T [R_out / stab(f'(a))] (see
    ``minigrad.relevance``), activations (ReLU, tanh, sigmoid) and dropout pass it unchanged, and
    the result is the relevance of each input value. With zero biases and eps -> 0 it is
    conserved: sum_i R_i = f_c(x). An op with no relevance rule (softmax, exp, a product of two
    inputs, ...) raises a ValueError naming it, as Captum does on a layer without a rule.

    layer_rules : dict layer -> rule, e.g. ``{net.features[0]: relevance.gamma(0.25)}`` or rule
        names ('epsilon', 'zero', 'gamma', 'alpha1beta0'); the other layers use LRP-eps. A rule
        for a layer that runs no op a rule applies to (a ReLU, a container) raises.
    epsilon : the eps of the default rule (Captum's default, 1e-9).
    return_convergence_delta : also return f_c(x) - sum_i R_i per sample (Captum's delta).
    op_rules : dict op name -> rule(ctx, relevance) -> one relevance array per input, for ops
        without a relevance rule, e.g. ``{"softplus": minigrad.relevance.pass_through}``.

    x (N, C, H, W) or (C, H, W) -> relevance of x's shape (and the (N,) deltas). For Captum's tuple
    of inputs, a tuple of relevances, the delta taken over all of them.
    """
    return _relevance(model, x, target, None, False, layer_rules, epsilon, return_convergence_delta, op_rules,
                      additional_forward_args)


def layer_lrp(model, x, target, layer, attribute_to_layer_input=False, layer_rules=None, epsilon=1e-9,
              return_convergence_delta=False, op_rules=None, additional_forward_args=None):
    """The LRP relevance arriving at ``layer``'s output, or with ``attribute_to_layer_input`` at what
    entered it (Captum's ``LayerLRP``): the same reverse pass as ``lrp``, read at the layer's tensor.

    Conservation holds at every layer (Bach et al. 2015, eq. 2; Montavon et al. 2019, eq. 2): with
    zero biases and eps -> 0, sum R at any layer = f_c(x); ``return_convergence_delta`` gives
    f_c(x) - sum R per sample, Captum's delta for ``LayerLRP``.
    The other arguments are ``lrp``'s. Returns the relevance in the shape of that tensor, e.g.
    (N, K, h, w) at a convolution, without the batch axis for a single image.

    The relevance is the total at the tensor: for a tensor that also feeds another layer (a skip
    connection) it includes what arrives through that path, where Captum's relevance of a layer's
    input is only the share that passed through the layer.
    """
    check_layer(model, layer)  # None too: the relevance at x is ``lrp``'s
    return _relevance(model, x, target, layer, attribute_to_layer_input, layer_rules, epsilon,
                      return_convergence_delta, op_rules, additional_forward_args)


def _relevance(model, x, target, layer, attribute_to_layer_input, layer_rules, epsilon, return_convergence_delta,
               op_rules, additional_forward_args):
    """LRP's relevance at x (``layer`` None) or at ``layer``'s output or input, (and the deltas).
    The reverse pass always runs down to x, so that every layer rule is taken (and checked) and an
    op without a rule below ``layer`` raises as it would in ``lrp``."""
    table = relevance_rules(_check_rules(model, layer_rules), epsilon_rule(epsilon))
    boolean(attribute_to_layer_input, "attribute_to_layer_input")
    inputs = Inputs(x)
    xts = inputs.tensors()
    with minigrad.capture(layer) if layer is not None else nullcontext() as acts:
        s = scores(run_model(model, xts, additional_forward_args), target)
    at = xts if layer is None else xts + [layer_tensor(acts, layer, attribute_to_layer_input)]
    with minigrad.rules(**_with_op_rules(table, op_rules)):
        rs = minigrad.grad(s, at, seed=s.data)
    table.check_every_rule_taken()
    rs = rs[:len(xts)] if layer is None else [rs[-1]]
    delta = s.data - sum(r.reshape(inputs.n, -1).sum(axis=1) for r in rs)
    r = inputs.restore(rs) if layer is None else unbatch(rs[0], inputs.single)
    return (r, delta) if return_convergence_delta else r


def _classifier(model, classifier):
    if classifier is not None:
        check_layer(model, classifier, "classifier")
        return classifier
    weighted = [m for m in model.modules() if getattr(m, "weight", None) is not None
                and not list(m.children())]
    if not weighted:
        raise ValueError("classifier: the model has no layer with weights to contrast")
    return weighted[-1]


def excitation_backprop(model, x, target, layer=None, contrastive=False, classifier=None, upsample=True,
                        op_rules=None, additional_forward_args=None):
    """Excitation backprop: the marginal winning probability P(a_j) of every unit given a winning
    target (Zhang et al. 2016, eqs. 5-7), propagated top-down with
    P(a_j) = sum_i a_j w_ij^+ / (sum_k a_k w_ik^+) P(a_i), starting from P = 1 at the target.

    layer : None gives P at the input values, x's shape (N, C, H, W); a layer of the model gives
        the map at its output summed over channels, (N, h, w), bilinearly resized to the input's
        size unless ``upsample=False`` (TorchRay's saliency layer).
    contrastive : contrastive MWP (sec. 3.3): P for the target minus P for its dual unit, whose
        ``classifier`` weights are negated, and at a layer the channel sum clipped at 0 (TorchRay).
        Because the propagation is linear in P, subtracting at the layer equals subtracting at any
        layer between it and the classifier, so no separate contrast layer is needed.
    classifier : the layer whose weights the dual unit negates (default: the last layer with weights).
    op_rules : dict op name -> rule for ops without a relevance rule, as in ``lrp``.

    The winning probabilities are a distribution when activations are non-negative: the values
    at each layer sum to 1 (2 - 2 = 0 for the contrastive difference), as long as every unit with
    probability has an input that excites it. A unit driven by its bias alone (a first-layer unit
    over a black patch) passes nothing down: the rule ignores biases, so at the pixels the sum can
    fall below 1 by what such units held.
    """
    if layer is not None:
        check_layer(model, layer)
    if contrastive:
        top = _classifier(model, classifier)
    xb, single = as_batch(x)
    xt = Tensor(xb, requires_grad=True)
    if layer is None:
        s = scores(run_model(model, xt, additional_forward_args), target)
        at = xt
    else:
        s, at = layer_output(model, xt, target, layer, additional_forward_args)
    seed = np.ones_like(s.data)
    with minigrad.rules(**_with_op_rules(relevance_rules({}, excitation()), op_rules)):
        p, = minigrad.grad(s, [at], seed=seed)
    if contrastive:
        dual = relevance_rules({top: excitation(contrast=True)}, excitation())
        with minigrad.rules(**_with_op_rules(dual, op_rules)):
            p = p - minigrad.grad(s, [at], seed=seed)[0]
    if layer is None:
        return unbatch(p, single)
    maps = p.sum(axis=1)
    if contrastive:
        maps = np.maximum(maps, 0)
    return unbatch(bilinear_resize(maps, xb.shape[2:]) if upsample else maps, single)
