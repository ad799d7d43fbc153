"""Each gallery figure shows the code that made it (issue #28): the library calls of its figure
function, read from the source, and a link to the lesson that explains it."""
import os

from demos import figure_code, figures_attribution, figures_optimization, page
from demos.figure import Figure
from demos.gallery import SECTIONS


def test_the_library_calls_of_a_figure_function_are_read_from_its_source():
    code = figure_code.library_calls(figures_attribution.occlusion)
    assert code.startswith("maps = methods.occlusion(net, x, y, window=window")
    assert "plots." not in code and "Figure(" not in code  # plotting and captions left out
    grid = figure_code.library_calls(figures_attribution.attribution_grid)
    for call in ("methods.saliency(", "methods.gradcam(", "methods.lrp(", "relevance.gamma("):
        assert call in grid
    assert grid.splitlines()[1].startswith('    ("saliency"')  # continuation lines dedented with the statement


def test_every_figure_function_shows_some_code_and_has_a_lesson():
    for _, _, fns in SECTIONS:
        for fn in fns:
            assert figure_code.library_calls(fn), fn.__name__
            assert fn.__module__.rsplit(".", 1)[-1] in figure_code.NOTEBOOKS, fn.__module__


def test_the_page_folds_the_code_under_the_figure_and_links_the_lesson(tmp_path):
    fn = figures_optimization.FIGURES[0]
    fig = Figure("a.png", "A figure", "caption", code=figure_code.library_calls(fn),
                 notebook=str(tmp_path / "notebooks" / "05_optimising_the_input.ipynb"))
    path = str(tmp_path / "gallery" / "index.html")
    os.makedirs(os.path.dirname(path))
    page.write(path, "t", {}, [("s", "l", [fig], [])])
    html = open(path).read()
    assert '<details class="code"><summary>The code behind it</summary>' in html
    assert "methods." in html.split('<details class="code">')[1]
    assert 'href="../notebooks/05_optimising_the_input.ipynb"' in html
