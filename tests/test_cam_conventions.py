"""Issue 32's CAM conventions: ``interpolate_mode`` (bilinear, nearest, bicubic) as PyTorch's
``interpolate`` and Captum's ``LayerAttribution.interpolate`` / ``GuidedGradCam``; Grad-CAM at a
layer with (N, K) outputs as Captum's ``LayerGradCam``; a layer the output does not depend on."""
import os
import sys
import warnings

import numpy as np
import pytest

import layers as L
import methods
from methods.upsample import INTERPOLATE_MODES, resize

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402
from gapnet_twins import gapnet_twins  # noqa: E402

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODES = ["bilinear", "nearest", "bicubic"]


def _interpolate(maps, size, mode):
    """PyTorch's resize of (..., h, w) maps, the reference every mode is held to."""
    t = torch.from_numpy(np.ascontiguousarray(maps))
    lead = t.shape[:-2]
    t = t.reshape(1, -1, *t.shape[-2:])  # interpolate wants (N, C, h, w)
    corners = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(t, size=size, mode=mode, **corners).reshape(*lead, *size).numpy()


def _close(ours, theirs, tol):
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


# --- the resize itself ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_each_mode_is_torchs_interpolate(mode, dtype, tol):
    """Up, down and to/from one pixel, on random maps; float32 stays float32 (torch computes its
    scales in float32 for float32 maps, hence the looser tolerance there)."""
    rng = np.random.default_rng(0)
    for h, w in [(1, 1), (1, 5), (2, 3), (4, 4), (5, 7), (6, 6), (13, 2)]:
        maps = rng.standard_normal((2, 3, h, w)).astype(dtype)
        for size in [(12, 12), (1, 1), (2 * h, 3 * w), (max(h // 2, 1), w + 1), (31, 9)]:
            ours = resize(maps, size, mode)
            assert ours.dtype == dtype
            _close(ours, _interpolate(maps, size, mode), tol)


def test_nearest_picks_torchs_pixel_where_the_float32_scale_rounds_down():
    """torch's nearest is floor(i * float32(n_in / n_out)): from 2 to 82 pixels, output 41 reads
    pixel 0 although 41 * 2 / 82 = 1 exactly; an exact-arithmetic floor would read pixel 1."""
    maps = np.array([[0.0, 1.0]])
    ours = resize(maps, (1, 82), "nearest")
    np.testing.assert_array_equal(ours, _interpolate(maps, (1, 82), "nearest"))
    assert ours[0, 41] == 0.0 and ours[0, 42] == 1.0


def test_bilinear_resize_is_resize_in_the_bilinear_mode():
    maps = np.random.default_rng(1).standard_normal((3, 5, 4))
    np.testing.assert_array_equal(methods.bilinear_resize(maps, (9, 7)), resize(maps, (9, 7)))
    np.testing.assert_array_equal(resize(maps, (9, 7)), resize(maps, (9, 7), "bilinear"))


def test_bicubic_overshoots_as_torch_does():
    """Keys' kernel has negative lobes: a nonnegative step resizes to values below 0 (in torch too),
    so a bicubic Grad-CAM map can dip below 0 after the ReLU."""
    step = np.zeros((4, 4))
    step[:, 2:] = 1.0
    up = resize(step, (4, 16), "bicubic")
    assert up.min() < -0.01 and up.max() > 1.01
    _close(up, _interpolate(step, (4, 16), "bicubic"), 1e-13)


# --- each CAM method in each mode -------------------------------------------------------------


def _captum():
    return pytest.importorskip("captum.attr")


@pytest.fixture(scope="module")
def nets():
    theirs, ours = gapnet_twins()
    x = np.random.default_rng(3).standard_normal((3, 3, 12, 12))
    return ours, theirs, x


@pytest.mark.parametrize("mode", MODES)
def test_gradcam_in_each_mode_is_captums_layer_gradcam_then_interpolate(nets, mode):
    attr = _captum()
    ours, theirs, x = nets
    gc = attr.LayerGradCam(theirs, theirs.features[4]).attribute(
        torch.tensor(x, requires_grad=True), target=torch.tensor(ref.TARGET), relu_attributions=True)
    expected = attr.LayerAttribution.interpolate(gc, (12, 12), interpolate_mode=mode)[:, 0].detach().numpy()
    _close(methods.gradcam(ours, x, ref.TARGET, ours.features[4], interpolate_mode=mode), expected, 1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_guided_gradcam_in_each_mode_is_captums(nets, mode):
    attr = _captum()
    ours, theirs, x = nets
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        expected = attr.GuidedGradCam(theirs, theirs.features[4]).attribute(
            torch.tensor(x, requires_grad=True), target=torch.tensor(ref.TARGET),
            interpolate_mode=mode).detach().numpy()
    _close(methods.guided_gradcam(ours, x, ref.TARGET, ours.features[4], interpolate_mode=mode), expected, 1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, call", [
    ("cam", lambda net, x, **kw: methods.cam(net, x, ref.TARGET, **kw)),
    ("gradcam_plus_plus", lambda net, x, **kw: methods.gradcam_plus_plus(net, x, ref.TARGET, net.features[4], **kw)),
])
def test_methods_captum_lacks_resize_their_layer_map_as_torch(nets, mode, name, call):
    """Captum has no CAM nor Grad-CAM++: their layer-resolution map, resized by torch's interpolate."""
    ours, _, x = nets
    at_layer = call(ours, x, upsample=False)
    assert at_layer.shape == (3, 6, 6)
    _close(call(ours, x, interpolate_mode=mode), _interpolate(at_layer, (12, 12), mode), 1e-13)


def test_the_default_mode_is_the_papers_bilinear(nets):
    ours, _, x = nets
    layer = ours.features[4]
    for fn, args in [(methods.gradcam, (layer,)), (methods.gradcam_plus_plus, (layer,)),
                     (methods.guided_gradcam, (layer,)), (methods.cam, ())]:
        np.testing.assert_array_equal(fn(ours, x, 1, *args), fn(ours, x, 1, *args, interpolate_mode="bilinear"))
    # and the modes do differ here, so the comparisons above can fail
    assert not np.allclose(methods.gradcam(ours, x, 1, layer), methods.gradcam(ours, x, 1, layer,
                                                                                  interpolate_mode="nearest"))


@pytest.mark.parametrize("call", [
    lambda net, x, mode: methods.gradcam(net, x, 1, net.features[4], interpolate_mode=mode),
    lambda net, x, mode: methods.gradcam_plus_plus(net, x, 1, net.features[4], interpolate_mode=mode),
    lambda net, x, mode: methods.guided_gradcam(net, x, 1, net.features[4], interpolate_mode=mode),
    lambda net, x, mode: methods.cam(net, x, 1, interpolate_mode=mode),
    lambda net, x, mode: methods.gradcam(net, x, 1, net.features[4], upsample=False, interpolate_mode=mode),
    lambda net, x, mode: resize(x[0], (4, 4), mode),
], ids=["gradcam", "gradcam_plus_plus", "guided_gradcam", "cam", "gradcam upsample=False", "resize"])
@pytest.mark.parametrize("mode", ["linear", "Bilinear", "area", None])
def test_an_unknown_mode_is_refused_naming_the_argument(nets, call, mode):
    ours, _, x = nets
    with pytest.raises(ValueError, match=r"interpolate_mode: expected one of 'bilinear', 'nearest', 'bicubic', "
                                         rf"got {mode!r}"):
        call(ours, x, mode)
    assert INTERPOLATE_MODES == ("bilinear", "nearest", "bicubic")


# --- Grad-CAM at a layer with (N, K) outputs -----------------------------------------------------


def _captums_basic_multilayer(unused_relu=False):
    """Captum's BasicModel_MultiLayer (tests/helpers/basic_models.py) in minigrad's layers: linear0
    the identity, linear1 ones with bias (-10, 1, 1, 1), relu, linear2 ones with bias (-1, 1). With
    ``unused_relu`` (Captum's multi_input_module=True), relu runs on linear1's output, which is then
    discarded: the output does not depend on it."""
    class MultiLayer(L.Module):
        def __init__(self):
            self.flatten = L.Flatten()
            self.linear0, self.linear1, self.linear2 = L.Linear(3, 3), L.Linear(3, 4), L.Linear(4, 2)
            self.relu = L.ReLU()
            self.linear0.weight.data[:], self.linear0.bias.data[:] = np.eye(3), 0
            self.linear1.weight.data[:], self.linear1.bias.data[:] = 1, [-10, 1, 1, 1]
            self.linear2.weight.data[:], self.linear2.bias.data[:] = 1, [-1, 1]

        def forward(self, x):
            h = self.linear1(self.linear0(self.flatten(x)))
            if unused_relu:
                self.relu(h)
                return self.linear2(h * 2)  # Captum's relu_out1 + relu_out2, with no ReLU on the path
            return self.linear2(self.relu(h))

    return MultiLayer()


def test_gradcam_at_a_linear_layer_as_captums_test_simple_input_non_conv():
    """Captum's tests/attr/layer/test_grad_cam.py::test_simple_input_non_conv: input (0, 100, 0),
    layer linear0, target 0 -> 400 (Captum's shape (1, 1); here (1,), one value per sample)."""
    net = _captums_basic_multilayer()
    x = np.array([0.0, 100.0, 0.0]).reshape(1, 1, 1, 3)
    np.testing.assert_allclose(methods.gradcam(net, x, 0, net.linear0), [400.0], atol=0.01)
    np.testing.assert_allclose(methods.gradcam(net, x, 0, net.linear0, relu=False, upsample=False), [400.0],
                               atol=0.01)
    assert methods.gradcam(net, x[0], 0, net.linear0).shape == ()  # a single image: no batch axis


def test_gradcam_at_mlp_layers_is_captums_layer_gradcam():
    attr = _captum()
    net = L.MLP((6, 5, 4, 3), seed=0)
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4),
                                 torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((5, 1, 1, 6))
    target = [0, 2, 1, 1, 2]
    for i in (1, 2, 3, 4):  # Linear, ReLU, Linear, ReLU
        for relu in (False, True):
            expected = attr.LayerGradCam(theirs, theirs[i]).attribute(
                torch.tensor(x, requires_grad=True), target=torch.tensor(target), relu_attributions=relu)
            assert expected.shape == (5, 1)
            ours = methods.gradcam(net, x, target, net[i], relu=relu)
            _close(ours, expected[:, 0].detach().numpy(), 1e-12)
            if not relu:
                assert (ours < 0).any()  # so relu=True is a real check


def test_a_layer_the_output_does_not_depend_on_gives_zeros_as_captums_unused_layer_test():
    """Captum's test_grad_cam.py::test_relu_gradcam_with_unused_layer (materialize_grads=True):
    input (0, 6, 0), layer relu run and discarded -> 0 for the sample."""
    net = _captums_basic_multilayer(unused_relu=True)
    x = np.array([0.0, 6.0, 0.0]).reshape(1, 1, 1, 3)
    ours = methods.gradcam(net, x, 0, net.relu, relu=False)
    np.testing.assert_array_equal(ours, [0.0])
    assert methods.gradcam(net, x, 0, net.linear1, relu=False)[0] != 0  # the used layer before it is not 0


def test_an_unused_conv_layer_gives_zero_maps():
    class Branch(L.Module):
        def __init__(self):
            self.net = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=0)
            self.side = L.Conv2d(3, 2, 3, padding=1)

        def forward(self, x):
            self.side(x)
            return self.net(x)

    model = Branch()
    x = np.random.default_rng(5).standard_normal((2, 3, 12, 12))
    for mode in MODES:
        np.testing.assert_array_equal(methods.gradcam(model, x, 1, model.side, interpolate_mode=mode),
                                      np.zeros((2, 12, 12)))
    assert np.abs(methods.gradcam(model, x, 1, model.net.features[4], relu=False)).max() > 0


def test_captum_itself_gives_zeros_at_the_unused_layer():
    attr = _captum()

    class MultiLayer(torch.nn.Module):  # Captum's BasicModel_MultiLayer(multi_input_module=True), shortened
        def __init__(self):
            super().__init__()
            self.linear1 = torch.nn.Linear(3, 4).double()
            self.relu = torch.nn.ReLU()
            self.linear2 = torch.nn.Linear(4, 2).double()

        def forward(self, x):
            h = self.linear1(x)
            self.relu(h)
            return self.linear2(h)

    theirs = MultiLayer()
    got = attr.LayerGradCam(theirs, theirs.relu).attribute(
        torch.tensor([[0.0, 6.0, 0.0]], dtype=torch.float64, requires_grad=True), target=0,
        grad_kwargs={"materialize_grads": True})
    np.testing.assert_array_equal(got.detach().numpy(), [[0.0]])


@pytest.mark.parametrize("fn", [methods.gradcam_plus_plus, methods.guided_gradcam])
def test_only_gradcam_takes_an_n_k_layer(fn):
    net = _captums_basic_multilayer()
    with pytest.raises(ValueError, match=r"layer: expected a layer with \(N, K, h, w\) outputs, got \(1, 3\)"):
        fn(net, np.ones((1, 1, 1, 3)), 0, net.linear0)


def test_a_layer_that_did_not_run_is_named():
    model = _captums_basic_multilayer()
    model.extra = L.ReLU()  # a module of the model that its forward never calls
    with pytest.raises(ValueError, match="layer: ReLU did not run in the model's forward pass"):
        methods.gradcam(model, np.ones((1, 1, 1, 3)), 0, model.extra)
