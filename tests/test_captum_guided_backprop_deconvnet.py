"""Captum 0.9's tests/attr/test_guided_backprop.py and tests/attr/test_deconvolution.py, case by
case, in minigrad (issue #32).

Captum's ``GuidedBackprop`` is ``methods.guided_backprop`` and its ``Deconvolution`` is
``methods.deconvnet``, on BasicModel_ConvNet_One_Conv (fixed weights, so Captum's hand-computed
maps apply unchanged), inputs in Captum's tuple form, target 0, delta 0.01 in mode "sum".

Captum's ``NeuronGuidedBackprop`` / ``NeuronDeconvolution`` (attribution of one unit of a layer)
have no class here; the same attribution is the method with a callable target that reads the unit
from the layer's output, captured in the same forward pass (``minigrad.capture``), as
``neuron_target`` does. Captum's neuron selector (i,) is unit i; (slice(0, 1, 1),) sums units 0..0.

``assertFalse(attrib.multiplies_by_inputs)`` inside Captum's matching helpers is an attribute of
Captum's classes, with no counterpart here. Every Captum test function of both files is ported.
"""
import os
import sys

import numpy as np
import pytest

import methods
from minigrad import capture

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import BasicModel_ConvNet_One_Conv  # noqa: E402
from test_captum_saliency import assert_almost_equal  # noqa: E402

METHODS = {"guided_backprop": methods.guided_backprop, "deconvnet": methods.deconvnet}

# Captum's expected maps (1, 1, 4, 4). One input 0..15: guided backprop keeps conv channel 0's three
# positive windows (the -5 one and channel 1's +1-weighted -30 window are masked by the forward ReLU);
# the deconvnet ignores the forward sign and keeps every window whose backward signal is positive
# (channel 0's four, channel 1's first), so the top-left window counts twice.
GB_ONE = [[0.0, 1.0, 1.0, 1.0], [1.0, 3.0, 3.0, 2.0], [1.0, 3.0, 3.0, 2.0], [1.0, 2.0, 2.0, 1.0]]
DECONV = [[2.0, 3.0, 3.0, 1.0], [3.0, 5.0, 5.0, 2.0], [3.0, 5.0, 5.0, 2.0], [1.0, 2.0, 2.0, 1.0]]
# Two inputs 0..15 and ones (the model adds them): all four channel-0 windows are positive.
GB_TWO = [[1.0, 2.0, 2.0, 1.0], [2.0, 4.0, 4.0, 2.0], [2.0, 4.0, 4.0, 2.0], [1.0, 2.0, 2.0, 1.0]]


def one_input():
    return (np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4),)


def two_inputs():
    return (np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4), np.ones((1, 1, 4, 4)))


def attribute(name, net, inputs, target=0, layer=None):
    """Captum's _guided_backprop_test_assert / _deconv_test_assert call (target 0), or with
    ``layer`` its Neuron* counterpart, ``target`` then the neuron selector."""
    method = METHODS[name]
    if layer is None:
        return method(net, inputs, target)
    with capture(layer) as acts:
        return method(net, inputs, neuron_target(acts, layer, target))


def neuron_target(acts, layer, selector):
    """A target reading Captum's neuron selector from ``layer``'s captured output: a tuple of ints
    is one unit, a tuple with slices sums the units it selects."""
    def target(output):
        unit = acts[layer][(slice(None),) + tuple(selector)]
        return unit if unit.ndim == 1 else unit.reshape(unit.shape[0], -1).sum(axis=1)
    return target


def assert_maps(attributions, inputs, expected):
    assert isinstance(attributions, tuple) and len(attributions) == len(inputs)
    for att, want in zip(attributions, expected):
        assert_almost_equal(att, np.reshape(want, (1, 1, 4, 4)), delta=0.01)


# ---- tests/attr/test_guided_backprop.py ----

def test_simple_input_conv_gb():
    """Captum tests/attr/test_guided_backprop.py::Test::test_simple_input_conv_gb."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("guided_backprop", net, inputs), inputs, (GB_ONE,))


def test_simple_input_conv_neuron_gb():
    """Captum tests/attr/test_guided_backprop.py::Test::test_simple_input_conv_neuron_gb.

    NeuronGuidedBackprop(net, net.fc1), neuron (0,): a callable target on fc1's captured output."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("guided_backprop", net, inputs, (0,), layer=net.fc1), inputs, (GB_ONE,))


