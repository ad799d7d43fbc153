"""Module API, state dicts, save/load, layer gradients, and clear errors on bad input."""
import numpy as np
import pytest

import layers as L
import minigrad as mg


def test_layers_gradcheck_through_modules():
    rng = np.random.default_rng(0)
    conv = L.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), rng=1)
    lin = L.Linear(4, 3, rng=2)
    x = rng.standard_normal((2, 2, 7, 5))
    # parameters enter as explicit inputs so that their gradients are checked too
    def conv_fn(t, w, b):
        conv.weight.data, conv.bias.data = w.data, b.data
        return mg.conv2d(t, w, b, conv.stride, conv.padding)
    assert mg.gradcheck(conv_fn, [x, conv.weight, conv.bias]) < 1e-6
    assert mg.gradcheck(lambda t, w, b: mg.linear(t, w, b), [rng.standard_normal((3, 4)), lin.weight, lin.bias]) < 1e-6
    for layer in (L.MaxPool2d(3, stride=2, padding=1), L.AvgPool2d((2, 3), stride=1), L.GlobalAvgPool2d(),
                  L.Flatten(), L.ReLU(), L.Sigmoid(), L.Tanh()):
        assert mg.gradcheck(layer, [x + 1e-3 * np.arange(x.size).reshape(x.shape)]) < 1e-6, layer


def test_whole_networks_gradcheck():
    rng = np.random.default_rng(0)
    for net, shape in ((L.LeNet(seed=0), (2, 1, 28, 28)), (L.LeNet(input_size=8, seed=0), (2, 1, 8, 8)),
                       (L.GAPNet(seed=0), (2, 3, 12, 12)), (L.MLP((12, 5, 3), seed=0), (2, 3, 4))):
        assert mg.gradcheck(net, [rng.standard_normal(shape)]) < 1e-6, type(net).__name__


def test_state_dict_keys_and_layouts_match_pytorch_names():
    net = L.Sequential(L.Conv2d(3, 8, 3), L.ReLU(), L.Flatten(), L.Linear(8 * 4 * 4, 10))
    sd = net.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert sd["0.weight"].shape == (8, 3, 3, 3) and sd["3.weight"].shape == (10, 128)
    assert list(L.MLP((4, 3, 2)).state_dict()) == ["1.weight", "1.bias", "3.weight", "3.bias"]


def test_state_dict_round_trip_and_save_load(tmp_path):
    a, b = L.LeNet(seed=0), L.LeNet(seed=1)
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28))
    assert not np.allclose(a(x).data, b(x).data)
    path = tmp_path / "lenet.npz"
    a.save(path)
    b.load(path)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    sd = a.state_dict()
    sd["features.0.bias"][:] = 99  # state_dict returns copies
    assert not np.any(a.features[0].bias.data == 99)


def test_load_state_dict_errors_name_the_key_and_change_nothing():
    net = L.Sequential(L.Linear(3, 2, rng=0))
    before = net.state_dict()
    good = {"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(2)}
    with pytest.raises(ValueError, match=r"missing keys \['0.bias'\]"):
        net.load_state_dict({"0.weight": good["0.weight"]})
    with pytest.raises(ValueError, match=r"unexpected keys \['1.weight'\]"):
        net.load_state_dict({**good, "1.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'0.weight' expected shape \(2, 3\), got \(3, 2\)"):
        net.load_state_dict({"0.weight": np.zeros((3, 2)), "0.bias": np.ones(2)})
    for k, v in before.items():
        np.testing.assert_array_equal(net.state_dict()[k], v)
    net.load_state_dict(good)
    assert not net.state_dict()["0.weight"].any()


def test_load_rejects_a_file_that_is_not_weights(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cannot read weights"):
        L.LeNet().load(bad)


def test_train_eval_parameters_and_dtype():
    net = L.Sequential(L.Linear(3, 3, rng=0), L.Dropout(0.5, rng=0))
    assert len(net.parameters()) == 2 and all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    x = np.ones((4, 3))
    np.testing.assert_array_equal(net(x).data, net[0](x).data)
    net.train()
    out = net(x).data
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2 * net[0](x).data[kept])
    net.float()
    assert net[0].weight.dtype == np.float32


def test_bad_inputs_raise_clear_errors():
    conv = L.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*expected input of shape \(N, C, H, W\), got shape \(3, 8, 8\)"):
        conv(np.ones((3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected 3 input channels, got 1"):
        conv(np.ones((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"expected 5 input features, got 4"):
        L.Linear(5, 2)(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"kernel 5x5 is larger than the padded input 4x4"):
        L.Conv2d(1, 1, 5, padding=1)(np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding should be at most half"):
        L.MaxPool2d(2, padding=2)(np.ones((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="numeric"):
        L.Linear(2, 2)(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="Sequential: argument 1"):
        L.Sequential(L.ReLU(), "relu")
