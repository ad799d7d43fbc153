"""The reverse pass itself: accumulation, purity of grad(), no_grad, detach, capture, dtypes."""
import weakref

import numpy as np
import pytest

import layers as L
import minigrad as mg
from minigrad import backward as backward_module


def test_diamond_graph_accumulates_both_paths():
    x = mg.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    a = x * 3.0
    y = a * a + a  # a is used twice: dy/dx = (2a + 1) * 3
    g, = mg.grad(y, [x])
    np.testing.assert_allclose(g, (2 * 3 * x.data + 1) * 3)


def test_same_tensor_twice_in_one_op():
    x = mg.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    g, = mg.grad(x * x, [x])
    np.testing.assert_allclose(g, 2 * x.data)


def test_grad_is_pure_and_backward_accumulates():
    x = mg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    g1, = mg.grad(y, [x])
    g2, = mg.grad(y, [x])  # the same graph can be differentiated again
    assert x.grad is None
    np.testing.assert_array_equal(g1, g2)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * (2 * x.data))


@pytest.mark.parametrize("retain_graph", [False, True])
def test_backward_frees_the_graph_as_it_goes_unless_retained(retain_graph):
    """Each activation's array is gone before the rules of the ops that made its input run (the
    peak of a training step), and a second backward through a freed graph says what to do."""
    x = mg.Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    b = mg.relu(x) * 3.0
    b_alive = weakref.ref(b.data)
    loss = (b * b).sum()
    del b
    seen = []

    def spy(ctx, g):
        seen.append(b_alive() is not None)
        return ctx.op.backward(ctx, g)

    with mg.rules(relu=spy):
        loss.backward(retain_graph=retain_graph)
    assert seen == [retain_graph]
    want = 18 * np.maximum(x.data, 0)  # d/dx sum (3 relu(x))^2
    np.testing.assert_allclose(x.grad, want)
    if retain_graph:
        loss.backward()
        np.testing.assert_allclose(x.grad, 2 * want)
    else:
        with pytest.raises(ValueError, match="retain_graph=True"):
            loss.backward()
        with pytest.raises(ValueError, match="freed"):
            mg.grad(loss, [x])


def test_grad_with_seed_and_unreachable_input():
    x = mg.Tensor(np.ones((2, 3)), requires_grad=True)
    z = mg.Tensor(np.ones(4), requires_grad=True)
    seed = np.arange(6.0).reshape(2, 3)
    gx, gz = mg.grad(x * 2.0, [x, z], seed=seed)
    np.testing.assert_allclose(gx, 2 * seed)
    np.testing.assert_array_equal(gz, np.zeros(4))
    seed[:] = 0  # the returned gradient does not alias the caller's seed
    assert gx.sum() > 0


def test_grad_skips_gradients_nobody_asked_for():
    conv = L.Conv2d(1, 2, 3, rng=0)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((1, 1, 5, 5)), requires_grad=True)
    y = conv(x)
    mg.grad(y, [x])
    assert y._node.needs_input_grad == (True, False, False)


def test_no_grad_records_nothing_and_detach_cuts_history():
    x = mg.Tensor(np.ones(3), requires_grad=True)
    with mg.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y._node is None
    assert mg.is_grad_enabled()
    d = (x * 2.0).detach()
    assert d.is_leaf and not d.requires_grad
    with pytest.raises(ValueError, match="requires grad"):
        mg.grad(y, [x])



@pytest.mark.parametrize("reuse_buffers", [False, True])
def test_unrecorded_convolutions_do_not_share_their_scratch_columns(reuse_buffers, monkeypatch):
    # conv2d builds its im2col columns and GEMM rows in scratch space (reused buffers unless glibc
    # keeps freed memory); each result must still be its own array, equal to the recorded one
    from minigrad.kernels import process_settings
    monkeypatch.setattr(process_settings, "freed_memory_kept", not reuse_buffers)
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        conv = L.Conv2d(3, 4, 3, padding=1, rng=rng).to(dtype)
        xs = [rng.standard_normal((2, 3, 6, 5)).astype(dtype) for _ in range(2)]
        recorded = [conv(mg.Tensor(x, requires_grad=True)).data for x in xs]
        with mg.no_grad():
            free = [conv(x).data for x in xs]
        for r, f in zip(recorded, free):
            assert f.dtype == dtype and np.array_equal(r, f)
        assert not np.array_equal(free[0], free[1])

