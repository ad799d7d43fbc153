"""Relevance propagation: LRP conservation and excitation backprop's winning probabilities,
checked against the papers' identities and against the formulas written out with matrices."""
import numpy as np
import pytest

import layers as L
import methods
import minigrad as mg
from minigrad import relevance


def zero_biases(model):
    for m in model.modules():
        if getattr(m, "bias", None) is not None:
            m.bias.data[:] = 0
    return model


@pytest.fixture(scope="module")
def nets():
    gap = zero_biases(L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=0))
    lenet = zero_biases(L.LeNet(in_channels=1, num_classes=5, input_size=12, seed=1))
    rng = np.random.default_rng(0)
    return [(gap, rng.random((3, 3, 12, 12))), (lenet, rng.random((3, 1, 12, 12)))]


def test_lrp_epsilon_conserves_relevance_with_zero_biases(nets):
    for net, x in nets:
        f = net(x).data[:, 2]
        r, delta = methods.lrp(net, x, 2, return_convergence_delta=True)
        assert r.shape == x.shape
        np.testing.assert_allclose(r.reshape(len(x), -1).sum(axis=1), f, rtol=1e-6)
        np.testing.assert_allclose(delta, 0, atol=1e-6 * np.abs(f).max())


def test_lrp_conserves_the_relevance_of_a_unit_of_any_layer(nets):
    net, x = nets[0]
    layer = net.features[3]  # a conv layer: R of A[1, 2, 3] sums to A[1, 2, 3]
    with mg.capture(layer) as acts:
        net(x)
    unit = acts[layer].data[:, 1, 2, 3]

    def target(_):
        return acts_now[layer][:, 1, 2, 3]

    with mg.capture(layer) as acts_now:
        r = methods.lrp(net, x, target)
    np.testing.assert_allclose(r.reshape(len(x), -1).sum(axis=1), unit, rtol=1e-6)


def test_lrp_gamma_zero_is_epsilon_and_gamma_shifts_relevance_to_positive_weights(nets):
    net, x = nets[0]
    first = net.features[0]
    eps = methods.lrp(net, x, 1)
    np.testing.assert_allclose(methods.lrp(net, x, 1, layer_rules={first: relevance.gamma(0.0)}), eps,
                               rtol=1e-10, atol=1e-14)
    assert not np.allclose(methods.lrp(net, x, 1, layer_rules={first: "gamma"}), eps)


def mwp_by_matrices(weights, biases, x, target, dual=False):
    """Zhang et al. 2016, eqs. 5-7, for an MLP y = W3 relu(W2 relu(W1 x + b1) + b2) + b3, layer by
    layer: P(a_j) = sum_i a_j w_ij^+ / (sum_k a_k w_ik^+) P(a_i), P = 1 at the target (biases only
    enter the forward pass)."""
    acts = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        acts.append(np.maximum(acts[-1] @ w.T + b, 0))
    p = np.zeros(weights[-1].shape[0])
    p[target] = 1.0
    for k in range(len(weights) - 1, -1, -1):
        w = weights[k]
        wp = np.maximum(-w if dual and k == len(weights) - 1 else w, 0)
        a = acts[k]
        contrib = wp * a[None, :]                   # (out, in): a_j w_ij^+
        z = contrib.sum(axis=1, keepdims=True)      # sum_k a_k w_ik^+
        cond = np.divide(contrib, z, out=np.zeros_like(contrib), where=z > 0)  # P(a_j | a_i)
        p = cond.T @ p
    return p


