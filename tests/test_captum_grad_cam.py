"""Issue 32: Captum 0.9's own unit tests of LayerGradCam (tests/attr/layer/test_grad_cam.py) and
GuidedGradCam (tests/attr/test_guided_grad_cam.py), written anew for ``methods.gradcam`` and
``methods.guided_gradcam`` on Captum's toy models (tests/captum_models.py): the same inputs, targets,
expected values and tolerance (Captum's ``assertTensorAlmostEqual``: the shapes equal and the sum of
absolute differences within ``delta``; both files pass delta=0.01).

Captum's LayerGradCam is ``gradcam(..., upsample=False)`` with ``relu=`` its ``relu_attributions``
(default False there, so relu=False unless a case sets it). Its maps are (N, 1, h, w), ours (N, h, w),
and (N, 1) at an (N, K) layer, ours (N,) (README, "Differences from Captum"): the expected values
are Captum's with that channel axis dropped. GuidedGradCam's default ``interpolate_mode`` is
"nearest", so every guided case passes it.
"""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import BasicModel_ConvNet_One_Conv, BasicModel_MultiLayer, _set, assert_almost_equal  # noqa: E402

DELTA = 0.01  # both Captum files compare with delta=0.01


class MultiRelu(L.Module):
    """Captum's MultiRelu: a module with two inputs and two outputs, (relu1(a), relu2(b))."""

    def __init__(self, inplace=False):
        self.relu1 = L.ReLU(inplace=inplace)
        self.relu2 = L.ReLU(inplace=inplace)

    def forward(self, a, b):
        return self.relu1(a), self.relu2(b)


class MultiLayerMultiInputModule(BasicModel_MultiLayer):
    """Captum's BasicModel_MultiLayer(multi_input_module=True): linear1's output and linear1_alt(x)
    (the same weights, ones, bias (-10, 1, 1, 1)) go through MultiRelu and are added; ``relu`` runs on
    linear1's output but its result is not used (Captum's unused layer)."""

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)
        self.linear1_alt = _set(L.Linear(3, 4), np.ones((4, 3)), [-10.0, 1.0, 1.0, 1.0])
        self.multi_relu = MultiRelu(inplace=inplace)

    def forward(self, x, add_input=None):
        x = x if add_input is None else x + add_input
        lin1 = self.linear1(self.linear0(x))
        relu1, relu2 = self.multi_relu(lin1, self.linear1_alt(x))
        self.relu(lin1)  # unused, as Captum's
        return self.linear2(relu1 + relu2)


def conv_input():
    return np.arange(16.0).reshape(1, 1, 4, 4)


def layer_gradcam(model, x, layer, relu=False, **kw):
    """Captum's LayerGradCam(model, layer).attribute(x, target=0, relu_attributions=relu, ...)."""
    return methods.gradcam(model, x, 0, layer, relu=relu, upsample=False, **kw)


def _input_with_a_negative_value():
    x = conv_input()
    x[0, 0, 1, 1] = -4.0
    return x


GUIDED_MULTI = [[[[14.5, 29.0, 38.0, 19.0],
                  [29.0, 58.0, 76.0, 38.0],
                  [65.0, 130.0, 148.0, 74.0],
                  [32.5, 65.0, 74.0, 37.0]]]]


# --- tests/attr/layer/test_grad_cam.py -----------------------------------------------------------


