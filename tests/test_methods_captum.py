"""Methods against Captum, from the stored fixtures always and live when Captum imports."""
import importlib.util
import os
import sys
import warnings

import numpy as np
import pytest

import layers as L
import methods

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402
from gapnet_twins import gapnet_twins  # noqa: E402

TOL = 1e-8


@pytest.fixture(scope="module", params=["fixture", "live"])
def case(request):
    if request.param == "fixture":
        with np.load(ref.FIXTURE) as f:
            c = {k: f[k] for k in f.files}
    else:
        if importlib.util.find_spec("captum") is None or importlib.util.find_spec("torch") is None:
            pytest.skip("captum is not installed: live comparison skipped (the fixtures still ran)")
        c = ref.captum_cases()
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8))
    net.load_state_dict({k[6:]: v for k, v in c.items() if k.startswith("state.")})
    return net, c


def close(ours, theirs, tol=TOL):
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


@pytest.mark.parametrize("name, fn", [
    ("gradient", methods.gradient), ("input_x_gradient", methods.input_x_gradient),
    ("guided_backprop", methods.guided_backprop), ("deconvnet", methods.deconvnet),
])
def test_input_attributions(case, name, fn):
    net, c = case
    close(fn(net, c["x"], ref.TARGET), c[name])


def test_saliency_is_the_channel_max_of_captums_absolute_gradient(case):
    net, c = case
    close(methods.saliency(net, c["x"], ref.TARGET), c["saliency_abs"].max(axis=1))


def test_gradcam_and_guided_gradcam(case):
    net, c = case
    layer = net.features[4]
    close(methods.gradcam(net, c["x"], ref.TARGET, layer, upsample=False), c["gradcam_layer"])
    close(methods.gradcam(net, c["x"], ref.TARGET, layer), c["gradcam_up"])
    close(methods.guided_gradcam(net, c["x"], ref.TARGET, layer), c["guided_gradcam"])


def test_occlusion(case):
    net, c = case
    # Captum returns occlusion maps in float32 whatever the input dtype
    assert c["occlusion"].dtype == np.float32
    close(methods.occlusion(net, c["x"], ref.TARGET, **ref.OCCLUSION), c["occlusion"], tol=1e-6)


def test_integrated_gradients(case):
    net, c = case
    close(methods.integrated_gradients(net, c["x"], ref.TARGET), c["integrated_gradients"])
    # Captum's trapezoid rule uses steps of 1/n (weights summing to (n-1)/n); ours are the rule's
    # 1/(n-1). Its points come from torch.linspace in float32, hence 1e-7.
    ours = methods.integrated_gradients(net, c["x"], ref.TARGET, baseline=0.1, n_steps=20,
                                        method="riemann_trapezoid", internal_batch_size=7)
    close(ours * 19 / 20, c["integrated_gradients_trapezoid"], tol=1e-7)


def test_lrp_with_captums_default_and_per_layer_rules(case):
    from minigrad import relevance

    net, c = case
    r, delta = methods.lrp(net, c["x"], ref.TARGET, return_convergence_delta=True)
    close(r, c["lrp_epsilon"])
    close(delta, c["lrp_epsilon_delta"])
    torch_path = {"features.0": net.features[0], "features.3": net.features[3], "fc": net.fc}
    make = {"gamma": relevance.gamma, "epsilon": relevance.epsilon, "alpha1beta0": lambda _: "alpha1beta0"}
    chosen = {torch_path[p]: make[rule](arg) for p, (rule, arg) in ref.LRP_MIXED.items()}
    r, delta = methods.lrp(net, c["x"], ref.TARGET, layer_rules=chosen, return_convergence_delta=True)
    close(r, c["lrp_mixed"])
    close(delta, c["lrp_mixed_delta"])


# Issue 32, live against Captum (its own toy cases), skipped without Captum.

def _captum():
    torch = pytest.importorskip("torch")
    return torch, pytest.importorskip("captum.attr")


