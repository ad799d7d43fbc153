"""Captum 0.9's tests/attr/test_occlusion.py, written anew for ``methods.occlusion``.

The same toy models (tests/captum_models.py), inputs, windows, strides, baselines, targets and
expected values as Captum's. Captum compares with ``assertTensorAlmostEqual(self, actual, expected)``:
default ``delta=1e-4``, ``mode="sum"``, shapes equal and sum |actual - expected| <= delta; ``assert_sum_close``
is that check. Translations of Captum's arguments: sliding_window_shapes -> ``window``, strides ->
``stride``, baselines -> ``baseline``, perturbations_per_eval -> ``batch_size``. A single (N, F) input
is written as the 1-tuple ``(x,)`` with a 1-tuple of windows (our occlusion takes a bare array only as
an image batch), and its result comes back as a 1-tuple. Captum's AssertionErrors on bad windows and
strides are ValueError/TypeError here (README, "Differences from Captum").

Not ported: ``test_simple_input_with_show_progress`` (Captum's ``show_progress`` progress bar; our
occlusion has none).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import (BasicModel3, BasicModel_ConvNet_One_Conv, BasicModel_MultiLayer, assert_almost_equal,  # noqa: E402
                           BasicModel_MultiLayer_MultiInput)

from methods import occlusion  # noqa: E402


def check_occlusion(model, x, expected, window, target=0, additional_forward_args=None, batch_sizes=(1,),
                    baseline=0.0, stride=1):
    """Captum's ``_occlusion_test_assert``: the same result for every perturbations_per_eval; a tuple
    ``expected`` is one result per input."""
    for batch_size in batch_sizes:
        got = occlusion(model, x, target, window, stride=stride, baseline=baseline, batch_size=batch_size,
                        additional_forward_args=additional_forward_args)
        if isinstance(expected, tuple):
            assert isinstance(got, tuple) and len(got) >= len(expected)
            for g, e in zip(got, expected):
                assert_almost_equal(g, e)
        else:
            assert_almost_equal(got, expected)


def _conv_input():
    return np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


def test_improper_window_shape():
    """Captum tests/attr/test_occlusion.py::Test::test_improper_window_shape."""
    net = BasicModel_ConvNet_One_Conv()
    inp = _conv_input()
    with pytest.raises((ValueError, TypeError)):  # too few window axes
        occlusion(net, (inp,), 0, ((1, 2),))
    with pytest.raises((ValueError, TypeError)):  # too many window axes
        occlusion(net, (inp, inp), 0, ((1, 1, 2), (1, 1, 1, 2)))
    with pytest.raises((ValueError, TypeError)):  # too many windows
        occlusion(net, (inp, inp), 0, ((1, 1, 2), (1, 1, 2), (1, 1, 2)))


def test_improper_stride():
    """Captum tests/attr/test_occlusion.py::Test::test_improper_stride."""
    net = BasicModel_ConvNet_One_Conv()
    inp = _conv_input()
    with pytest.raises((ValueError, TypeError)):  # too few stride axes
        occlusion(net, inp, 0, (1, 2, 2), stride=(1, 2))
    with pytest.raises((ValueError, TypeError)):  # too many stride axes
        occlusion(net, (inp, inp), 0, ((1, 1, 2), (1, 2, 2)), stride=((1, 1, 2), (2, 1, 2, 2)))
    with pytest.raises((ValueError, TypeError)):  # too many strides
        occlusion(net, (inp, inp), 0, ((1, 1, 2), (1, 2, 2)), stride=((1, 1, 2), (1, 2, 2), (1, 2, 2)))


def test_too_large_stride():
    """Captum tests/attr/test_occlusion.py::Test::test_too_large_stride."""
    net = BasicModel_ConvNet_One_Conv()
    inp = _conv_input()
    with pytest.raises((ValueError, TypeError)):
        occlusion(net, (inp,), 0, ((1, 1, 2),), stride=2)
    with pytest.raises((ValueError, TypeError)):
        occlusion(net, (inp, inp), 0, ((1, 1, 2), (1, 4, 2)), stride=(2, (1, 2, 3)))
    with pytest.raises((ValueError, TypeError)):  # a window deeper than the input
        occlusion(net, (inp,), 0, ((2, 1, 2),), stride=2)


def test_simple_input():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_input."""
    inp = np.array([[20.0, 50.0, 30.0]])
    check_occlusion(BasicModel_MultiLayer(), (inp,), ([[80.0, 200.0, 120.0]],), ((1,),), batch_sizes=(1, 2, 3))


def test_simple_multi_input_int_to_int():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_multi_input_int_to_int (integer inputs)."""
    inp1 = np.array([[-10], [3]])
    inp2 = np.array([[-5], [1]])
    check_occlusion(BasicModel3(), (inp1, inp2), ([[0.0], [1.0]], [[0.0], [-1.0]]), ((1,), (1,)))


def test_simple_multi_input_int_to_float():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_multi_input_int_to_float (integer inputs,
    the model a plain function wrapping BasicModel3)."""
    net = BasicModel3()

    def wrapper_func(*inp):
        return net(*inp) * 1.0

    inp1 = np.array([[-10], [3]])
    inp2 = np.array([[-5], [1]])
    check_occlusion(wrapper_func, (inp1, inp2), ([[0.0], [1.0]], [[0.0], [-1.0]]), ((1,), (1,)))