def test_excitation_backprop_equals_the_papers_formula_on_an_mlp():
    net = L.Sequential(L.Flatten(), L.Linear(12, 7, rng=0), L.ReLU(), L.Linear(7, 5, rng=1), L.ReLU(),
                       L.Linear(5, 3, rng=2))
    x = np.random.default_rng(1).random((4, 1, 3, 4))
    weights = [net[i].weight.data for i in (1, 3, 5)]
    biases = [net[i].bias.data for i in (1, 3, 5)]
    mwp = methods.excitation_backprop(net, x, 2)
    cmwp = methods.excitation_backprop(net, x, 2, contrastive=True)
    for n in range(len(x)):
        want = mwp_by_matrices(weights, biases, x[n].ravel(), 2)
        np.testing.assert_allclose(mwp[n].ravel(), want, rtol=1e-10)
        dual = mwp_by_matrices(weights, biases, x[n].ravel(), 2, dual=True)
        np.testing.assert_allclose(cmwp[n].ravel(), want - dual, rtol=1e-10, atol=1e-15)


def test_winning_probabilities_sum_to_one_at_every_layer(nets):
    for net, x in nets:
        p = methods.excitation_backprop(net, x, [0, 1, 2])
        assert p.shape == x.shape and p.min() >= 0
        np.testing.assert_allclose(p.reshape(len(x), -1).sum(axis=1), 1, rtol=1e-10)
        layer = net.features[2]
        m = methods.excitation_backprop(net, x, [0, 1, 2], layer=layer, upsample=False)
        np.testing.assert_allclose(m.sum(axis=(1, 2)), 1, rtol=1e-10)
        assert methods.excitation_backprop(net, x, 0, layer=layer).shape == (len(x),) + x.shape[2:]
        c = methods.excitation_backprop(net, x, [0, 1, 2], contrastive=True)
        np.testing.assert_allclose(c.reshape(len(x), -1).sum(axis=1), 0, atol=1e-12)
        cm = methods.excitation_backprop(net, x, [0, 1, 2], layer=layer, contrastive=True, upsample=False)
        assert cm.min() >= 0 and cm.max() > 0


def test_a_relevance_table_is_a_rule_table():
    x = mg.Tensor(np.array([[-1.0, 2.0, 3.0]]), requires_grad=True)
    w = mg.Tensor(np.array([[1.0, -1.0, 2.0]]))
    y = mg.relu(mg.linear(x, w))  # outside any layer: the plain backward
    with mg.rules(**relevance.relevance_rules({}, "epsilon")):
        g, = mg.grad(y, [x])
    np.testing.assert_allclose(g, [[1.0, -1.0, 2.0]])


def test_bad_relevance_arguments_raise_clear_errors(nets):
    net, x = nets[0]
    other = L.Linear(3, 3, rng=0)
    with pytest.raises(ValueError, match="layer: .* is not a layer of this model"):
        methods.lrp(net, x, 0, layer_rules={other: "epsilon"})
    with pytest.raises(ValueError, match="unknown relevance rule 'gama'"):
        methods.lrp(net, x, 0, layer_rules={net.fc: "gama"})
    with pytest.raises(TypeError, match="layer_rules: expected a dict"):
        methods.lrp(net, x, 0, layer_rules=[net.fc])
    with pytest.raises(TypeError, match="expected a LayerRule"):
        methods.lrp(net, x, 0, layer_rules={net.fc: 0.25})
    with pytest.raises(ValueError, match="epsilon: expected a finite number >= 0"):
        methods.lrp(net, x, 0, epsilon=-1)
    with pytest.raises(ValueError, match="gamma: expected a finite number >= 0"):
        relevance.gamma(float("nan"))
    with pytest.raises(ValueError, match="classifier: .* is not a layer"):
        methods.excitation_backprop(net, x, 0, contrastive=True, classifier=other)
    with pytest.raises(ValueError, match="target: class indices must lie in"):
        methods.excitation_backprop(net, x, 7)


# Issue 32: ops without a relevance rule, sums, dropout. Toy models with values worked out by hand.

