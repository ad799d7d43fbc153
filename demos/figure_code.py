"""The code behind a gallery figure: the statements of its figure function that call the library,
read from the source the gallery ran, and the notebook that explains the method.

A figure function mixes the few calls that compute the figure (``methods.gradcam(net, x, y, layer)``)
with plotting and captions; the page shows the first under each figure, so that a reader sees which
calls made it and can run them. Calls into the module's private helpers (``_tsne(X, ctx)``) are
followed one level, and a figure computed with NumPy alone shows its computing statements.
"""
import ast
import inspect
import os
import sys
import textwrap

#: The packages whose calls count as the library's.
PACKAGES = {"minigrad", "methods", "layers", "tsne"}
_PLOTTING = {"plots", "ax", "axes", "fig", "Figure", "plt", "frames"}

#: The lesson in notebooks/ that explains each figure module's methods.
NOTEBOOKS = {
    "figures_weights": "02_convolution_by_hand.ipynb",
    "figures_activations": "02_convolution_by_hand.ipynb",
    "figures_attribution": "04_attribution_and_sanity_checks.ipynb",
    "figures_dissection": "04_attribution_and_sanity_checks.ipynb",
    "figures_sanity": "04_attribution_and_sanity_checks.ipynb",
    "figures_faithfulness": "04_attribution_and_sanity_checks.ipynb",
    "figures_network": "03_one_forward_many_backward_rules.ipynb",
    "figures_optimization": "05_optimising_the_input.ipynb",
    "figures_texture": "05_optimising_the_input.ipynb",
    "figures_embedding": "06_tsne_from_the_equations.ipynb",
    "figures_animation": "06_tsne_from_the_equations.ipynb",
}
#: Figures explained by another lesson than their module's.
NOTEBOOK_OF_FIGURE = {"linear_templates": "01_autodiff_from_scratch.ipynb", "mlp_lines": "01_autodiff_from_scratch.ipynb"}
NOTEBOOK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


def _root(node):
    """The first name of a call's function: ``methods`` for ``methods.gradcam(...)``."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _library_names(module):
    """The names in ``module`` bound to the library: its packages and what was imported from them."""
    def of_library(obj):
        name = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None) or ""
        return name.split(".")[0] in PACKAGES
    return {name for name, obj in vars(module).items() if of_library(obj)}


def _statements(fn):
    """(source, [(line, simple statement node)]) of ``fn``, nested statements included."""
    source = textwrap.dedent(inspect.getsource(fn))
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return)
    return source, sorted(((n.lineno, n) for n in ast.walk(ast.parse(source)) if isinstance(n, simple)),
                          key=lambda t: t[0])


def _roots(node):
    return {_root(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}


def library_calls(fn, _depth=1):
    """The simple statements of ``fn`` (in source order) that call the library, then those of the
    private helpers of its module that it calls; '' when the source cannot be read."""
    try:
        source, statements = _statements(fn)
    except (OSError, TypeError):
        return ""
    module = sys.modules[fn.__module__]
    library = _library_names(module)
    text = lambda n: textwrap.dedent(ast.get_source_segment(source, n, padded=True))  # noqa: E731
    shown = [text(n) for _, n in statements if _roots(n) & library]
    if not shown:  # computed with NumPy alone: its statements that do not plot
        shown = [text(n) for _, n in statements[1:] if not (_roots(n) & _PLOTTING or isinstance(n, ast.Return))]
    helpers = sorted({r for _, n in statements for r in _roots(n) if r and r.startswith("_")
                      and inspect.isfunction(getattr(module, r, None))})
    if _depth:
        for name in helpers:
            inner = library_calls(getattr(module, name), _depth - 1)
            if inner:
                shown.append(f"# in {name}:\n{inner}")
    return "\n".join(shown)


def notebook_for(fn):
    """The path of the notebook explaining ``fn``'s figure, or None when there is none on disk."""
    name = NOTEBOOK_OF_FIGURE.get(fn.__name__) or NOTEBOOKS.get(fn.__module__.rsplit(".", 1)[-1])
    path = os.path.join(NOTEBOOK_DIR, name) if name else None
    return path if path and os.path.exists(path) else None