def test_simple_multi_input():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_multi_input."""
    inp1 = np.array([[-10.0], [3.0]])
    inp2 = np.array([[-5.0], [1.0]])
    check_occlusion(BasicModel3(), (inp1, inp2), ([[0.0], [1.0]], [[0.0], [-1.0]]), ((1,), (1,)))


def test_simple_multi_input_0d():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_multi_input_0d: (N,) inputs, empty windows,
    target None."""
    inp1 = np.array([-10.0, 3.0])
    inp2 = np.array([-5.0, 1.0])
    check_occlusion(BasicModel3(), (inp1, inp2), ([0.0, 1.0], [0.0, -1.0]), ((), ()), target=None)


def test_simple_input_larger_shape():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_input_larger_shape."""
    inp = np.array([[20.0, 50.0, 30.0]])
    check_occlusion(BasicModel_MultiLayer(), (inp,), ([[200.0, 220.0, 240.0]],), ((2,),), batch_sizes=(1, 2, 3),
                    baseline=np.array([10.0, 10.0, 10.0]))


def test_simple_input_shape_with_stride():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_input_shape_with_stride."""
    inp = np.array([[20.0, 50.0, 30.0]])
    check_occlusion(BasicModel_MultiLayer(), (inp,), ([[280.0, 280.0, 120.0]],), ((2,),), batch_sizes=(1, 2, 3),
                    stride=2)


def test_multi_sample_ablation():
    """Captum tests/attr/test_occlusion.py::Test::test_multi_sample_ablation."""
    inp = np.array([[2.0, 10.0, 3.0], [20.0, 50.0, 30.0]])
    check_occlusion(BasicModel_MultiLayer(), (inp,), ([[8.0, 35.0, 12.0], [80.0, 200.0, 120.0]],), ((1,),),
                    batch_sizes=(1, 2, 3))


_INP1 = np.array([[23.0, 100.0, 0.0], [20.0, 50.0, 30.0]])
_INP2 = np.array([[20.0, 50.0, 30.0], [0.0, 100.0, 0.0]])
_INP3 = np.array([[0.0, 100.0, 10.0], [2.0, 10.0, 3.0]])


def test_multi_input_ablation_with_mask():
    """Captum tests/attr/test_occlusion.py::Test::test_multi_input_ablation_with_mask."""
    net = BasicModel_MultiLayer_MultiInput()
    expected = ([[492.0, 492.0, 492.0], [400.0, 400.0, 400.0]],
                [[80.0, 200.0, 120.0], [0.0, 400.0, 0.0]],
                [[400.0, 420.0, 440.0], [48.0, 50.0, 52.0]])
    check_occlusion(net, (_INP1, _INP2, _INP3), expected, ((3,), (1,), (2,)), additional_forward_args=(1,))
    check_occlusion(net, (_INP1, _INP2), expected[0:1], ((3,), (1,)), additional_forward_args=(_INP3, 1),
                    batch_sizes=(1, 2, 3))


def test_multi_input_ablation_with_baselines():
    """Captum tests/attr/test_occlusion.py::Test::test_multi_input_ablation_with_baselines."""
    net = BasicModel_MultiLayer_MultiInput()
    expected = ([[444.0, 444.0, 444.0], [328.0, 328.0, 328.0]],
                [[68.0, 188.0, 108.0], [-12.0, 388.0, -12.0]],
                [[368.0, 368.0, 24.0], [0.0, 0.0, -12.0]])
    check_occlusion(net, (_INP1, _INP2, _INP3), expected, ((3,), (1,), (2,)), additional_forward_args=(1,),
                    baseline=(np.array([[1.0, 4, 7], [3.0, 6, 9]]), 3.0, np.array([[4.0], [6]])),
                    stride=(2, 1, 2))


def test_simple_multi_input_conv():
    """Captum tests/attr/test_occlusion.py::Test::test_simple_multi_input_conv."""
    net = BasicModel_ConvNet_One_Conv()
    inp = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    inp2 = np.ones((1, 1, 4, 4))
    check_occlusion(net, (inp, inp2), (67 * np.ones_like(inp), 13 * np.ones_like(inp2)),
                    ((1, 4, 4), (1, 4, 4)), batch_sizes=(1, 2, 4, 8, 12, 16))
    expected = ([[[[17.0, 17.0, 17.0, 17.0],
                   [17.0, 17.0, 17.0, 17.0],
                   [64.0, 65.5, 65.5, 67.0],
                   [64.0, 65.5, 65.5, 67.0]]]],
                [[[[3.0, 3.0, 3.0, 3.0],
                   [3.0, 3.0, 3.0, 3.0],
                   [3.0, 3.0, 3.0, 3.0],
                   [0.0, 0.0, 0.0, 0.0]]]])
    check_occlusion(net, (inp, inp2), expected, ((1, 2, 3), (1, 1, 2)), batch_sizes=(1, 3, 7, 14),
                    stride=((1, 2, 1), (1, 1, 2)))
