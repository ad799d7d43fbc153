"""Which kernels run: one scoped choice, ``minigrad.kernels(...)``, instead of module switches.

By default every op takes its fast path, chosen per shape by rules that follow the shape (each
explained where it is made: ``conv.py``, ``pool.py``, ``weight_gradient.py``). A block can ask for
the reference loops instead (``reference.py``: plain NumPy, written to be read), or force one fast
path where the rule would choose another (tests and benchmarks run every path this way)::

    with minigrad.kernels("reference"):
        y = net(x)                      # the readable loops, same numbers
    with minigrad.kernels(winograd=False, per_sample=True):
        y = net(x)                      # im2col with one GEMM per sample, whatever the shape

The choice lives in a ContextVar: a thread, or an asyncio task, sees only its own blocks, and
nested blocks restore the outer choice when they end.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace

from minigrad.argument_checks import integer, one_of


@dataclass(frozen=True)
class KernelChoice:
    """What a block asked for. ``None`` leaves a decision to the per-shape rule.

    reference : every conv2d, max_pool2d and avg_pool2d runs ``reference.py``'s loops
    per_sample : a convolution's GEMM per sample (True) or one GEMM for the batch (False)
    small_weight_gradient : the compiled weight gradient (True) or BLAS (False)
    winograd : Winograd F(4x4, 3x3) where it applies (True) or im2col (False)
    depthwise : depthwise convolutions by the direct kernels (True) or one GEMM per group (False)
    few_filters : convolutions' forward pass and input gradient by the direct loops for few
        filters (True, any number of filters) or im2col (False)
    fast_2x2 : 2x2 stride-2 max pooling by its own kernel (True) or the general one (False)
    column_entries : the largest im2col chunk, in entries (0: the whole batch at once; None: the
        rule, 2^19 entries but never fewer columns than the GEMM needs to use every thread)
    """
    reference: bool = False
    per_sample: bool = None
    small_weight_gradient: bool = None
    winograd: bool = None
    depthwise: bool = None
    few_filters: bool = None
    fast_2x2: bool = True
    column_entries: int = None


_CHOICE = ContextVar("minigrad_kernels", default=KernelChoice())
_FORCED = tuple(f.name for f in fields(KernelChoice) if f.name != "reference")


def current():
    """The ``KernelChoice`` in force in this thread or task."""
    return _CHOICE.get()


@contextmanager
def kernels(path=None, **forced):
    """Run the block with the kernels named: ``path`` "fast" (per-shape rules), "reference" (the
    readable loops of ``minigrad/kernels/reference.py``) or "im2col" (the plainest fast path: im2col
    and one GEMM for every convolution, no Winograd, no per-sample GEMMs, BLAS weight gradients, no
    depthwise loops); None keeps the enclosing block's. Fast-path choices are forced by name
    (``per_sample``, ``small_weight_gradient``, ``winograd``, ``depthwise``, ``few_filters``: True,
    False or None for the rule; ``fast_2x2``: True or False; ``column_entries``: an int >= 0, or None). Choices not named
    stay as the enclosing block has them.

    A graph remembers no kernel choice: its backward pass runs the kernels chosen where
    ``backward`` or ``grad`` is called, so put both passes inside the block."""
    if path is not None:
        one_of(path, "path", ("fast", "reference", "im2col"))
    for name, value in forced.items():
        if name not in _FORCED:
            raise ValueError(f"{name}: not a kernel choice; expected one of {', '.join(_FORCED)}")
        if name == "column_entries":
            if value is not None:
                integer(value, name, low=0)
        elif not (value is True or value is False or (value is None and name != "fast_2x2")):
            raise TypeError(f"{name}: expected True, False{'' if name == 'fast_2x2' else ' or None'}, got {value!r}")
    reference = _CHOICE.get().reference if path is None else path == "reference"
    if path == "im2col":
        forced = {**dict(per_sample=False, small_weight_gradient=False, winograd=False, depthwise=False,
                         few_filters=False), **forced}
    token = _CHOICE.set(replace(_CHOICE.get(), reference=reference, **forced))
    try:
        yield _CHOICE.get()
    finally:
        _CHOICE.reset(token)