def _leaf(x):
    """A torch leaf that requires grad (Captum warns when it must set that itself)."""
    import torch

    return torch.tensor(x, requires_grad=True)


def test_lrp_at_a_skip_connection_as_captums_test_lrp_skip_connection():
    from test_relevance import SkipConnection

    torch, attr = _captum()
    from captum.attr._utils.lrp_rules import EpsilonRule

    class Addition(torch.nn.Module):
        def forward(self, a, b):
            return a + b

    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2, bias=False)
            self.linear.weight.data.fill_(5)
            self.add = Addition()

        def forward(self, x):
            return self.add(self.linear(x), x)

    theirs = Skip().double()
    theirs.add.rule = EpsilonRule()
    expected = attr.LRP(theirs).attribute(_leaf(np.array([[2.0, 3.0]])), target=1)
    np.testing.assert_allclose(expected.detach().numpy(), [[10.0, 18.0]])  # Captum's hard-coded value
    ours = methods.lrp(SkipConnection(), np.array([[[[2.0, 3.0]]]]), 1)
    close(ours.reshape(1, 2), expected.detach().numpy())


def test_lrp_through_a_sigmoid_equals_captums_identity_rule():
    """Captum refuses a Sigmoid without a rule; given its IdentityRule (relevance passes), it agrees."""
    from test_relevance import linear_then

    torch, attr = _captum()
    from captum.attr._utils.lrp_rules import IdentityRule

    w = np.array([[1.0, 2.0, -0.5], [0.3, -1.0, 2.0]])
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Sigmoid()).double()
    theirs[0].weight.data = torch.from_numpy(w)
    x = np.random.default_rng(0).random((4, 3))
    with pytest.raises(TypeError, match="Sigmoid"):
        attr.LRP(theirs).attribute(_leaf(x), target=1)
    theirs[1].rule = IdentityRule()
    expected = attr.LRP(theirs).attribute(_leaf(x), target=1).detach().numpy()
    close(methods.lrp(linear_then(L.Sigmoid(), w), x[:, None, None], 1).reshape(4, 3), expected)


def test_occlusion_refuses_a_stride_larger_than_the_window_as_captum_does():
    torch, attr = _captum()
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 3)).double()
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 5))
    with pytest.raises(AssertionError, match="Stride dimension"):
        attr.Occlusion(net).attribute(torch.from_numpy(x), sliding_window_shapes=(1, 1, 1), strides=(1, 2, 2),
                                      target=0)
    ours = L.from_torch(net)
    with pytest.raises(ValueError, match="stride"):
        methods.occlusion(ours, x, 0, window=1, stride=2)
    # a window spanning an axis may take any stride along it, in both
    expected = attr.Occlusion(net).attribute(torch.from_numpy(x), sliding_window_shapes=(1, 4, 1),
                                             strides=(1, 9, 1), target=0)[:, 0].numpy()
    close(methods.occlusion(ours, x, 0, window=(4, 1), stride=(9, 1)), expected, tol=1e-6)


def test_guided_gradcam_without_upsampling_equals_captums_at_a_full_resolution_layer():
    torch, attr = _captum()
    theirs, net = gapnet_twins()
    x = np.random.default_rng(1).standard_normal((3, 3, 12, 12))
    # Captum always interpolates (nearest by default), the identity at a layer of the input's size
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        expected = attr.GuidedGradCam(theirs, theirs.features[1]).attribute(
            _leaf(x), target=torch.tensor(ref.TARGET)).detach().numpy()
    close(methods.guided_gradcam(net, x, ref.TARGET, net.features[1], upsample=False), expected)


def test_a_one_element_target_as_captums_one_element_tensor():
    torch, attr = _captum()
    theirs, net = gapnet_twins()
    x = np.random.default_rng(2).standard_normal((3, 3, 12, 12))
    expected = attr.Saliency(theirs).attribute(_leaf(x), target=torch.tensor([2]), abs=False)
    close(methods.gradient(net, x, [2]), expected.detach().numpy())