class Apply(L.Module):
    """A layer running ``fn`` on its inputs (an op without a layer class of its own)."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def linear_then(layer, w):
    """x (N, 1, 1, F) -> layer(W x), W = w (1 or more rows) without bias."""
    lin = L.Linear(len(w[0]), len(w), bias=False)
    lin.weight.data[:] = w
    return L.Sequential(L.Flatten(), lin, layer)


def test_lrp_passes_relevance_through_a_sigmoid():
    """Linear then Sigmoid, z = 1*2 + 2*2 = 6: the sigmoid passes R = sigmoid(6) to z, the z-rule shares it
    as a_j w_j / z, so R = [2/6, 4/6] sigmoid(6). The plain backward gave sigmoid'(6) sigmoid(6): sum 0.0025."""
    net = linear_then(L.Sigmoid(), [[1.0, 2.0]])
    x = np.array([[[[2.0, 2.0]]]])
    s6 = 1 / (1 + np.exp(-6.0))
    r = methods.lrp(net, x, 0)
    np.testing.assert_allclose(r[0, 0, 0], [s6 / 3, 2 * s6 / 3], rtol=1e-8)
    assert abs(r.sum() - 0.99753) < 1e-5


@pytest.mark.parametrize("fn, op", [(lambda z: mg.softmax(z, axis=1), "softmax"), (lambda z: z.exp(), "exp"),
                                    (lambda z: z * z, "mul"), (lambda z: 1.0 / z, "div"), (lambda z: -z, "neg")])
def test_lrp_refuses_an_op_without_a_rule_and_takes_one_given(fn, op):
    net = linear_then(Apply(fn), [[1.0, 2.0], [3.0, -1.0]])
    x = np.array([[[[2.0, 1.0]]]])
    with pytest.raises(ValueError, match=rf"op '{op}' \(run by layer Apply\) has no relevance rule.*op_rules"):
        methods.lrp(net, x, 0)
    with pytest.raises(ValueError, match=rf"op '{op}'"):
        methods.excitation_backprop(net, x, 0)
    # a rule supplied for it is used: here relevance passes straight on, shared by the operands fed by z
    def straight_on(ctx, rel):
        return tuple(rel / sum(ctx.needs_input_grad) if fed else None for fed in ctx.needs_input_grad)

    r = methods.lrp(net, x, 0, op_rules={op: straight_on})
    z = np.array([4.0, 5.0])  # W x; R = output 0 at unit 0, shared 2*1/4, 1*2/4
    out = fn(mg.Tensor(z[None])).data[0, 0]
    np.testing.assert_allclose(r[0, 0, 0], [out / 2, out / 2], rtol=1e-8)


def test_every_op_has_an_entry_in_a_relevance_table():
    table = relevance.relevance_rules({}, "epsilon")
    assert set(table) == set(mg.OPS)
    # outside any layer (a callable target) an op without a rule is refused too: its plain backward
    # would scale R = e^4 by e^4 once more
    net = linear_then(L.ReLU(), [[1.0, 2.0], [3.0, -1.0]])
    x = np.array([[[[2.0, 1.0]]]])
    with pytest.raises(ValueError, match=r"op 'exp' \(run outside any layer \(in a callable target\?\)\)"):
        methods.lrp(net, x, lambda out: out.exp()[:, 0])
    r = methods.lrp(net, x, lambda out: out[:, 0])  # indexing moves R = 4 to unit 0: [2, 2]
    np.testing.assert_allclose(r[0, 0, 0], [2.0, 2.0], rtol=1e-8)


def test_lrp_shares_a_sum_and_gives_a_max_to_its_winner():
    """Sum over features: R_i = x_i / sum(x) R; max: the winner takes R (the plain backward of the sum
    gave every input the whole score)."""
    net = L.Sequential(L.Flatten(), Apply(lambda v: mg.concatenate([v.max(axis=1, keepdims=True),
                                                                    v.sum(axis=1, keepdims=True)], axis=1)))
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    np.testing.assert_allclose(methods.lrp(net, x, 1)[0, 0, 0], [1.0, 2.0, 3.0], rtol=1e-8)
    np.testing.assert_allclose(methods.lrp(net, x, 0)[0, 0, 0], [0.0, 0.0, 3.0], rtol=1e-8)