class TestLayerGradCam:
    """Captum tests/attr/layer/test_grad_cam.py::Test."""

    def test_simple_input_non_conv(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_non_conv.
        Captum's (N, 1) [[400]] at the (N, K) layer linear0 is (N,) [400] here (documented)."""
        net = BasicModel_MultiLayer()
        x = (np.array([[0.0, 100.0, 0.0]]),)
        assert_almost_equal(layer_gradcam(net, x, net.linear0), [400.0], DELTA)

    def test_simple_multi_input_non_conv(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_multi_input_non_conv.
        Captum attributes to both outputs of the two-output module multi_relu, ([[21]], [[21]]); a layer
        here returns one tensor, so each output is taken at the ReLU that makes it (multi_relu.relu1 and
        .relu2 return exactly multi_relu's two outputs); (N,) per output (documented)."""
        net = MultiLayerMultiInputModule()
        x = (np.array([[0.0, 6.0, 0.0]]),)
        assert_almost_equal(layer_gradcam(net, x, net.multi_relu.relu1), [21.0], DELTA)
        assert_almost_equal(layer_gradcam(net, x, net.multi_relu.relu2), [21.0], DELTA)

    def test_simple_multi_input_non_conv_at_the_two_output_layer(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_multi_input_non_conv, at the
        two-output module itself as Captum calls it. Captum attributes to each output, ([[21]], [[21]]);
        minigrad's layer methods take a layer with one output and refuse this one naming it (the
        test above reproduces Captum's numbers at the module that makes each output)."""
        net = MultiLayerMultiInputModule()
        with pytest.raises(ValueError, match=r"layer: MultiRelu returns tuple, not one tensor"):
            layer_gradcam(net, (np.array([[0.0, 6.0, 0.0]]),), net.multi_relu)

    def test_simple_input_conv(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv.
        Captum's (1, 1, 2, 2) is (1, 2, 2) here (documented)."""
        net = BasicModel_ConvNet_One_Conv()
        assert_almost_equal(layer_gradcam(net, conv_input(), net.conv1), [[[11.25, 13.5], [20.25, 22.5]]], DELTA)

    def test_simple_input_conv_split_channels(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv_split_channels
        (attr_dim_summation=False: one map per channel, (1, 2, 2, 2) in both)."""
        net = BasicModel_ConvNet_One_Conv()
        expected = [[[[-3.75, 3.0], [23.25, 30.0]], [[15.0, 10.5], [-3.0, -7.5]]]]
        assert_almost_equal(layer_gradcam(net, conv_input(), net.conv1, attr_dim_summation=False), expected, DELTA)

    def test_simple_input_conv_no_grad(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv_no_grad: the model's
        parameters do not require grad."""
        net = BasicModel_ConvNet_One_Conv()
        for p in net.parameters():
            p.requires_grad = False
        assert_almost_equal(layer_gradcam(net, conv_input(), net.conv1), [[[11.25, 13.5], [20.25, 22.5]]], DELTA)

    def test_simple_input_conv_relu(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv_relu (channel axis
        dropped, documented)."""
        net = BasicModel_ConvNet_One_Conv()
        assert_almost_equal(layer_gradcam(net, conv_input(), net.relu1), [[[0.0, 4.0], [28.0, 32.5]]], DELTA)

    def test_simple_input_conv_without_final_relu(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv_without_final_relu:
        at conv1's input (x itself) the map is 0.5625 x, the negative value kept (no ReLU by default).
        Captum's (1, 1, 4, 4) is (1, 4, 4) here (documented)."""
        net = BasicModel_ConvNet_One_Conv()
        x = _input_with_a_negative_value()
        got = layer_gradcam(net, x, net.conv1, attribute_to_layer_input=True)
        assert_almost_equal(got, 0.5625 * x[:, 0], DELTA)

    def test_simple_input_conv_fc_with_final_relu(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_input_conv_fc_with_final_relu:
        relu_attributions=True zeroes the negative value (channel axis dropped, documented)."""
        net = BasicModel_ConvNet_One_Conv()
        x = _input_with_a_negative_value()
        expected = 0.5625 * x[:, 0]
        expected[0, 1, 1] = 0.0
        got = layer_gradcam(net, x, net.conv1, relu=True, attribute_to_layer_input=True)
        assert_almost_equal(got, expected, DELTA)

    def test_simple_multi_input_conv(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_simple_multi_input_conv: the tuple of
        inputs (x, ones) is added in the model's forward (channel axis dropped, documented)."""
        net = BasicModel_ConvNet_One_Conv()
        got = layer_gradcam(net, (conv_input(), np.ones((1, 1, 4, 4))), net.conv1)
        assert_almost_equal(got, [[[14.5, 19.0], [32.5, 37.0]]], DELTA)

    def test_relu_gradcam_with_unused_layer(self):
        """Captum tests/attr/layer/test_grad_cam.py::Test::test_relu_gradcam_with_unused_layer: a layer
        the output does not depend on has gradient 0 (Captum with grad_kwargs={"materialize_grads": True},
        ours always), so its map is 0. Captum's one (1, 1) tensor is (1,) here (documented)."""
        net = MultiLayerMultiInputModule()
        got = methods.gradcam(net, (np.array([[0.0, 6.0, 0.0]]),), 0, net.relu, upsample=False)
        assert got.shape == (1,)
        assert abs(got.sum()) < 5e-8  # Captum's assertAlmostEqual(sum, 0): round(diff, 7) == 0


# --- tests/attr/test_guided_grad_cam.py ----------------------------------------------------------


class TestGuidedGradCam:
    """Captum tests/attr/test_guided_grad_cam.py::Test."""

    def test_simple_input_conv(self):
        """Captum tests/attr/test_guided_grad_cam.py::Test::test_simple_input_conv (interpolate_mode
        "nearest", GuidedGradCam's default)."""
        net = BasicModel_ConvNet_One_Conv()
        expected = [[[[0.0, 0.0, 4.0, 4.0],
                      [0.0, 0.0, 12.0, 8.0],
                      [28.0, 84.0, 97.5, 65.0],
                      [28.0, 56.0, 65.0, 32.5]]]]
        got = methods.guided_gradcam(net, 1.0 * conv_input(), 0, net.relu1, interpolate_mode="nearest")
        assert_almost_equal(got, expected, DELTA)

    def test_simple_multi_input_conv(self):
        """Captum tests/attr/test_guided_grad_cam.py::Test::test_simple_multi_input_conv: a tuple of two
        inputs, each (1, 1, 4, 4), gets the same attribution."""
        net = BasicModel_ConvNet_One_Conv()
        got = methods.guided_gradcam(net, (conv_input(), np.ones((1, 1, 4, 4))), 0, net.conv1,
                                     interpolate_mode="nearest")
        assert isinstance(got, tuple) and len(got) == 2
        for g in got:
            assert_almost_equal(g, GUIDED_MULTI, DELTA)

    def test_simple_multi_input_relu_input(self):
        """Captum tests/attr/test_guided_grad_cam.py::Test::test_simple_multi_input_relu_input: the map
        from what enters relu1 (conv1's output), the same numbers as at conv1."""
        net = BasicModel_ConvNet_One_Conv(inplace=False)
        got = methods.guided_gradcam(net, (conv_input(), np.ones((1, 1, 4, 4))), 0, net.relu1,
                                     interpolate_mode="nearest", attribute_to_layer_input=True)
        assert isinstance(got, tuple) and len(got) == 2
        for g in got:
            assert_almost_equal(g, GUIDED_MULTI, DELTA)

    def test_improper_dims_multi_input_conv(self):
        """Captum tests/attr/test_guided_grad_cam.py::Test::test_improper_dims_multi_input_conv: the
        second input has shape (1,). Captum warns and returns an empty tensor for it (the first input's
        attribution still GUIDED_MULTI); ``guided_gradcam`` needs every input to be an image batch
        (its docstring) and refuses the tuple with a ValueError naming x[1], as README's "bad
        arguments" row. Ported in our convention; the same call with a proper second input gives
        Captum's first attribution."""
        net = BasicModel_ConvNet_One_Conv()
        with pytest.raises((ValueError, TypeError), match=r"x\[1\]"):
            methods.guided_gradcam(net, (conv_input(), np.ones(1)), 0, net.conv1, interpolate_mode="nearest")
        first, _ = methods.guided_gradcam(net, (conv_input(), np.ones((1, 1, 1, 1))), 0, net.conv1,
                                          interpolate_mode="nearest")
        assert_almost_equal(first, GUIDED_MULTI, DELTA)

    def test_improper_method_multi_input_conv(self):
        """Captum tests/attr/test_guided_grad_cam.py::Test::test_improper_method_multi_input_conv: an
        unknown interpolate_mode ("made_up_nonlinear"). Captum warns and returns empty tensors; ours
        refuses it with a ValueError naming the argument (README, "bad arguments")."""
        net = BasicModel_ConvNet_One_Conv()
        with pytest.raises((ValueError, TypeError), match="interpolate_mode"):
            methods.guided_gradcam(net, (conv_input(), np.ones(1)), 0, net.conv1,
                                   interpolate_mode="made_up_nonlinear")
