"""Methods: identities from the papers, and bilinear resizing against PyTorch."""
import numpy as np
import pytest

import layers as L
import methods


@pytest.fixture(scope="module")
def linear_model():
    """A linear classifier on (1, 4, 5) images: score_c = <w_c, x> + b_c."""
    return L.Sequential(L.Flatten(), L.Linear(20, 3, rng=0))


@pytest.fixture(scope="module")
def gapnet():
    return L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=0)


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_gradient_identities_on_a_linear_model(linear_model):
    x = images((2, 1, 4, 5))
    w = linear_model[1].weight.data
    target = [2, 0]
    g = methods.gradient(linear_model, x, target)
    np.testing.assert_allclose(g, w[target].reshape(2, 1, 4, 5), rtol=1e-12)
    np.testing.assert_allclose(methods.input_x_gradient(linear_model, x, target), x * g, rtol=1e-12)
    np.testing.assert_allclose(methods.saliency(linear_model, x, 1), np.abs(w[1]).reshape(4, 5)[None].repeat(2, 0))
    single = methods.gradient(linear_model, x[0], 2)  # a single image gives a single result
    np.testing.assert_allclose(single, g[0])


def test_guided_and_deconvnet_equal_the_gradient_without_relu():
    net = L.Sequential(L.Conv2d(2, 3, 3, rng=0), L.MaxPool2d(2), L.Flatten(), L.Linear(12, 2, rng=1))
    x = images((2, 2, 6, 6))
    g = methods.gradient(net, x, 1)
    np.testing.assert_allclose(methods.guided_backprop(net, x, 1), g, rtol=1e-12)
    np.testing.assert_allclose(methods.deconvnet(net, x, 1), g, rtol=1e-12)


def test_guided_backprop_differs_from_the_gradient_on_a_relu_network(gapnet):
    x = images((2, 3, 12, 12))
    plain = methods.gradient(gapnet, x, 1)
    guided = methods.guided_backprop(gapnet, x, 1)
    assert guided.shape == plain.shape and not np.allclose(guided, plain)


def test_gradcam_equals_cam_up_to_a_positive_constant_on_a_gap_network(gapnet):
    x = images((3, 3, 12, 12))
    target = [0, 3, 1]
    layer = gapnet.features[-1]
    c = methods.cam(gapnet, x, target, upsample=False)
    gc = methods.gradcam(gapnet, x, target, layer, relu=False, upsample=False)
    h, w = c.shape[1:]
    np.testing.assert_allclose(gc * h * w, c, rtol=1e-10, atol=1e-12)
    up = methods.gradcam(gapnet, x, target, layer)
    assert up.shape == (3, 12, 12) and up.min() >= 0
    np.testing.assert_allclose(up, methods.bilinear_resize(np.maximum(gc, 0), (12, 12)))


def test_guided_gradcam_is_guided_backprop_times_the_map(gapnet):
    x = images((2, 3, 12, 12))
    layer = gapnet.features[-1]
    gg = methods.guided_gradcam(gapnet, x, 2, layer)
    expected = methods.guided_backprop(gapnet, x, 2) * methods.gradcam(gapnet, x, 2, layer)[:, None]
    np.testing.assert_allclose(gg, expected, rtol=1e-12)


def test_occlusion_with_a_1x1_window_on_a_linear_model(linear_model):
    x = images((2, 1, 4, 5))
    w = linear_model[1].weight.data.reshape(3, 1, 4, 5)
    occ = methods.occlusion(linear_model, x, [1, 2], window=1, baseline=0.5)
    np.testing.assert_allclose(occ, (w[[1, 2]] * (x - 0.5)).sum(axis=1), rtol=1e-10)


def test_occlusion_averages_over_covering_windows(linear_model):
    x = images((1, 1, 4, 5))
    w = linear_model[1].weight.data[0].reshape(4, 5)
    occ = methods.occlusion(linear_model, x[0], 0, window=2, stride=1, batch_size=3)
    drop = w * x[0, 0]
    expected = np.zeros((4, 5))
    count = np.zeros((4, 5))
    for i in range(3):
        for j in range(4):
            expected[i:i + 2, j:j + 2] += drop[i:i + 2, j:j + 2].sum()
            count[i:i + 2, j:j + 2] += 1
    np.testing.assert_allclose(occ, expected / count, rtol=1e-10)