class SkipConnection(L.Module):
    """Captum's test_lrp_skip_connection: x + Linear(x), weights all 5, no bias, the sum in its own layer."""

    def __init__(self):
        self.linear = L.Linear(2, 2, bias=False)
        self.linear.weight.data[:] = 5.0
        self.add = Apply(lambda a, b: a + b)

    def forward(self, x):
        x = x.reshape((x.shape[0], -1))
        return self.add(self.linear(x), x)


def test_lrp_splits_a_skip_connection_and_honours_the_sums_rule():
    """x = [2, 3], Wx = [25, 25], output 1 = 25 + 3 = 28. The sum gives 25 to the linear path and 3 to the
    skip; the linear layer shares 25 as [2*5, 3*5] / 25: R = [10, 15 + 3] (Captum: [10, 18])."""
    net, x = SkipConnection(), np.array([[[[2.0, 3.0]]]])
    r, delta = methods.lrp(net, x, 1, return_convergence_delta=True)
    np.testing.assert_allclose(r[0, 0, 0], [10.0, 18.0], rtol=1e-8)
    np.testing.assert_allclose(delta, 0, atol=1e-7)
    # the sum's own rule is the one used: eps = 28 gives stab(28) = 56, so each share halves
    r = methods.lrp(net, x, 1, layer_rules={net.add: relevance.epsilon(28.0)})
    np.testing.assert_allclose(r[0, 0, 0], [5.0, 9.0], rtol=1e-8)
    # a rule for a layer that runs no op a rule applies to is refused, not ignored
    sigmoid_net = linear_then(L.Sigmoid(), [[1.0, 1.0]])
    for model, layer, name in ((net, net, "SkipConnection"), (sigmoid_net, sigmoid_net[2], "Sigmoid")):
        with pytest.raises(ValueError, match=rf"layer_rules: no op of {name} took the rule given to it"):
            methods.lrp(model, x, 0, layer_rules={layer: relevance.epsilon(28.0)})


def test_lrp_treats_subtracting_a_constant_as_a_bias_and_scaling_as_a_diagonal_layer():
    """y = w . ((x - m) * 2), x = [3, 5], m = 1, w = [1, 2]: v = [4, 8], y = 20. LRP-0: the linear layer gives
    [4, 16]; the constant factor passes it on; x - m is x plus the bias -m: R_x = x / (x - m) R = [6, 20]."""
    net = linear_then(L.Identity(), [[1.0, 2.0]])
    net = L.Sequential(Apply(lambda x: (x - 1.0) * 2.0), *net)
    r = methods.lrp(net, np.array([[[[3.0, 5.0]]]]), 0, epsilon=0.0)
    np.testing.assert_allclose(r[0, 0, 0], [6.0, 20.0], rtol=1e-12)


def test_lrp_passes_relevance_through_dropout_in_training_mode():
    """Dropout(p) then a linear layer without bias: R = x * keep * w / (keep . x w) * f = x * keep * w, the
    input x gradient with the same mask. The plain backward multiplied by keep = 1 / (1 - p) once more."""
    net = L.Sequential(L.Flatten(), L.Dropout(0.25), L.Linear(6, 2, bias=False, rng=1))
    x = np.random.default_rng(2).random((3, 1, 2, 3)) + 0.5
    net[1].rng = np.random.default_rng(5)
    r = methods.lrp(net, x, [0, 1, 0], epsilon=0.0)
    net[1].rng = np.random.default_rng(5)
    ixg = methods.input_x_gradient(net, x, [0, 1, 0])
    assert (ixg == 0).any() and (ixg != 0).any()  # the mask dropped some inputs and kept others
    np.testing.assert_allclose(r, ixg, rtol=1e-12, atol=1e-15)
