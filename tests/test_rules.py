"""Swappable backward rules: guided and deconvnet, scoping, nesting, errors."""
import numpy as np
import pytest

import layers as L
import minigrad as mg


def relu_graph():
    x = mg.Tensor(np.array([-1.0, 2.0, 3.0, -4.0]), requires_grad=True)
    return x, mg.relu(x)


def test_guided_rule_on_a_case_where_the_masks_differ():
    x, y = relu_graph()
    seed = np.array([5.0, -6.0, 7.0, 8.0])  # forward mask (x>0) = 0110, backward mask (g>0) = 1011
    with mg.rules(relu=mg.guided):
        g, = mg.grad(y, [x], seed=seed)
    np.testing.assert_array_equal(g, np.maximum(seed, 0) * (x.data > 0))
    np.testing.assert_array_equal(g, [0.0, 0.0, 7.0, 0.0])
    plain, = mg.grad(y, [x], seed=seed)
    np.testing.assert_array_equal(plain, [0.0, -6.0, 7.0, 0.0])


def test_deconvnet_ignores_the_forward_sign():
    seed = np.array([5.0, -6.0, 7.0, 8.0])
    results = []
    for sign in (1.0, -1.0):
        x = mg.Tensor(sign * np.array([-1.0, 2.0, 3.0, -4.0]), requires_grad=True)
        with mg.rules(relu="deconvnet"):
            results.append(mg.grad(mg.relu(x), [x], seed=seed)[0])
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], np.maximum(seed, 0))


def test_one_forward_many_backwards_on_a_network():
    net = L.LeNet(seed=0)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)), requires_grad=True)
    logits = net(x)
    seed = np.eye(10)[[3, 7]]
    plain, = mg.grad(logits, [x], seed=seed)
    with mg.rules(relu="guided"):
        guided, = mg.grad(logits, [x], seed=seed)
    with mg.rules(relu="deconvnet"):
        deconv, = mg.grad(logits, [x], seed=seed)
    again, = mg.grad(logits, [x], seed=seed)
    np.testing.assert_array_equal(plain, again)
    assert not np.allclose(plain, guided) and not np.allclose(guided, deconv)


@pytest.mark.parametrize("rule", [None, "guided", "deconvnet"])
def test_every_rule_gives_the_same_gradient_on_every_convolution_path(rule):
    """A 32-channel 3x3 stack takes Winograd by default: the rules act on the ReLUs between the
    convolutions whichever kernel computes them, so the im2col path and the reference loops give
    the same gradients."""
    net = L.Sequential(L.Conv2d(3, 32, 3, padding=1, rng=np.random.default_rng(0)), L.ReLU(),
                       L.Conv2d(32, 32, 3, padding=1, rng=np.random.default_rng(1)), L.ReLU(),
                       L.Conv2d(32, 40, 3, padding=1, rng=np.random.default_rng(2)), L.ReLU())
    x = mg.Tensor(np.random.default_rng(3).standard_normal((2, 3, 11, 9)), requires_grad=True)
    seed = np.random.default_rng(4).standard_normal((2, 40, 11, 9))
    grads = []
    for path in ({"winograd": True}, {"winograd": False}, {"path": "reference"}):
        with mg.kernels(**path), mg.rules(**({"relu": rule} if rule else {})):
            grads.append(mg.grad(net(x), [x], seed=seed)[0])
    for other in grads[1:]:
        np.testing.assert_allclose(grads[0], other, rtol=0, atol=1e-12 * np.abs(other).max())


def test_rules_restore_after_exit_and_after_an_exception():
    assert mg.current_rules() == {}
    with mg.rules(relu=mg.guided):
        assert mg.current_rules()["relu"] is mg.guided
    assert mg.current_rules() == {}
    with pytest.raises(RuntimeError):
        with mg.rules(relu=mg.deconvnet):
            raise RuntimeError("boom")
    assert mg.current_rules() == {}


def test_nested_tables_compose():
    def double_sigmoid(ctx, g):
        return (2 * g * ctx.output * (1 - ctx.output),)

    with mg.rules(relu="guided"):
        with mg.rules(sigmoid=double_sigmoid):
            assert mg.current_rules() == {"relu": mg.guided, "sigmoid": double_sigmoid}
            with mg.rules(relu="plain"):
                assert mg.current_rules()["relu"] is None
            x, y = relu_graph()
            g, = mg.grad(y, [x], seed=np.array([5.0, -6.0, 7.0, 8.0]))
            np.testing.assert_array_equal(g, [0.0, 0.0, 7.0, 0.0])
            s = mg.Tensor(np.array([0.3]), requires_grad=True)
            gs, = mg.grad(mg.sigmoid(s), [s])
            sig = 1 / (1 + np.exp(-0.3))
            np.testing.assert_allclose(gs, 2 * sig * (1 - sig))
        assert mg.current_rules() == {"relu": mg.guided}


def test_a_custom_rule_sees_the_context():
    seen = {}

    def spy(ctx, g):
        seen.update(op=ctx.op.name, module=ctx.module, x=ctx.arrays[0], out=ctx.output)
        return ctx.op.backward(ctx, g)

    relu = L.ReLU()
    x = mg.Tensor(np.array([[-1.0, 1.0]]), requires_grad=True)
    y = relu(x)
    with mg.rules(relu=spy):
        mg.grad(y, [x])
    assert seen["op"] == "relu" and seen["module"] is relu
    np.testing.assert_array_equal(seen["out"], [[0.0, 1.0]])


def test_unknown_names_and_misapplied_rules_raise():
    with pytest.raises(ValueError, match="unknown op name 'relux'"):
        with mg.rules(relux=mg.guided):
            pass
    with pytest.raises(ValueError, match="unknown rule name 'guidet'"):
        with mg.rules(relu="guidet"):
            pass
    with pytest.raises(ValueError, match="applies to"):
        with mg.rules(conv2d=mg.guided):
            pass
    with pytest.raises(TypeError, match="must be a function"):
        with mg.rules(relu=3):
            pass
    assert mg.current_rules() == {}


def test_the_with_must_surround_the_backward_call():
    x, y = relu_graph()
    seed = np.array([5.0, -6.0, 7.0, 8.0])
    with mg.rules(relu="guided"):
        pass  # forward and backward both outside: plain gradient
    g, = mg.grad(y, [x], seed=seed)
    np.testing.assert_array_equal(g, [0.0, -6.0, 7.0, 0.0])


def test_gradcheck_through_a_rule_reports_the_mismatch():
    x = np.array([[-1.0, 2.0, 3.0, -4.0]])
    assert mg.gradcheck(mg.relu, [x]) < 1e-6
    with mg.rules(relu="deconvnet"):  # not the derivative of relu
        assert mg.gradcheck(mg.relu, [x]) > 1e-3
