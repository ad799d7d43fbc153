"""The reverse pass: an iterative topological order, then one backward rule per node.

Each node's rule is looked up by op name in the current rule table (``minigrad.rules``)
at backward time, falling back to the op's own ``backward``. Only nodes that lie on a
path from an output to a requested input are visited, and each is told which of its
inputs need a gradient (``ctx.needs_input_grad``), so ``grad(logits, [x])`` skips the
weight gradients.
"""
import numpy as np

from minigrad.rules import rule_for
from minigrad.tensor import Tensor


def topological_order(outputs):
    """Tensors reachable from ``outputs`` (a list of Tensors) through nodes, inputs before the
    tensors they made: the order a backward pass walks in reverse. Methods that replay part of
    a recorded graph (``methods/cam_scored.py``'s Ablation-CAM) walk it too."""
    order, seen, stack = [], set(), [(t, False) for t in outputs]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            if getattr(t._node, "released", False):
                raise ValueError("backward: an earlier .backward() freed this graph; give that call retain_graph=True")
            if t._node is not None:
                stack.extend((i, False) for i in t._node.inputs if i.requires_grad and id(i) not in seen)
    return order


def _tensors(x, what):
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}]: expected a minigrad.Tensor, got {type(t).__name__}")
    return items


def _seeds(outputs, seed):
    if seed is None:
        return [np.ones_like(o.data) for o in outputs]
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    if len(seeds) != len(outputs):
        raise ValueError(f"seed: expected {len(outputs)} arrays (one per output), got {len(seeds)}")
    # copies, so that no returned gradient aliases the caller's array
    seeds = [np.array(s.data if isinstance(s, Tensor) else s, dtype=o.dtype) for o, s in zip(outputs, seeds)]
    for o, s in zip(outputs, seeds):
        if s.shape != o.shape:
            raise ValueError(f"seed: expected shape {o.shape} (the output's), got {s.shape}")
    return seeds


def _checked(node, rule, grads):
    """A rule's result, checked against the op's inputs: a tuple with one gradient per input, each
    None or a float array of that input's shape (a swapped rule must not silently broadcast)."""
    if not isinstance(grads, (tuple, list)) or len(grads) != len(node.inputs):
        raise ValueError(f"{_rule_name(node, rule)}: expected a tuple of {len(node.inputs)} gradients (one per "
                         f"input), got {len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__}")
    for i, (g, inp, need) in enumerate(zip(grads, node.inputs, node.needs_input_grad)):
        if need and g is not None and not (isinstance(g, (np.ndarray, np.generic)) and g.shape == inp.shape
                                           and g.dtype.kind == "f"):
            raise ValueError(f"{_rule_name(node, rule)}: gradient {i} should be a float array of the input's shape "
                             f"{inp.shape}, got {type(g).__name__} {getattr(g, 'shape', '')} {getattr(g, 'dtype', '')}")
    return grads


def _rule_name(node, rule):
    return f"backward rule {getattr(rule, '__name__', type(rule).__name__)!r} of op '{node.op.name}'"


def _reverse(outputs, seeds, wanted, release=False):
    """Gradients of sum_k <seed_k, output_k> with respect to each tensor in ``wanted``. The pass lets
    go of each tensor once done with it; with ``release`` it also empties each node once its rule
    has run (keeping ``op``, ``module`` and ``released``), so the graph's arrays are freed as it goes."""
    order = topological_order(outputs)
    keep = {id(t) for t in wanted}
    relevant = set(keep)
    for t in order:  # a node matters if one of its inputs leads to a wanted tensor
        if t._node is not None and any(id(i) in relevant for i in t._node.inputs):
            relevant.add(id(t))
    grads = {}
    for o, s in zip(outputs, seeds):
        grads[id(o)] = grads[id(o)] + s if id(o) in grads else s
    while order:
        t = order.pop()
        node, key = t._node, id(t)
        g = grads.get(key) if key in keep else grads.pop(key, None)
        if node is None or g is None or key not in relevant:
            continue
        node.needs_input_grad = need = tuple([id(i) in relevant for i in node.inputs])
        rule = rule_for(node.op)
        input_grads = _checked(node, rule, rule(node, g))
        for inp, gi, wanted_here in zip(node.inputs, input_grads, need):
            if gi is not None and wanted_here:
                gi = gi.astype(inp.dtype, copy=False)  # a float32 graph stays float32 whatever a rule computed in
                grads[id(inp)] = grads[id(inp)] + gi if id(inp) in grads else gi
        if release:
            node.__dict__ = {"op": node.op, "module": node.module, "released": True}
    return [grads[id(t)] if id(t) in grads else np.zeros_like(t.data) for t in wanted]


def grad(outputs, inputs, seed=None):
    """Vector-Jacobian product: d(sum_k <seed_k, outputs_k>) / d(inputs), as NumPy arrays.

    A pure reverse pass: it mutates no tensor (no ``.grad`` is touched), so it can be called
    many times on one graph, each time under a different ``minigrad.rules`` table.

    Parameters
    ----------
    outputs : Tensor or list of Tensor
    inputs : Tensor or list of Tensor
        Leaves or intermediate tensors of the graph (e.g. captured layer outputs).
        An input that no output depends on gets a zero gradient.
    seed : array or list of arrays, optional
        One array per output, of the output's shape; defaults to ones (the gradient of the sum).

    Returns
    -------
    list of ndarray, one per input, each of that input's shape.
    """
    outputs, inputs = _tensors(outputs, "outputs"), _tensors(inputs, "inputs")
    seeds = _seeds(outputs, seed)
    if not any(o.requires_grad for o in outputs):
        raise ValueError("outputs: none of them requires grad; nothing to differentiate "
                         "(was the forward pass run under no_grad, or does no input require grad?)")
    return _reverse(outputs, seeds, inputs)


def accumulate_into_leaves(output, seed=None, retain_graph=False):
    """``output.backward(seed, retain_graph=False)``: add d(output)/d(leaf) into ``leaf.grad`` for
    every leaf that requires grad. ``seed`` defaults to ones (the gradient of ``output.sum()``).
    This is the training convenience; ``minigrad.grad`` is the pure version that mutates nothing.

    As in PyTorch, the graph is freed during the pass (each node's inputs, output and saved arrays
    once its rule has run: a training step's peak memory no longer holds every activation to the
    end), so a second backward through it raises; ``retain_graph=True`` keeps it."""
    if not output.requires_grad:
        raise ValueError("backward: the tensor does not require grad (no graph was recorded)")
    leaves = [t for t in topological_order([output]) if t._node is None and t.requires_grad]
    seeds = _seeds([output], seed)
    shared = {id(s) for s in seeds}  # arrays .grad must not alias: the caller's seed, one given to two leaves
    for leaf, g in zip(leaves, _reverse([output], seeds, leaves, release=not retain_graph)):
        own = g.flags.owndata and id(g) not in shared  # a fresh array of the pass: no copy (a 100 MB FC grad)
        shared.add(id(g))
        leaf.grad = (g if own else g.copy()) if leaf.grad is None else leaf.grad + g