def test_occlusion_refuses_a_stride_larger_than_the_window(linear_model):
    """Issue 32: window 1, stride 2 left 3 of 4 rows and columns never occluded (0 / 0 = NaN there)."""
    x = images((1, 1, 4, 5))
    with pytest.raises(ValueError, match=r"stride: expected at most the window \(1, 1, 1\) .* got \(1, 2, 2\)"):
        methods.occlusion(linear_model, x, 0, window=1, stride=2)
    with pytest.raises(ValueError, match="stride"):
        methods.occlusion(linear_model, x, 0, window=(2, 2), stride=(1, 3))
    # a window spanning a whole axis may take any stride along it (one position), as in Captum:
    # window (4, 1) occludes one column at a time, and each pixel gets its column's drop
    w = linear_model[1].weight.data[0].reshape(4, 5)
    occ = methods.occlusion(linear_model, x, 0, window=(4, 1), stride=(9, 1), baseline=0.5)
    drop = (w * (x[0, 0] - 0.5)).sum(axis=0)
    np.testing.assert_allclose(occ[0], np.broadcast_to(drop, (4, 5)), rtol=1e-10)


def test_guided_gradcam_without_upsampling(gapnet):
    """Issue 32: upsample=False was ignored. At a layer of the input's resolution (the first ReLU, 12x12)
    it multiplies by the map as it is; another layer's map cannot be multiplied pixel by pixel."""
    x = images((2, 3, 12, 12))
    full = gapnet.features[1]
    gg = methods.guided_gradcam(gapnet, x, 2, full, upsample=False)
    expected = methods.guided_backprop(gapnet, x, 2) * methods.gradcam(gapnet, x, 2, full, upsample=False)[:, None]
    np.testing.assert_allclose(gg, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"upsample: .* input's size 12x12 .* got a 6x6 output from ReLU"):
        methods.guided_gradcam(gapnet, x, 2, gapnet.features[4], upsample=False)


@pytest.mark.parametrize("name, method", [
    ("gradient", methods.gradient), ("saliency", methods.saliency), ("input_x_gradient", methods.input_x_gradient),
    ("guided_backprop", methods.guided_backprop), ("deconvnet", methods.deconvnet), ("cam", methods.cam),
    ("gradcam", lambda m, x, t: methods.gradcam(m, x, t, m.features[4])),
    ("gradcam_plus_plus", lambda m, x, t: methods.gradcam_plus_plus(m, x, t, m.features[4])),
    ("guided_gradcam", lambda m, x, t: methods.guided_gradcam(m, x, t, m.features[4])),
    ("integrated_gradients", lambda m, x, t: methods.integrated_gradients(m, x, t, n_steps=4)),
    ("smoothgrad", lambda m, x, t: methods.smoothgrad(methods.gradient, m, x, t, n_samples=2)),
    ("occlusion", lambda m, x, t: methods.occlusion(m, x, t, window=4, stride=4)),
    ("lrp", methods.lrp), ("excitation_backprop", methods.excitation_backprop),
])
def test_a_one_element_target_applies_to_the_whole_batch(gapnet, name, method):
    """Issue 32: [c] (as Captum's one-element tensor) is the class c for every sample; only
    integrated_gradients accepted it before."""
    x = images((3, 3, 12, 12))
    expected = method(gapnet, x, 2)
    np.testing.assert_array_equal(method(gapnet, x, [2]), expected)
    np.testing.assert_array_equal(method(gapnet, x, np.array([2])), expected)


def test_a_unit_of_a_layer_as_the_target(gapnet):
    """The gradient of one feature cell A^k_ij (lecture 000): a truncated model and a callable target."""
    trunk = gapnet.features[:3]
    x = images((1, 3, 12, 12))
    g = methods.gradient(trunk, x, lambda out: out[:, 2, 1, 1])
    # pool cell (1, 1) covers conv rows/cols 2..3, whose 3x3 windows (padding 1) read input 1..4
    support = np.argwhere(np.abs(g[0]).sum(axis=0) > 0)
    assert len(support) > 0 and support.min() >= 1 and support.max() <= 4


def test_bilinear_resize_matches_pytorch():
    torch = pytest.importorskip("torch")
    maps = images((2, 5, 7))
    for size in ((12, 12), (20, 9), (5, 7), (3, 4)):
        ref = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=size, mode="bilinear",
                                              align_corners=False)[:, 0].numpy()
        np.testing.assert_allclose(methods.bilinear_resize(maps, size), ref, rtol=1e-12, atol=1e-12)


def test_bad_input_raises_clear_errors(gapnet, linear_model):
    x = images((2, 3, 12, 12))
    with pytest.raises(ValueError, match="is not a layer of this model"):
        methods.gradcam(gapnet, x, 0, L.ReLU())
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 4\)"):
        methods.gradient(gapnet, x, 4)
    with pytest.raises(ValueError, match="larger than the input"):
        methods.occlusion(gapnet, x, 0, window=13)
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d \(or AdaptiveAvgPool2d\(1\)\) followed by one Linear"):
        methods.cam(linear_model, images((1, 1, 4, 5)), 0)
    with pytest.raises(ValueError, match=r"expected a batch \(N, C, H, W\)"):
        methods.gradient(gapnet, images((3, 12)), 0)
    with pytest.raises(ValueError, match="NaN or inf"):
        methods.saliency(gapnet, np.full((1, 3, 12, 12), np.nan), 0)
    with pytest.raises(ValueError, match="expected a class index or 2 integer indices"):
        methods.gradient(gapnet, x, [1, 2, 3])


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
                                  "riemann_trapezoid"])
