"""In-place ReLU (``relu(x, inplace=True)``, ``layers.ReLU(inplace=True)`` as torchvision builds VGG,
ResNet and MobileNetV2): the result is written over the input's array only where nothing reads that
array again, so every value and every gradient, under every rule table, is the one the out-of-place
graph gives, and the recorded graph holds fewer arrays."""
import numpy as np
import pytest

import layers as L
import minigrad as mg
from minigrad import Tensor
from minigrad.backward import topological_order
from methods.deeplift import deeplift, deeplift_rules
from methods.relevance_propagation import lrp

RNG = np.random.default_rng(0)


def _set_inplace(model, inplace):
    for m in model.modules():
        if isinstance(m, (L.ReLU, L.ReLU6)):
            m.inplace = inplace
    return model


def _small_vgg(inplace):
    """A VGG-shaped net: conv-ReLU-pool twice, then linear-ReLU-linear (every ReLU after a layer)."""
    net = L.Sequential(L.Conv2d(3, 6, 3, padding=1, rng=1), L.ReLU(inplace), L.MaxPool2d(2),
                       L.Conv2d(6, 8, 3, padding=1, rng=2), L.ReLU(inplace), L.MaxPool2d(2),
                       L.Flatten(), L.Linear(8 * 4 * 4, 12, rng=3), L.ReLU(inplace), L.Linear(12, 5, rng=4))
    return net.eval()


def _activation_bytes(output):
    """Bytes of the distinct activations a recorded graph keeps: its nodes' outputs and the inputs
    that ops made (not the leaves: the image and the weights)."""
    arrays = {}
    for t in topological_order([output]):
        node = t._node
        if node is not None:
            made = [a for a, i in zip(node.arrays, node.inputs) if i._node is not None]
            for a in made + ([node.output] if node.output is not None else []):
                arrays[id(a)] = a.nbytes
    return sum(arrays.values())


@pytest.mark.parametrize("op, top", [(mg.relu, np.inf), (mg.relu6, 6.0)])
def test_inplace_writes_over_a_layer_output_and_gives_the_same_gradients(op, top):
    x = RNG.standard_normal((2, 3, 6, 6)) * 4
    w = RNG.standard_normal((4, 3, 3, 3))
    seed = RNG.standard_normal((2, 4, 6, 6))
    results = []
    for inplace in (False, True):
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        h = mg.conv2d(xt, wt, padding=1)
        before = h.data.copy()
        y = op(h, inplace=inplace)
        assert np.shares_memory(y.data, h.data) == inplace
        assert (h._node.output is None) == inplace  # the convolution's output is gone: it is y now
        np.testing.assert_array_equal(y.data, np.clip(before, 0, top))
        results.append([y.data.copy()] + mg.grad(y, [xt, wt], seed=seed))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_inplace_relu_passes_gradcheck():
    x, w = RNG.standard_normal((2, 2, 5, 5)), RNG.standard_normal((3, 2, 3, 3))
    err = mg.gradcheck(lambda a, b: mg.relu(mg.conv2d(a, b), inplace=True) * 1.5, [x, w])
    assert err < 1e-7


def test_what_is_read_elsewhere_is_never_overwritten():
    x = RNG.standard_normal((2, 3, 5, 5))
    kept = x.copy()
    # a leaf: the caller's array
    xt = Tensor(x, requires_grad=True)
    mg.relu(xt, inplace=True)
    np.testing.assert_array_equal(x, kept)
    # an output whose op's backward reads it (exp): d exp = g exp(x) needs exp(x) intact
    e = mg.exp(xt * 0.1)
    e_before = e.data.copy()
    y = mg.relu(e - 1.05, inplace=True)  # sub's output may go ...
    assert e._node.output is e.data
    y2 = mg.relu(e, inplace=True)  # ... exp's may not
    np.testing.assert_array_equal(e.data, e_before)
    assert not np.shares_memory(y2.data, e.data)
    g, = mg.grad(y2, [xt])
    np.testing.assert_allclose(g, 0.1 * e_before, rtol=1e-12)
    # an array another recorded op has read: conv's weight gradient needs h as it was
    h = xt * 2.0
    z = (h * 3.0).sum()
    r = mg.relu(h, inplace=True)
    assert not np.shares_memory(r.data, h.data)
    gz, = mg.grad(z, [xt])
    np.testing.assert_array_equal(gz, np.full_like(x, 6.0))
    # outside a recorded graph nothing keeps an op's output (so it is overwritten), the caller's
    # arrays and views stay; inside no_inplace() nothing is overwritten
    with mg.no_grad():
        h = xt * 2.0
        assert np.shares_memory(mg.relu(h, inplace=True).data, h.data)
        mg.relu(xt, inplace=True)
        v = (xt * 2.0).reshape(-1)  # a view of the product
        assert not np.shares_memory(mg.relu(v, inplace=True).data, v.data)
    np.testing.assert_array_equal(x, kept)
    with mg.no_inplace():
        h = xt * 2.0
        assert not np.shares_memory(mg.relu(h, inplace=True).data, h.data)


