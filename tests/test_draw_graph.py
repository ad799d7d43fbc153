"""``minigrad.draw_graph`` (issue #28): the graph behind a tensor, drawn with matplotlib."""
import io

import numpy as np
import pytest
from PIL import Image

import layers as L
import minigrad as mg


def _small_graph():
    rng = np.random.default_rng(0)
    conv = L.Conv2d(1, 2, 3, padding=1, rng=rng)
    x = mg.Tensor(rng.standard_normal((1, 1, 5, 5)), requires_grad=True)
    h = mg.relu(conv(x))
    return x, (mg.max_pool2d(h, 2) * 2.0).sum()


def test_svg_names_every_op_its_layer_and_the_swapped_rule(tmp_path):
    x, y = _small_graph()
    with mg.rules(relu="guided"):
        mg.draw_graph(y, tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    for op in ("conv2d", "relu", "max_pool2d", "mul", "sum"):
        assert f">{op}" in svg, op
    assert "in Conv2d" in svg and "Conv2d.weight" in svg and "Conv2d.bias" in svg
    assert "(1, 2, 5, 5) float64" in svg
    assert "backward: guided" in svg
    mg.draw_graph(y, tmp_path / "plain.svg")  # outside the block: the op's own backward, no mark
    assert "backward:" not in (tmp_path / "plain.svg").read_text()


def test_png_decodes_and_is_not_blank_and_shows_the_gradient_once_computed(tmp_path):
    x, y = _small_graph()
    y.backward(retain_graph=True)
    fig = mg.draw_graph(y, tmp_path / "g.png")
    image = np.asarray(Image.open(tmp_path / "g.png").convert("L"), dtype=float)
    assert image.shape[0] > 100 and image.std() > 5  # boxes and arrows drawn on white
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(f"|g|max {np.abs(x.grad).max():.3g}" in t for t in texts)


def test_a_freed_graph_and_bad_arguments_are_refused(tmp_path):
    x, y = _small_graph()
    with pytest.raises(TypeError, match="tensor: expected a minigrad.Tensor"):
        mg.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match=r"path: expected None or a file name ending in \.svg or \.png"):
        mg.draw_graph(y, tmp_path / "g.pdf")
    assert list(tmp_path.iterdir()) == []  # nothing written
    y.backward()
    with pytest.raises(ValueError, match="retain_graph=True"):
        mg.draw_graph(y)


def test_names_label_leaves_and_results():
    x, y = _small_graph()
    texts = [t.get_text() for t in mg.draw_graph(y, names={x: "image", y: "loss"}).axes[0].texts]
    assert any(t.startswith("image (requires_grad)") for t in texts)
    assert any(t.startswith("loss\nsum") for t in texts)
    with pytest.raises(TypeError, match="names: expected a dict Tensor -> label"):
        mg.draw_graph(y, names={"x": "image"})


def test_without_a_path_it_returns_the_figure_and_writes_nothing():
    _, y = _small_graph()
    buf = io.BytesIO()
    mg.draw_graph(y).savefig(buf, format="png")
    assert Image.open(buf).size[0] > 100
