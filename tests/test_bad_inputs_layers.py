"""Bad inputs to layers: every row raises ValueError/TypeError naming its argument, and nothing
changes before the error (fit, load_state_dict)."""
import os
import sys

import numpy as np
import pytest

import layers as L

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402


def net():
    return L.MLP((4, 3, 2), seed=0)


X = np.random.default_rng(0).random((20, 4))
Y = np.zeros(20, dtype=np.int64)


def _file(tmp, name, content):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _truncated(tmp):
    path = os.path.join(tmp, "whole.npz")
    net().save(path)
    data = open(path, "rb").read()
    return _file(tmp, "half.npz", data[:len(data) // 2])


def _npy(tmp):
    path = os.path.join(tmp, "one.npy")
    np.save(path, np.ones(3))
    return path


TABLE = [
    ("SGD lr 0", lambda t: L.SGD(net().parameters(), lr=0), "lr"),
    ("SGD lr nan", lambda t: L.SGD(net().parameters(), lr=float("nan")), "lr"),
    ("SGD lr string", lambda t: L.SGD(net().parameters(), lr="0.1"), "lr"),
    ("SGD momentum -5", lambda t: L.SGD(net().parameters(), momentum=-5), "momentum"),
    ("SGD weight_decay -1", lambda t: L.SGD(net().parameters(), weight_decay=-1), "weight_decay"),
    ("SGD nesterov without momentum", lambda t: L.SGD(net().parameters(), nesterov=True), "nesterov"),
    ("SGD nesterov string", lambda t: L.SGD(net().parameters(), momentum=0.9, nesterov="yes"), "nesterov"),
    ("SGD no params", lambda t: L.SGD([], lr=0.1), "params"),
    ("SGD params arrays", lambda t: L.SGD([np.ones(3)], lr=0.1), "params[0]"),
    ("Adam beta1 = 1", lambda t: L.Adam(net().parameters(), betas=(1.0, 0.999)), "betas[0]"),
    ("Adam beta2 = 1", lambda t: L.Adam(net().parameters(), betas=(0.9, 1.0)), "betas[1]"),
    ("Adam beta negative", lambda t: L.Adam(net().parameters(), betas=(-0.1, 0.9)), "betas[0]"),
    ("Adam betas single", lambda t: L.Adam(net().parameters(), betas=0.9), "betas"),
    ("Adam eps negative", lambda t: L.Adam(net().parameters(), eps=-1e-8), "eps"),
    ("Adam weight_decay inf", lambda t: L.Adam(net().parameters(), weight_decay=float("inf")), "weight_decay"),
    ("Adam lr negative", lambda t: L.Adam(net().parameters(), lr=-1e-3), "lr"),
    ("NormalizedGradient norm", lambda t: L.NormalizedGradient(net().parameters(), norm="l1"), "norm"),
    ("Conv2d in_channels 0", lambda t: L.Conv2d(0, 2, 3), "in_channels"),
    ("Conv2d out_channels float", lambda t: L.Conv2d(1, 2.5, 3), "out_channels"),
    ("Conv2d kernel 0", lambda t: L.Conv2d(1, 2, 0), "kernel_size"),
    ("Conv2d stride -1", lambda t: L.Conv2d(1, 2, 3, stride=-1), "stride"),
    ("Conv2d wrong channels", lambda t: L.Conv2d(3, 2, 3)(np.ones((1, 1, 5, 5))), "input channels"),
    ("Conv2d wrong rank", lambda t: L.Conv2d(1, 2, 3)(np.ones((5, 5))), "(N, C, H, W)"),
    ("Conv2d strings", lambda t: L.Conv2d(1, 2, 3)(np.array([["a"]])), "numeric"),
    ("Linear in_features -1", lambda t: L.Linear(-1, 2), "in_features"),
    ("Linear wrong features", lambda t: L.Linear(5, 2)(np.ones((2, 4))), "input features"),
    ("MaxPool2d padding", lambda t: L.MaxPool2d(2, padding=2)(np.ones((1, 1, 4, 4))), "padding"),
    ("AvgPool2d kernel -2", lambda t: L.AvgPool2d(-2), "kernel_size"),
    ("GlobalAvgPool2d rank", lambda t: L.GlobalAvgPool2d()(np.ones((2, 3))), "(N, C, H, W)"),
    ("Dropout p = 1", lambda t: L.Dropout(1.0), "p"),
    ("Dropout rng string", lambda t: L.Dropout(0.5, rng="seed"), "rng"),
    ("Sequential non-module", lambda t: L.Sequential(L.ReLU(), "relu"), "argument 1"),
    ("MLP one size", lambda t: L.MLP((4,)), "sizes"),
    ("LeNet input_size 2", lambda t: L.LeNet(input_size=2), "input_size"),
    ("RandomMultiScaleNet even kernel", lambda t: L.RandomMultiScaleNet(kernel_sizes=(3, 4)), "kernel_sizes"),
    ("to int dtype", lambda t: net().to(np.int32), "dtype"),
    ("cross_entropy label 5", lambda t: L.cross_entropy(np.zeros((2, 3)), [0, 5]), "target"),
    ("cross_entropy label 1.5", lambda t: L.cross_entropy(np.zeros((2, 3)), [0, 1.5]), "target"),
    ("cross_entropy wrong count", lambda t: L.cross_entropy(np.zeros((2, 3)), [0]), "target"),
    ("cross_entropy 1-D logits", lambda t: L.cross_entropy(np.zeros(3), [0]), "logits"),
    ("mse shapes", lambda t: L.mse_loss(np.zeros(3), np.zeros(4)), "mse_loss"),
    ("fit epochs 0", lambda t: L.fit(net(), X, Y, epochs=0), "epochs"),
    ("fit batch_size 0", lambda t: L.fit(net(), X, Y, batch_size=0), "batch_size"),
    ("fit unknown loss", lambda t: L.fit(net(), X, Y, loss="hinge"), "loss"),
    ("fit NaN in X", lambda t: L.fit(net(), np.full((20, 4), np.nan), Y), "NaN"),
    ("fit empty X", lambda t: L.fit(net(), np.ones((0, 4)), np.ones(0)), "empty"),
    ("fit X/y length", lambda t: L.fit(net(), X, Y[:10]), "samples"),
    ("fit label out of range", lambda t: L.fit(net(), X, np.r_[Y[:19], 7], progress_bar=False), "y"),
    ("fit validation label", lambda t: L.fit(net(), X, Y, validation_data=(X, np.full(20, 9)), progress_bar=False),
     "validation_data y"),
    ("fit validation not a pair", lambda t: L.fit(net(), X, Y, validation_data=X), "validation_data"),
    ("fit seed negative", lambda t: L.fit(net(), X, Y, seed=-1), "seed"),
    ("fit optimizer string", lambda t: L.fit(net(), X, Y, optimizer="adam"), "optimizer"),
    ("load missing", lambda t: net().load(os.path.join(t, "absent.npz")), "absent.npz"),
    ("load empty", lambda t: net().load(_file(t, "empty.npz", b"")), "empty.npz"),
    ("load text", lambda t: net().load(_file(t, "text.npz", b"hello weights")), "text.npz"),
    ("load truncated", lambda t: net().load(_truncated(t)), "half.npz"),
    ("load npy", lambda t: net().load(_npy(t)), "one.npy"),
    ("load_state_dict no match", lambda t: net().load_state_dict({"x": np.ones(2)}, strict=False), "no key"),
    ("load_state_dict strict", lambda t: net().load_state_dict({"x": np.ones(2)}), "missing keys"),
    ("load_state_dict shape", lambda t: net().load_state_dict({**net().state_dict(), "1.weight": np.ones(2)}),
     "1.weight"),
    ("load_state_dict strings", lambda t: net().load_state_dict(
        {**net().state_dict(), "1.bias": np.array(["a", "b", "c"])}), "1.bias"),
    ("load_state_dict not a mapping", lambda t: net().load_state_dict([1, 2]), "state_dict"),
    ("predict batch_size 0", lambda t: L.predict(net(), X, batch_size=0), "batch_size"),
    ("predict NaN", lambda t: L.predict(net(), np.full((2, 4), np.nan)), "X"),
    ("accuracy batch_size float", lambda t: L.accuracy(net(), X, Y, batch_size=2.5), "batch_size"),
    ("kaiming bad nonlinearity", lambda t: L.init.kaiming_uniform((3, 2), nonlinearity="swish"), "nonlinearity"),
    ("fan of a vector", lambda t: L.init.fan_in_and_out((3,)), "shape"),
]


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name, tmp_path):
    rejects(lambda: call(str(tmp_path)), name)


def test_fit_changes_nothing_before_a_bad_label():
    model = net()
    before = model.state_dict()
    with pytest.raises(ValueError, match="y: class indices"):
        L.fit(model, X, np.r_[Y[:19], 7], progress_bar=False, verbose=False)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_failed_load_keeps_the_weights(tmp_path):
    model = net()
    before = model.state_dict()
    with pytest.raises(ValueError):
        model.load(_truncated(str(tmp_path)))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
