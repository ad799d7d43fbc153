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
