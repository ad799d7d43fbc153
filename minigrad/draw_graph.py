"""``draw_graph``: the graph behind a tensor, the one ``backward`` walks, drawn with matplotlib.

Like micrograd's ``draw_dot``, but without Graphviz: each tensor is a box placed by its depth
(leaves on the left, the tensor drawn on the right), each arrow an input of the op that made a
tensor. A box shows the op's name as in ``minigrad.OPS``, the layer that ran it, the tensor's shape
and dtype, the backward rule in force when a ``minigrad.rules`` block swaps it (a guided ReLU, an
LRP rule), and a leaf's ``.grad`` once ``backward`` has filled it.
"""
import os
import tempfile

import numpy as np

from minigrad.rules import rule_for
from minigrad.tensor import Tensor

_FORMATS = (".svg", ".png")


def _graph(tensor):
    """(tensors in an order where inputs come first, edges (input id, output id))."""
    order, edges, seen, stack = [], [], set(), [(tensor, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        if getattr(t._node, "released", False):
            raise ValueError("tensor: its graph was freed by .backward(); call .backward(retain_graph=True) "
                             "to draw the graph afterwards")
        stack.append((t, True))
        for i in (t._node.inputs if t._node is not None else ()):
            edges.append((id(i), id(t)))
            stack.append((i, False))
    return order, edges


def _parameter_names(order):
    """id(leaf) -> "Conv2d.weight" for leaves that are a parameter of the layer whose op used them."""
    names = {}
    for t in order:
        module = t._node.module if t._node is not None else None
        for name, p in (module.named_parameters() if hasattr(module, "named_parameters") else ()):
            if any(p is i for i in t._node.inputs):
                names[id(p)] = f"{type(module).__name__}.{name}"
    return names


def _label(t, names):
    """The text of one box: its name if given, what made the tensor (or that it is a leaf), shape,
    dtype, rule, grad."""
    node = t._node
    if node is None:
        lines = [names.get(id(t), "leaf") + (" (requires_grad)" if t.requires_grad else "")]
    else:
        lines = ([names[id(t)]] if id(t) in names else []) + \
            [node.op.name + (f"  in {type(node.module).__name__}" if node.module is not None else "")]
    lines.append(f"{tuple(t.shape)} {t.dtype}")
    if node is not None:
        rule = rule_for(node.op)
        if rule is not node.op.backward:
            lines.append(f"backward: {getattr(rule, '__name__', type(rule).__name__)}")
    if t.grad is not None:
        g = np.asarray(t.grad)
        lines.append(f"grad {g.ravel()[0]:.3g}" if g.size == 1 else f"grad |g|max {np.abs(g).max():.3g}")
    return "\n".join(lines)


def draw_graph(tensor, path=None, names=None):
    """Draw the graph that made ``tensor``: one box per tensor (op name, layer, shape, dtype, the
    backward rule in force if swapped, a leaf's ``.grad`` once computed), arrows from each op's
    inputs to its output, leaves on the left.

    The rule shown is the one ``backward`` would use now: call it inside a ``minigrad.rules`` block
    to see that block's rules.

    Parameters
    ----------
    tensor : Tensor, the output whose graph is drawn (e.g. a loss or a class score)
    path : None, or a file name ending in .svg or .png to write the figure to (written to a
        temporary name first, then renamed, so an interrupted call leaves no partial file)
    names : optional dict Tensor -> label, shown on those tensors' boxes (``{x: "x", y: "loss"}``);
        parameters of a layer are named by it already ("Conv2d.weight")

    Returns
    -------
    matplotlib.figure.Figure (not managed by pyplot: display it as a notebook cell's last value,
    or save it with ``path`` or ``fig.savefig``)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor: expected a minigrad.Tensor, got {type(tensor).__name__}")
    if path is not None and (not isinstance(path, (str, os.PathLike))
                             or os.path.splitext(os.fspath(path))[1].lower() not in _FORMATS):
        raise ValueError(f"path: expected None or a file name ending in {' or '.join(_FORMATS)}, got {path!r}")
    from matplotlib import rc_context  # here: importing minigrad stays free of matplotlib
    from matplotlib.figure import Figure

    if names is not None and (not isinstance(names, dict) or not all(isinstance(k, Tensor) for k in names)):
        raise TypeError(f"names: expected a dict Tensor -> label, got {type(names).__name__}")
    order, edges = _graph(tensor)
    depth = {}
    for t in order:  # inputs come first, so each depth is final when its tensor is reached
        depth[id(t)] = 1 + max((depth[id(i)] for i in t._node.inputs), default=-1) if t._node is not None else 0
    leaves = {id(t) for t in order if t._node is None}
    first_use = {}
    for a, b in edges:
        if a in leaves:
            first_use[a] = min(first_use.get(a, depth[b]), depth[b])
    depth.update({a: d - 1 for a, d in first_use.items()})  # a leaf sits just before its first use
    names = {**_parameter_names(order), **{id(k): str(v) for k, v in (names or {}).items()}}
    columns = {}
    for t in order:
        columns.setdefault(depth[id(t)], []).append(t)
    place = {id(t): (d, -row + (len(ts) - 1) / 2) for d, ts in columns.items() for row, t in enumerate(ts)}
    width, height = max(columns) + 1, max(len(ts) for ts in columns.values())
    fig = Figure(figsize=(2.6 * width + 0.4, 1.1 * height + 0.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    ax.axis("off")
    for a, b in edges:
        (xa, ya), (xb, yb) = place[a], place[b]
        ax.annotate("", xy=(xb - 0.38, yb), xytext=(xa + 0.38, ya),
                    arrowprops=dict(arrowstyle="->", color="0.45", lw=0.8))
    for t in order:
        x, y = place[id(t)]
        swapped = t._node is not None and rule_for(t._node.op) is not t._node.op.backward
        face = "#fde2c8" if swapped else ("#dbe9f6" if t._node is None else "#eeeeee")
        ax.text(x, y, _label(t, names), ha="center", va="center", fontsize=7, family="monospace",
                bbox=dict(boxstyle="round,pad=0.35", fc=face, ec="0.3", lw=0.8))
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        ext = os.path.splitext(path)[1].lower()
        fd, tmp = tempfile.mkstemp(suffix=ext, dir=folder)
        os.close(fd)
        try:
            with rc_context({"svg.fonttype": "none"}):  # text stays text in an SVG: searchable, small
                fig.savefig(tmp, format=ext[1:])
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return fig