def test_a_captured_layer_keeps_its_values():
    net = _small_vgg(True)
    x = RNG.standard_normal((2, 3, 16, 16))
    with mg.capture(net[0], net[4]) as acts:
        logits = net(Tensor(x, requires_grad=True))
    reference = _small_vgg(False)
    with mg.capture(reference[0], reference[4]) as ref_acts:
        ref_logits = reference(Tensor(x, requires_grad=True))
    np.testing.assert_array_equal(logits.data, ref_logits.data)
    # the conv output (captured) and the ReLU input (captured at net[4]) stay pre-activations
    np.testing.assert_array_equal(acts[net[0]].data, ref_acts[reference[0]].data)
    np.testing.assert_array_equal(acts.inputs[net[4]].data, ref_acts.inputs[reference[4]].data)
    assert acts[net[0]].data.min() < 0 and acts.inputs[net[4]].data.min() < 0
    seed = np.eye(5)[[1, 3]]
    for a, b in zip(mg.grad(logits, [acts[net[0]], acts[net[4]]], seed=seed),
                    mg.grad(ref_logits, [ref_acts[reference[0]], ref_acts[reference[4]]], seed=seed)):
        np.testing.assert_array_equal(a, b)


def test_every_rule_table_and_method_sees_the_out_of_place_values():
    x = RNG.standard_normal((3, 3, 16, 16))
    nets = [_small_vgg(False), _small_vgg(True)]
    seed = np.eye(5)[[0, 2, 4]]
    grads = []
    for net in nets:
        xt = Tensor(x, requires_grad=True)
        y = net(xt)
        row = [mg.grad(y, [xt], seed=seed)[0]]
        for table in ({"relu": "guided"}, {"relu": "deconvnet"}):
            with mg.rules(**table):
                row.append(mg.grad(y, [xt], seed=seed)[0])
        grads.append(row)
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
    # LRP reads each layer's output z (recomputed where an in-place ReLU overwrote it)
    np.testing.assert_allclose(lrp(nets[1], x, [0, 2, 4]), lrp(nets[0], x, [0, 2, 4]), rtol=1e-10, atol=1e-14)
    # DeepLIFT's Rescale reads what entered each ReLU: it records its pass without in-place ops
    np.testing.assert_allclose(deeplift(nets[1], x, [0, 2, 4]), deeplift(nets[0], x, [0, 2, 4]), rtol=1e-12)


def test_rescale_refuses_a_graph_recorded_in_place():
    net = _small_vgg(True)
    xt = Tensor(RNG.standard_normal((2, 3, 16, 16)), requires_grad=True)
    y = net(xt)
    with mg.rules(**deeplift_rules()):
        with pytest.raises(ValueError, match="inplace=True.*no_inplace"):
            mg.grad(y, [xt], seed=np.eye(5)[[0, 1]])


def test_the_graph_keeps_fewer_arrays():
    x = RNG.standard_normal((1, 3, 32, 32)).astype(np.float32)
    held = []
    for inplace in (False, True):
        net = _set_inplace(L.vgg11(num_classes=10, seed=0, dtype=np.float32), inplace).eval()
        held.append(_activation_bytes(net(Tensor(x, requires_grad=True))))
    # each of VGG-11's eight convolutions' outputs was kept beside its ReLU's output
    assert held[1] < 0.7 * held[0], held


def test_torchvision_shaped_networks_use_inplace_relus_as_torchvision():
    for build in (L.vgg11, L.resnet18, L.mobilenet_v2):
        relus = [m for m in build(num_classes=4, seed=0).modules() if isinstance(m, (L.ReLU, L.ReLU6))]
        assert relus and all(m.inplace for m in relus), build.__name__
    assert "inplace=True" in repr(L.ReLU(inplace=True))
    assert not L.ReLU().inplace


@pytest.mark.parametrize("bad", [1, None, "yes"])
def test_inplace_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="inplace: expected True or False"):
        L.ReLU(inplace=bad)
    with pytest.raises(TypeError, match="relu6: inplace: expected True or False"):
        mg.relu6(Tensor(np.ones(3)), inplace=bad)


def test_from_torch_keeps_each_relus_inplace_setting():
    nn = pytest.importorskip("torch").nn
    converted = L.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 4), nn.ReLU(),
                                           nn.ReLU6(inplace=True)))
    assert [m.inplace for m in converted.modules() if isinstance(m, (L.ReLU, L.ReLU6))] == [True, False, True]


@pytest.mark.parametrize("build", [L.resnet18, L.mobilenet_v2])
def test_a_training_step_of_torchvision_shaped_networks_is_the_same_in_place(build):
    """Batch norm in training mode (its backward reads its input, not the output the ReLU overwrites),
    residual sums and ReLU6; ``backward()`` frees the graph as it goes."""
    x = RNG.standard_normal((2, 3, 32, 32))
    grads = []
    for inplace in (False, True):
        net = _set_inplace(build(num_classes=3, seed=0), inplace).train()
        loss = L.cross_entropy(net(Tensor(x)), np.array([0, 2]))
        loss.backward()
        grads.append([loss.data] + [p.grad for p in net.parameters()])
    assert len(grads[1]) > 50
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
