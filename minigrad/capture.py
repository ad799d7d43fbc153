"""Which layer is running, and ``capture``: layers' inputs and outputs kept as graph tensors.

``layers.Module.__call__`` runs its ``forward`` through ``run_module`` so that (1) every op
recorded inside knows its layer (``ctx.module``, used by per-layer rules) and (2) active
``capture`` blocks see the layer's input and output.
"""
from contextlib import contextmanager
from contextvars import ContextVar

from minigrad.graph import is_grad_enabled, running_module, scoped

_CAPTURES = ContextVar("minigrad_captures", default=())
_FEEDS = ContextVar("minigrad_feeds", default={})  # id(layer) -> (value, at_input), set by feed()


class Captured(dict):
    """The outputs of captured layers, keyed by layer: ``acts[net.conv2] -> Tensor``; their
    inputs (the first argument each was called with) in ``acts.inputs[net.conv2]``.

    A layer that runs several times in one forward pass keeps its last call.
    """

    def __init__(self, wanted, stop):
        super().__init__()
        self.inputs, self.wanted, self.stop = {}, wanted, stop


class _AllCaptured(Exception):
    """Raised by ``run_module`` to end a forward pass whose every captured layer has run."""


def run_module(module, forward, *args, **kwargs):
    """``forward(*args, **kwargs)`` with ``module`` marked as the running layer; captures its call."""
    fed = _FEEDS.get().get(id(module))
    if fed is not None:
        args, forward = ((fed[0],) + args[1:], forward) if fed[1] else (args, lambda *_, **__: fed[0])
    wanted = [store for store in _CAPTURES.get() if id(module) in store.wanted]
    if wanted and args and hasattr(args[0], "_pinned"):
        args[0]._pinned = True  # what entered a captured layer stays as it was (no in-place ReLU over it)
    with running_module(module):
        out = forward(*args, **kwargs)
    for t in (out if isinstance(out, (tuple, list)) else (out,)) if wanted else ():  # a layer may return several
        if hasattr(t, "_pinned"):
            t._pinned = True  # a captured output is never overwritten either
        if is_grad_enabled() and hasattr(t, "requires_grad") and not t.requires_grad:
            # a graph tensor even when nothing upstream wants a gradient, so that
            # grad(..., [acts[layer]]) works (Grad-CAM on a model with frozen weights)
            t.requires_grad = True
    for store in wanted:
        store[module] = out
        store.inputs[module] = args[0] if args else None
        if store.stop and len(store) == len(store.wanted):
            raise _AllCaptured(store)
    return out


@contextmanager
def capture(*modules, stop=False):
    """Record the inputs and outputs of ``modules`` during the forward passes run inside the block.

    ``with capture(net.conv2) as acts: logits = net(x)`` then
    ``gx, gA = grad(logits, [x, acts[net.conv2]], seed=onehot)``; ``acts.inputs[net.conv2]`` is
    what entered the layer. Captured outputs are graph tensors, so ``grad`` returns their gradient.
    With ``stop=True`` the forward pass ends (the rest of the block is skipped) as soon as every
    module has run: for losses on inner layers, the layers above them are never computed.
    """
    if not modules:
        raise ValueError("capture: expected at least one module, got none")
    for m in modules:
        if not hasattr(m, "forward"):
            raise TypeError(f"capture: expected layers (Module instances), got {type(m).__name__}")
    store = Captured(frozenset(map(id, modules)), stop)
    token = _CAPTURES.set(_CAPTURES.get() + (store,))
    try:
        yield store
    except _AllCaptured as done:
        if done.args[0] is not store:
            raise
    finally:
        _CAPTURES.reset(token)


def feed(module, value, at_input=False):
    """Inside the block, ``module`` returns ``value`` instead of computing its output; with
    ``at_input``, it computes its output from ``value`` instead of its first argument.

    What Captum's forward (pre-)hooks do for attributions at a layer (layer integrated gradients,
    conductance): ``value`` is usually a leaf with ``requires_grad``, so ``grad`` gives the model's
    gradient with respect to the layer's output or input. The model itself is not edited, and
    another thread running it meanwhile is not affected (the replacement is a context variable).
    """
    return scoped(_FEEDS, {**_FEEDS.get(), id(module): (value, at_input)})
