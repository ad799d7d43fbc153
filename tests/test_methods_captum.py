"""Methods against Captum, from the stored fixtures always and live when Captum imports."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import layers as L
import methods

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402

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