def test_integrated_gradients_on_a_linear_model(linear_model, rule):
    x = images((2, 1, 4, 5))
    w = linear_model[1].weight.data.reshape(3, 1, 4, 5)
    ig = methods.integrated_gradients(linear_model, x, [0, 2], baseline=0.3, n_steps=7, method=rule)
    np.testing.assert_allclose(ig, (x - 0.3) * w[[0, 2]], rtol=1e-10)


def test_integrated_gradients_completeness_on_a_cnn(gapnet):
    from minigrad import Tensor

    def check(net, x, target, bound):
        ig, delta = methods.integrated_gradients(net, x, target, return_convergence_delta=True)
        out = net(Tensor(x)).data - net(Tensor(np.zeros_like(x))).data
        f = out[np.arange(len(x)), target]
        np.testing.assert_allclose(ig.reshape(len(x), -1).sum(axis=1) + delta, f, rtol=1e-10)
        ratio = np.abs(delta / f).max()
        assert ratio < bound
        return ratio

    # a smooth CNN: 50 Gauss-Legendre points integrate it almost exactly
    smooth = L.Sequential(L.Conv2d(3, 6, 3, padding=1, rng=0), L.Tanh(), L.AvgPool2d(2),
                          L.Conv2d(6, 8, 3, padding=1, rng=1), L.Tanh(), L.GlobalAvgPool2d(), L.Linear(8, 4, rng=2))
    x = images((3, 3, 12, 12))
    r_smooth = check(smooth, x, [0, 1, 2], 1e-3)
    # with ReLU and max-pool kinks the integrand is only piecewise smooth: a looser bound
    r_relu = check(gapnet, x, [0, 1, 2], 5e-3)
    print(f"IG completeness |delta| / |f(x) - f(x')|: tanh CNN {r_smooth:.1e}, ReLU GAP CNN {r_relu:.1e}")


def test_smoothgrad_identities(linear_model, gapnet):
    x = images((2, 1, 4, 5))
    w = linear_model[1].weight.data[1].reshape(1, 4, 5)
    # the gradient of a linear model does not depend on x: noise changes nothing
    np.testing.assert_allclose(methods.smoothgrad(methods.gradient, linear_model, x, 1, n_samples=5),
                               np.broadcast_to(w, (2, 1, 4, 5)), rtol=1e-12)
    np.testing.assert_allclose(methods.smoothgrad(methods.gradient, linear_model, x, 1, n_samples=5,
                                                  kind="smoothgrad_sq"), np.broadcast_to(w * w, (2, 1, 4, 5)))
    assert np.abs(methods.smoothgrad(methods.gradient, linear_model, x, 1, n_samples=5, kind="vargrad")).max() < 1e-12
    xc = images((2, 3, 12, 12))
    np.testing.assert_allclose(methods.smoothgrad(methods.saliency, gapnet, xc, 0, n_samples=3, noise_level=0.0),
                               methods.saliency(gapnet, xc, 0), rtol=1e-12)
    a = methods.smoothgrad(methods.guided_backprop, gapnet, xc, 0, n_samples=4, seed=3)
    b = methods.smoothgrad(methods.guided_backprop, gapnet, xc, 0, n_samples=4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, methods.smoothgrad(methods.guided_backprop, gapnet, xc, 0, n_samples=4, seed=4))
    with pytest.raises(ValueError, match="kind"):
        methods.smoothgrad(methods.gradient, gapnet, xc, 0, kind="mean")
    with pytest.raises(ValueError, match="method: expected one of"):
        methods.integrated_gradients(gapnet, xc, 0, method="simpson")


def test_gradcam_plus_plus_on_a_gap_network_matches_the_closed_form(gapnet):
    """On GAP -> Linear, dy_c/dA^k_ij = W_ck / (h w) everywhere: the paper's weights in closed form."""
    x = images((2, 3, 12, 12))
    layer = gapnet.features[-1]
    target = [1, 3]
    ours = methods.gradcam_plus_plus(gapnet, x, target, layer, upsample=False)
    A = methods.activations(gapnet, x, layer)
    h, w = A.shape[2:]
    g = gapnet.fc.weight.data[target][:, :, None, None] / (h * w) * np.ones_like(A)
    denom = 2 * g ** 2 + A.sum(axis=(2, 3), keepdims=True) * g ** 3
    alpha = np.where(denom != 0, g ** 2 / np.where(denom != 0, denom, 1), 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(2, 3))
    expected = np.maximum(np.einsum("nk,nkij->nij", weights, A), 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)
    assert methods.gradcam_plus_plus(gapnet, x, target, layer).shape == (2, 12, 12)