def test_simple_input_conv_neuron_gb_agg_neurons():
    """Captum tests/attr/test_guided_backprop.py::Test::test_simple_input_conv_neuron_gb_agg_neurons.

    Neuron selector (slice(0, 1, 1),) on fc1: the sum of the selected units (unit 0 alone)."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("guided_backprop", net, inputs, (slice(0, 1, 1),), layer=net.fc1), inputs, (GB_ONE,))


def test_simple_multi_input_conv_gb():
    """Captum tests/attr/test_guided_backprop.py::Test::test_simple_multi_input_conv_gb."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = two_inputs()
    assert_maps(attribute("guided_backprop", net, inputs), inputs, (GB_TWO, GB_TWO))


def test_simple_multi_input_conv_neuron_gb():
    """Captum tests/attr/test_guided_backprop.py::Test::test_simple_multi_input_conv_neuron_gb.

    NeuronGuidedBackprop(net, net.fc1), neuron (3,)."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = two_inputs()
    assert_maps(attribute("guided_backprop", net, inputs, (3,), layer=net.fc1), inputs, (GB_TWO, GB_TWO))


def matching_assert(name, seed=1234):
    """Captum's _guided_backprop_matching_assert / _deconv_matching_assert: for each output unit i,
    the method with target i equals its neuron version on relu2 (the output layer) with neuron
    (i,), delta 0.01 "sum". Input 100 * standard normal (1, 1, 4, 4), from NumPy instead of torch."""
    net = BasicModel_ConvNet_One_Conv()
    x = 100.0 * np.random.default_rng(seed).standard_normal((1, 1, 4, 4))
    out = net(x)
    for i in range(out.shape[1]):
        vals = attribute(name, net, x, target=i)
        neuron_vals = attribute(name, net, x, target=(i,), layer=net.relu2)
        assert_almost_equal(vals, neuron_vals, delta=0.01)


@pytest.mark.parametrize("seed", [1234, 0, 1, 2])
def test_gb_matching(seed):
    """Captum tests/attr/test_guided_backprop.py::Test::test_gb_matching (with several NumPy seeds,
    since torch's draw cannot be reproduced)."""
    matching_assert("guided_backprop", seed)


# ---- tests/attr/test_deconvolution.py ----

def test_simple_input_conv_deconv():
    """Captum tests/attr/test_deconvolution.py::Test::test_simple_input_conv_deconv."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("deconvnet", net, inputs), inputs, (DECONV,))


def test_simple_input_conv_neuron_deconv():
    """Captum tests/attr/test_deconvolution.py::Test::test_simple_input_conv_neuron_deconv.

    NeuronDeconvolution(net, net.fc1), neuron (0,): a callable target on fc1's captured output."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("deconvnet", net, inputs, (0,), layer=net.fc1), inputs, (DECONV,))


def test_simple_input_conv_neuron_deconv_agg_neurons():
    """Captum tests/attr/test_deconvolution.py::Test::test_simple_input_conv_neuron_deconv_agg_neurons.

    Neuron selector (slice(0, 1, 1),) on fc1: the sum of the selected units (unit 0 alone)."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = one_input()
    assert_maps(attribute("deconvnet", net, inputs, (slice(0, 1, 1),), layer=net.fc1), inputs, (DECONV,))


def test_simple_multi_input_conv_deconv():
    """Captum tests/attr/test_deconvolution.py::Test::test_simple_multi_input_conv_deconv.

    Two inputs 0..15 and ones (the model adds them): Captum expects the one-input deconvnet map for
    both, since the deconvnet passes channel 1's +1-weighted top-left window (-21 in the forward
    pass) as before, whatever the forward sign."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = two_inputs()
    assert_maps(attribute("deconvnet", net, inputs), inputs, (DECONV, DECONV))


def test_simple_multi_input_conv_neuron_deconv():
    """Captum tests/attr/test_deconvolution.py::Test::test_simple_multi_input_conv_neuron_deconv.

    NeuronDeconvolution(net, net.fc1), neuron (3,)."""
    net = BasicModel_ConvNet_One_Conv()
    inputs = two_inputs()
    assert_maps(attribute("deconvnet", net, inputs, (3,), layer=net.fc1), inputs, (DECONV, DECONV))


@pytest.mark.parametrize("seed", [1234, 0, 1, 2])
def test_deconv_matching(seed):
    """Captum tests/attr/test_deconvolution.py::Test::test_deconv_matching (with several NumPy
    seeds, since torch's draw cannot be reproduced)."""
    matching_assert("deconvnet", seed)