def test_capture_returns_layer_outputs_as_graph_tensors():
    net = L.GAPNet(seed=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16))
    layer = net.features[4]
    with mg.capture(layer, net.gap) as acts:
        logits = net(x)
    A = acts[layer]
    assert A.shape == (2, 32, 8, 8) and acts[net.gap].shape == (2, 64)
    onehot = np.eye(6)[[1, 4]]
    gA, = mg.grad(logits, [A], seed=onehot)
    # check one entry against a finite difference through the rest of the network
    rest = mg.Tensor(A.data)
    def head(a):
        h = a
        for m in list(net.features)[5:]:
            h = m(h)
        return (net.fc(net.gap(h)).data * onehot).sum()
    eps = 1e-6
    bumped = rest.data.copy()
    bumped[0, 3, 2, 5] += eps
    lowered = rest.data.copy()
    lowered[0, 3, 2, 5] -= eps
    fd = (head(mg.Tensor(bumped)) - head(mg.Tensor(lowered))) / (2 * eps)
    assert abs(gA[0, 3, 2, 5] - fd) < 1e-6 * max(1, abs(fd))


def test_capture_works_when_no_weight_requires_grad():
    net = L.GAPNet(seed=0)
    for p in net.parameters():
        p.requires_grad = False
    with mg.capture(net.features[-1]) as acts:
        logits = net(np.ones((1, 3, 8, 8)))
    gA, = mg.grad(logits[:, 0], [acts[net.features[-1]]])
    assert gA.shape == (1, 64, 2, 2) and np.abs(gA).sum() > 0


def test_node_knows_its_layer():
    net = L.Sequential(L.Linear(3, 2, rng=0), L.ReLU())
    y = net(mg.Tensor(np.ones((1, 3)), requires_grad=True))
    assert y._node.op.name == "relu" and y._node.module is net[1]
    assert y._node.inputs[0]._node.module is net[0]


def test_float32_stays_float32_end_to_end():
    net = L.LeNet(seed=0).float()
    x = mg.Tensor(np.ones((2, 1, 28, 28), dtype=np.float32), requires_grad=True)
    y = net(x)
    assert y.dtype == np.float32
    loss = L.cross_entropy(y, [1, 2])
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    assert (x * 2.0 + 1).dtype == np.float32  # python scalars do not upcast


def test_tensor_rejects_non_numeric_data_and_bad_grad_arguments():
    with pytest.raises(TypeError, match="numeric"):
        mg.Tensor(np.array(["a", "b"]))
    x = mg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="inputs"):
        mg.grad(x * 2.0, [np.ones(3)])
    with pytest.raises(ValueError, match="seed"):
        mg.grad(x * 2.0, [x], seed=np.ones(4))


def test_backward_gives_each_leaf_a_gradient_of_its_own():
    # add's backward hands the same array to both inputs, and the seed is the caller's: .grad never
    # aliases them (gradients the pass made fresh are kept without a copy)
    a = mg.Tensor(np.ones((3, 4)), requires_grad=True)
    b = mg.Tensor(np.ones((3, 4)), requires_grad=True)
    seed = np.full((3, 4), 2.0)
    (a + b).backward(seed)
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, seed) and not np.shares_memory(b.grad, seed)
    a.grad += 1
    np.testing.assert_array_equal(b.grad, 2.0)
    np.testing.assert_array_equal(seed, 2.0)
    c = mg.Tensor(np.ones(5), requires_grad=True)
    s = np.arange(5.0)
    c.backward(s)  # a leaf that is its own output: its gradient is the seed, copied
    assert not np.shares_memory(c.grad, s)


@pytest.mark.parametrize("table", [{}, {"relu": "guided"}, {"relu": "deconvnet"}], ids=["plain", "guided", "deconvnet"])
def test_no_backward_rule_turns_float32_into_float64(table, monkeypatch):
    # a float64 gradient in a float32 graph runs every later kernel at half speed (Max's backward
    # once divided by an integer count); the pass casts, but each rule must already keep the dtype
    seen = []
    checked = backward_module._checked

    def record(node, rule, grads):
        seen.extend((node.op.name, g.dtype) for g in grads if g is not None)
        return checked(node, rule, grads)

    monkeypatch.setattr(backward_module, "_checked", record)
    net = L.resnet18(num_classes=5, seed=0, dtype=np.float32)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32), requires_grad=True)
    for mode in (net.eval, net.train):
        mode()
        y = net(x)
        outs = [y.max(axis=1).sum(), y.mean(), mg.softmax(y, axis=1).sum(), mg.log_softmax(y, axis=1).sum(),
                L.cross_entropy(y, [0, 3]), mg.avg_pool2d(x, 2).sum()]
        with mg.rules(**table):
            grads = [mg.grad(o, [x])[0] for o in outs]
        assert all(g.dtype == np.float32 for g in grads)
    assert seen and {dtype for _, dtype in seen} == {np.dtype(np.float32)}, sorted(set(seen))
