"""Captum's display modes (demos/attribution_display.py, issue #29): the normalised map equals
Captum 0.9's ``_normalize_attr`` live, and every mode and sign draws the same pixel arrays as
Captum's ``visualize_image_attr`` given the same data in its (H, W, C) layout."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from demos.attribution_display import DISPLAYS, SIGNS, normalized_attribution, visualize_image_attr  # noqa: E402

RNG = np.random.default_rng(0)
IMAGE = RNG.uniform(0, 1, (3, 12, 10))
ATTR = RNG.standard_normal((3, 12, 10))
ATTR[:, 2:5, 3:7] = 0.0  # a region of no attribution: masked and alpha-scaled to nothing


def _captum_visualization():
    pytest.importorskip("torch")
    return pytest.importorskip("captum.attr._utils.visualization")


@pytest.mark.parametrize("sign", SIGNS)
@pytest.mark.parametrize("outlier_perc", [0, 2, 10.5])
def test_normalized_map_equals_captums(sign, outlier_perc):
    captum = _captum_visualization()
    for attr in (ATTR, ATTR[0]):
        flat = attr.sum(axis=0) if attr.ndim == 3 else attr
        expected = captum._normalize_attr(flat, sign, outlier_perc)
        got = normalized_attribution(attr, sign, outlier_perc)
        assert got.shape == flat.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    if sign != "all":
        assert got.min() >= 0 and np.isclose(got.max(), 1)
    assert np.sum(np.abs(got) == 1) >= 1  # the largest values saturate


def test_a_map_without_values_of_the_sign_is_zero():
    assert np.array_equal(normalized_attribution(-np.abs(ATTR[0]), "positive"), np.zeros(ATTR[0].shape))


def _drawn(ax):
    return [np.asarray(im.get_array()) for im in ax.images]


@pytest.mark.parametrize("method", DISPLAYS)
@pytest.mark.parametrize("sign", SIGNS)
def test_each_mode_draws_captums_pixels(method, sign):
    captum = _captum_visualization()
    if method in ("masked_image", "alpha_scaling") and sign == "all":
        with pytest.raises(ValueError, match="sign"):
            visualize_image_attr(ATTR, IMAGE, method=method, sign=sign)
        return
    fig, ax = visualize_image_attr(ATTR, IMAGE, method=method, sign=sign)
    their_fig, their_ax = captum.visualize_image_attr(ATTR.transpose(1, 2, 0), IMAGE.transpose(1, 2, 0),
                                                      method=method, sign=sign, use_pyplot=False)
    ours, theirs = _drawn(ax), _drawn(their_ax)
    assert len(ours) == len(theirs)
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine, their, rtol=0, atol=1e-12)
    norm = normalized_attribution(ATTR, sign)
    zero = ATTR.sum(axis=0) == 0
    if method == "masked_image":
        assert np.all(ours[0][zero] == 0) and ours[0][~zero].max() > 0
    if method == "alpha_scaling":
        assert ours[0].shape == IMAGE.shape[1:] + (4,)
        assert np.all(ours[0][zero, 3] == 0) and np.array_equal(ours[0][..., 3], (norm * 255).astype(int))
    if method in ("heat_map", "blended_heat_map"):
        np.testing.assert_array_equal(ours[-1], norm)
        assert ax.images[-1].get_clim() == ((-1, 1) if sign == "all" else (0, 1))
        assert ax.images[-1].get_alpha() == (0.5 if method == "blended_heat_map" else None)
    if method == "original_image":
        np.testing.assert_array_equal(ours[0], (IMAGE.transpose(1, 2, 0) * 255).astype(int))
    plt.close(fig)
    plt.close(their_fig)


def test_masked_image_renders_black_where_the_attribution_is_zero():
    attr = np.zeros((8, 8))
    attr[:, 4:] = 1.0
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    ax.set_position([0, 0, 1, 1])
    visualize_image_attr(attr, np.ones((3, 8, 8)), method="masked_image", sign="positive", ax=ax)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    w = pixels.shape[1]
    assert np.all(pixels[5:-5, 5:w // 2 - 5] == 0) and np.all(pixels[5:-5, w // 2 + 5:-5] == 255)
    plt.close(fig)


def test_draws_into_the_given_axes_or_a_new_figure():
    fig, ax = plt.subplots()
    assert visualize_image_attr(ATTR[0], ax=ax, title="map", show_colorbar=True) == (fig, ax)
    assert ax.get_title() == "map" and len(fig.axes) == 2  # the map and its colour bar
    new_fig, new_ax = visualize_image_attr(ATTR[0], IMAGE[:1], method="blended_heat_map")
    assert new_fig is not fig and len(new_ax.images) == 2
    plt.close(fig)
    plt.close(new_fig)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(sign="abs"), "sign"),
    (dict(method="heatmap"), "method"),
    (dict(method="blended_heat_map", original_image=None), "original_image"),
    (dict(original_image=IMAGE.transpose(1, 2, 0)), r"original_image.*\(H, W, C\)"),
    (dict(attr=ATTR.transpose(1, 2, 0)), r"attr.*\(H, W, C\)"),
    (dict(outlier_perc=100), "outlier_perc"),
    (dict(alpha_overlay=1.5), "alpha_overlay"),
])
def test_bad_arguments_are_refused_by_name(kwargs, fragment):
    call = dict(attr=ATTR, original_image=IMAGE, method="heat_map", sign="absolute_value")
    call.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        visualize_image_attr(**call)
