"""Bad inputs to minigrad: every row raises ValueError/TypeError naming its argument."""
import os
import sys

import numpy as np
import pytest

import minigrad as mg

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402

x4 = np.ones((1, 2, 5, 5))
w4 = np.ones((3, 2, 3, 3))


def _graph():
    x = mg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    return x, mg.relu(x)


def _grad_with(rule):
    x, y = _graph()
    with mg.rules(relu=rule):
        return mg.grad(y, [x])


TABLE = [
    ("tensor object dtype", lambda: mg.Tensor(np.array([object()])), "Tensor data"),
    ("tensor strings", lambda: mg.Tensor(["a", "b"]), "Tensor data"),
    ("conv2d 3-D input", lambda: mg.conv2d(np.ones((2, 5, 5)), w4), "conv2d"),
    ("conv2d 3-D weight", lambda: mg.conv2d(x4, np.ones((3, 3, 3))), "weight"),
    ("conv2d channels", lambda: mg.conv2d(np.ones((1, 3, 5, 5)), w4), "channels"),
    ("conv2d stride 0", lambda: mg.conv2d(x4, w4, stride=0), "stride"),
    ("conv2d stride float", lambda: mg.conv2d(x4, w4, stride=1.5), "stride"),
    ("conv2d padding -1", lambda: mg.conv2d(x4, w4, padding=-1), "padding"),
    ("conv2d padding triple", lambda: mg.conv2d(x4, w4, padding=(1, 1, 1)), "padding"),
    ("conv2d kernel too big", lambda: mg.conv2d(np.ones((1, 2, 2, 2)), w4), "kernel 3x3"),
    ("max_pool kernel 0", lambda: mg.max_pool2d(x4, 0), "kernel_size"),
    ("max_pool padding > k/2", lambda: mg.max_pool2d(x4, 2, padding=2), "padding"),
    ("max_pool 2-D input", lambda: mg.max_pool2d(np.ones((5, 5)), 2), "max_pool2d"),
    ("avg_pool stride 0", lambda: mg.avg_pool2d(x4, 2, stride=0), "stride"),
    ("avg_pool kernel bool", lambda: mg.avg_pool2d(x4, True), "kernel_size"),
    ("grad outputs not tensor", lambda: mg.grad(np.ones(2), [mg.Tensor(1.0)]), "outputs"),
    ("grad inputs not tensor", lambda: mg.grad(_graph()[1], [np.ones(2)]), "inputs"),
    ("grad seed shape", lambda: mg.grad(_graph()[1], [_graph()[0]], seed=np.ones(3)), "seed"),
    ("grad seed count", lambda: mg.grad(_graph()[1], [_graph()[0]], seed=[np.ones(2), np.ones(2)]), "seed"),
    ("grad no graph", lambda: mg.grad(mg.Tensor([1.0]), [mg.Tensor([1.0])]), "outputs"),
    ("backward no graph", lambda: mg.Tensor([1.0]).backward(), "backward"),
    ("rules unknown op", lambda: mg.rules(relux="guided").__enter__(), "relux"),
    ("rules unknown name", lambda: mg.rules(relu="guidet").__enter__(), "guidet"),
    ("rules not callable", lambda: mg.rules(relu=3).__enter__(), "relu"),
    ("rules misapplied", lambda: mg.rules(conv2d=mg.guided).__enter__(), "conv2d"),
    ("rule returns bare array", lambda: _grad_with(lambda ctx, g: g), "gradients (one per input)"),
    ("rule returns wrong count", lambda: _grad_with(lambda ctx, g: (g, g)), "one per input"),
    ("rule returns wrong shape", lambda: _grad_with(lambda ctx, g: (np.ones(5),)), "gradient 0"),
    ("rule returns int dtype", lambda: _grad_with(lambda ctx, g: (np.ones(2, dtype=int),)), "float array"),
    ("rule returns a list item", lambda: _grad_with(lambda ctx, g: ([1.0, 2.0],)), "gradient 0"),
    ("capture nothing", lambda: mg.capture().__enter__(), "capture"),
    ("capture non-layer", lambda: mg.capture(3).__enter__(), "capture"),
    ("gradcheck empty inputs", lambda: mg.gradcheck(mg.relu, []), "inputs"),
    ("gradcheck fn not tensor", lambda: mg.gradcheck(lambda x: 3.0, [np.ones(2)]), "fn"),
    ("epsilon negative", lambda: mg.relevance.epsilon(-1.0), "epsilon"),
    ("gamma nan", lambda: mg.relevance.gamma(float("nan")), "gamma"),
    ("relevance rule name", lambda: mg.relevance.as_layer_rule("epsilom"), "epsilom"),
    ("relevance rule type", lambda: mg.relevance.as_layer_rule(3), "rule"),
]


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name):
    rejects(call, name)


def test_max_pool_propagates_nan_like_pytorch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 3, 3] = np.nan
    xt = mg.Tensor(x, requires_grad=True)
    y = mg.max_pool2d(xt, 2)
    assert np.isnan(y.data[0, 0, 0, 0]) and np.isnan(y.data[0, 0, 1, 1]) and y.data[0, 0, 0, 1] == 7
    g, = mg.grad(y, [xt])
    assert g[0, 0, 0, 1] == 1 and g[0, 0, 3, 3] == 1 and g.sum() == 4
