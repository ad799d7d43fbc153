"""Attribution at a layer (issue 32): ``layer_lrp`` (Captum's LayerLRP), Grad-CAM with one map per
channel (``attr_dim_summation=False``) and at a layer's input (``attribute_to_layer_input``), live
against Captum on a torch twin of the GAP network (skipped without Captum), and LRP's conservation
at every layer (no Captum needed)."""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
import minigrad

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402
from gapnet_twins import captum_twins  # noqa: E402

TOL = 1e-8
X = np.random.default_rng(3).standard_normal((3, 3, 12, 12))


def close(ours, theirs, tol=TOL):
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


@pytest.fixture(scope="module")
def twins():
    """(Captum's attribution classes, the torch network, the same network in minigrad)."""
    return captum_twins()


def _leaf(x):
    import torch

    return torch.tensor(x, requires_grad=True)


def _captum_layer_lrp(attr, theirs, layer, **kw):
    """Captum's LayerLRP (epsilon 1e-9 everywhere, its default) and its deltas, as arrays. It runs on
    a fresh copy: Captum leaves ``rule`` attributes on the modules it explained, which a second
    LRP refuses."""
    import copy

    import torch
    from captum.attr._utils.lrp_rules import EpsilonRule

    theirs = copy.deepcopy(theirs)
    theirs.gap.rule = EpsilonRule()  # Captum has no default rule for the custom mean module
    layer = theirs.get_submodule(layer)
    r, delta = attr.LayerLRP(theirs, layer).attribute(_leaf(X), target=torch.tensor(ref.TARGET),
                                                      return_convergence_delta=True, **kw)
    return r.detach().numpy(), delta.detach().numpy()


@pytest.mark.parametrize("index", [0, 3])  # the first convolution (its input is x) and the second
@pytest.mark.parametrize("to_input", [False, True])
def test_layer_lrp_at_a_convolution_equals_captums_layer_lrp(twins, index, to_input):
    """Captum's test_lrp LayerLRP cases on a conv net: relevance at the layer's output and input."""
    attr, theirs, ours = twins
    expected, expected_delta = _captum_layer_lrp(attr, theirs, f"features.{index}",
                                                 attribute_to_layer_input=to_input)
    r, delta = methods.layer_lrp(ours, X, ref.TARGET, ours.features[index], attribute_to_layer_input=to_input,
                                 return_convergence_delta=True)
    close(r, expected)
    close(delta, expected_delta.reshape(delta.shape), tol=1e-7)


def test_layer_lrp_at_the_input_of_the_first_layer_is_lrp(twins):
    _, _, ours = twins
    close(methods.layer_lrp(ours, X, ref.TARGET, ours.features[0], attribute_to_layer_input=True),
          methods.lrp(ours, X, ref.TARGET), tol=0)


def _bias_free_net():
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=5)
    for m in net.modules():
        if getattr(m, "bias", None) is not None:
            m.bias.data[...] = 0
    return net


NET0 = _bias_free_net()
LEAVES = [m for m in NET0.modules() if not list(m.children())]


@pytest.mark.parametrize("to_input", [False, True])
@pytest.mark.parametrize("position", range(len(LEAVES)), ids=[f"{i}-{type(m).__name__}" for i, m in enumerate(LEAVES)])
def test_relevance_is_conserved_at_every_layer(position, to_input):
    """Bach et al. 2015, eq. 2: with zero biases the relevance at every layer sums to f_c(x)."""
    layer = LEAVES[position]
    x = np.random.default_rng(4).uniform(0, 1, (2, 3, 12, 12))
    with minigrad.no_grad():
        out = NET0(minigrad.Tensor(x)).data
    score = out[np.arange(2), [2, 0]]
    r, delta = methods.layer_lrp(NET0, x, [2, 0], layer, attribute_to_layer_input=to_input, epsilon=1e-12,
                                 return_convergence_delta=True)
    assert r.shape[0] == 2
    np.testing.assert_allclose(r.reshape(2, -1).sum(axis=1), score, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(delta, 0, atol=1e-9 * np.abs(score).max())


def test_layer_lrp_of_a_single_image_has_no_batch_axis():
    x = np.random.default_rng(4).uniform(0, 1, (3, 12, 12))
    r = methods.layer_lrp(NET0, x, 1, NET0.features[3])
    assert r.shape == (8, 6, 6)
    close(r, methods.layer_lrp(NET0, x[None], 1, NET0.features[3])[0], tol=0)


def _captum_gradcam(attr, theirs, layer, **kw):
    import torch

    return attr.LayerGradCam(theirs, layer).attribute(_leaf(X), target=torch.tensor(ref.TARGET),
                                                      **kw).detach().numpy()


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("index", [0, 3, 4])
def test_gradcam_one_map_per_channel_equals_captums_attr_dim_summation_false(twins, index, relu):
    attr, theirs, ours = twins
    expected = _captum_gradcam(attr, theirs, theirs.features[index], attr_dim_summation=False,
                               relu_attributions=relu)
    got = methods.gradcam(ours, X, ref.TARGET, ours.features[index], relu=relu, upsample=False,
                          attr_dim_summation=False)
    close(got, expected)
    assert got.shape[1] == ours.features[index if index != 4 else 3].weight.shape[0]  # (N, K, h, w)


@pytest.mark.parametrize("index", [0, 3, 4])  # inputs: x itself, a max pooling's output, a conv's output
def test_gradcam_at_a_layer_input_equals_captums(twins, index):
    attr, theirs, ours = twins
    for summed in (True, False):
        expected = _captum_gradcam(attr, theirs, theirs.features[index], attribute_to_layer_input=True,
                                   attr_dim_summation=summed, relu_attributions=True)
        got = methods.gradcam(ours, X, ref.TARGET, ours.features[index], upsample=False, attr_dim_summation=summed,
                              attribute_to_layer_input=True)
        close(got, expected[:, 0] if summed else expected)


def test_gradcam_at_a_linear_layer_per_unit_equals_captums(twins):
    attr, theirs, ours = twins
    expected = _captum_gradcam(attr, theirs, theirs.fc, attribute_to_layer_input=True, attr_dim_summation=False,
                               relu_attributions=True)
    got = methods.gradcam(ours, X, ref.TARGET, ours.fc, attr_dim_summation=False, attribute_to_layer_input=True)
    close(got, expected)


def test_channel_maps_sum_to_the_map_before_the_relu_and_are_resized_each():
    x = np.random.default_rng(6).standard_normal((2, 3, 12, 12))
    layer = NET0.features[3]
    per_channel = methods.gradcam(NET0, x, 1, layer, relu=False, upsample=False, attr_dim_summation=False)
    close(per_channel.sum(axis=1), methods.gradcam(NET0, x, 1, layer, relu=False, upsample=False))
    up = methods.gradcam(NET0, x, 1, layer, relu=False, attr_dim_summation=False, interpolate_mode="nearest")
    assert up.shape == (2, 8, 12, 12)
    close(up, methods.resize(per_channel, (12, 12), "nearest"), tol=0)
    # the ReLU acts per channel, so the per-channel maps are not the summed map's parts
    relu = methods.gradcam(NET0, x, 1, layer, upsample=False, attr_dim_summation=False)
    close(relu, np.maximum(per_channel, 0), tol=0)
