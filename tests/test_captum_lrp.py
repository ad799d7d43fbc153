"""Issue 32: Captum 0.9's own unit tests of LRP (tests/attr/test_lrp.py) and LayerLRP
(tests/attr/layer/test_layer_lrp.py), written anew for ``methods.lrp`` and ``methods.layer_lrp`` on
Captum's toy models: the same inputs, targets, rules, expected values and tolerance (Captum's
``assertTensorAlmostEqual``: shapes equal, sum of absolute differences <= 1e-4 by default).

Captum sets a rule as a ``rule`` attribute of a module; here it is ``layer_rules={module: rule}``
with ``minigrad.relevance``'s rules (EpsilonRule = epsilon(1e-9), GammaRule(g) = gamma(g) with
Captum's default 0.25, Alpha1_Beta0_Rule = alpha1beta0()). Captum's models are float32; where a case
asserts an exact equality (a delta of exactly 0) it runs in float32 as well (``model.float()``), where
LRP-eps's 1e-9 vanishes next to the scores as it does in Captum.

Not ported: test_lrp.py::test_futures_not_implemented (``attribute_future``: minigrad has no futures
API). Already reproduced: test_lrp.py::test_lrp_skip_connection in
tests/test_relevance.py::test_lrp_splits_a_skip_connection_and_honours_the_sums_rule (same model,
input [2, 3], target 1, expected [10, 18]).
"""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
from minigrad import relevance

sys.path.insert(0, os.path.dirname(__file__))
from captum_models import BasicModel_ConvNet_One_Conv, BasicModel_MultiLayer, assert_almost_equal  # noqa: E402


def basic_config():
    """Captum's _get_basic_config: BasicModel_ConvNet_One_Conv and arange(16) as (1, 1, 4, 4)."""
    return BasicModel_ConvNet_One_Conv(), np.arange(16.0).reshape(1, 1, 4, 4)


def _fill(layer, value):
    layer.weight.data = np.full(layer.weight.shape, value)
    return layer


class SimpleLRPModel(L.Module):
    """Captum's SimpleLRPModel: dropout(linear2(relu(linear(x)))), linear 3->3 weights 2, linear2
    3->1 weights 3, no biases, Dropout(p=0.01)."""

    def __init__(self, inplace=False):
        self.linear = _fill(L.Linear(3, 3, bias=False), 2.0)
        self.relu = L.ReLU(inplace=inplace)
        self.linear2 = _fill(L.Linear(3, 1, bias=False), 3.0)
        self.dropout = L.Dropout(p=0.01, rng=1234)

    def forward(self, x):
        return self.dropout(self.linear2(self.relu(self.linear(x))))


def simple_model(inplace=False):
    """Captum's _get_simple_model: SimpleLRPModel and the input [[1, 2, 3]] (as a one-input tuple)."""
    return SimpleLRPModel(inplace), (np.array([[1.0, 2.0, 3.0]]),)


class TanhModel(L.Module):
    """Captum's test_lrp_simple_tanh model: linear2(tanh(linear(x))), weights all 0.1, no biases."""

    def __init__(self):
        self.linear = _fill(L.Linear(3, 3, bias=False), 0.1)
        self.tanh = L.Tanh()
        self.linear2 = _fill(L.Linear(3, 1, bias=False), 0.1)

    def forward(self, x):
        return self.linear2(self.tanh(self.linear(x)))


def _with_a_negative_weight(model):
    """Captum's ``model.linear.weight.data[0][0] = -2`` then ``model.eval()``."""
    model.linear.weight.data[0, 0] = -2.0
    return model.eval()


# --- tests/attr/test_lrp.py -----------------------------------------------------------------------


class TestLRP:
    """Captum tests/attr/test_lrp.py::Test."""

    def test_lrp_creator(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_creator: a rule that is not a rule (1) is
        refused (Captum's TypeError)."""
        model, x = basic_config()
        with pytest.raises((ValueError, TypeError)):
            methods.lrp(model, x, 0, layer_rules={model.conv1: 1})

    def test_lrp_creator_activation(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_creator_activation: a Sigmoid module added to
        the model (never run by forward). Captum refuses any Sigmoid without a rule (TypeError); LRP
        here passes relevance through a sigmoid (README, "LRP through a sigmoid") and a module that
        does not run takes no part, so the result is test_lrp_basic_attributions' (our convention)."""
        model, x = basic_config()
        model.sigmoid = L.Sigmoid()
        expected = [[[[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11], [0, 0, 0, 0]]]]
        assert_almost_equal(methods.lrp(model, x, 0), expected)

    def test_lrp_basic_attributions(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_basic_attributions: target = the argmax class,
        delta exactly 0 (float32, as Captum)."""
        model, x = basic_config()
        model.float()
        x = x.astype(np.float32)
        target = int(model(x).data.argmax(axis=1)[0])
        r, delta = methods.lrp(model, x, target, return_convergence_delta=True)
        assert delta.item() == 0
        assert r.shape == x.shape
        assert_almost_equal(r, [[[[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11], [0, 0, 0, 0]]]])

    def test_lrp_simple_attributions(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_attributions (target None: the model
        has one output)."""
        model, x = simple_model()
        model.eval()
        rules = {model.linear: relevance.epsilon(), model.linear2: relevance.epsilon()}
        r, = methods.lrp(model, x, None, layer_rules=rules)
        assert_almost_equal(r, [[18.0, 36.0, 54.0]])

    def test_lrp_simple_attributions_batch(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_attributions_batch: the batch (x, 3x)."""
        model, (x,) = simple_model()
        model.eval()
        rules = {model.linear: relevance.epsilon(), model.linear2: relevance.epsilon()}
        xb = np.concatenate([x, 3 * x])
        (r,), delta = methods.lrp(model, (xb,), 0, layer_rules=rules, return_convergence_delta=True)
        assert r.shape == xb.shape
        assert delta.shape[0] == xb.shape[0]
        assert_almost_equal(r, [[18.0, 36.0, 54.0], [54.0, 108.0, 162.0]])

    def test_lrp_simple_repeat_attributions(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_repeat_attributions: LRP (gamma on
        linear, alpha1beta0 on linear2) leaves the model's output unchanged."""
        model, x = simple_model()
        model.eval()
        before = model(x[0]).data.copy()
        methods.lrp(model, x, None, layer_rules={model.linear: relevance.gamma(), model.linear2: "alpha1beta0"})
        assert_almost_equal(model(x[0]).data, before)

    def test_lrp_simple_inplaceReLU(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_inplaceReLU: an in-place ReLU gives the
        same relevance (and both are test_lrp_simple_attributions' [18, 36, 54])."""
        default, x = simple_model()
        inplace, _ = simple_model(inplace=True)
        rs = []
        for model in (default, inplace):
            model.eval()
            rs.append(methods.lrp(model, x, None,
                                  layer_rules={model.linear: "epsilon", model.linear2: "epsilon"})[0])
        assert_almost_equal(rs[0], rs[1])
        assert_almost_equal(rs[1], [[18.0, 36.0, 54.0]])

    def test_lrp_simple_tanh(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_tanh: relevance passes the tanh."""
        r, = methods.lrp(TanhModel(), (np.array([[1.0, 2.0, 3.0]]),), None)
        assert_almost_equal(r, [[0.0269, 0.0537, 0.0806]])

    def test_lrp_simple_attributions_GammaRule(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_attributions_GammaRule: weight[0][0]
        = -2, gamma(1) on linear, gamma (0.25) on linear2."""
        model, x = simple_model()
        _with_a_negative_weight(model)
        rules = {model.linear: relevance.gamma(gamma=1), model.linear2: relevance.gamma()}
        r, = methods.lrp(model, x, None, layer_rules=rules)
        assert_almost_equal(r, [[28 / 3, 104 / 3, 52]])

    def test_lrp_simple_attributions_AlphaBeta(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple_attributions_AlphaBeta."""
        model, x = simple_model()
        _with_a_negative_weight(model)
        rules = {model.linear: relevance.alpha1beta0(), model.linear2: relevance.alpha1beta0()}
        r, = methods.lrp(model, x, None, layer_rules=rules)
        assert_almost_equal(r, [[12, 33.6, 50.4]])

    def test_lrp_Identity(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_Identity: Captum's IdentityRule on linear
        (the relevance at its output is its input's, unchanged), epsilon on linear2. minigrad has no
        identity layer rule; ``op_rules`` gives the 'linear' op one that passes relevance on at
        ``linear`` and applies epsilon elsewhere."""
        model, x = simple_model()
        _with_a_negative_weight(model)
        eps = relevance.epsilon()

        def identity_at_linear(ctx, r):
            if ctx.module is model.linear:
                return (r,) + (None,) * (len(ctx.arrays) - 1)
            return eps(ctx, r)

        r, = methods.lrp(model, x, None, op_rules={"linear": identity_at_linear})
        assert_almost_equal(r, [[24.0, 36.0, 36.0]])

    def test_lrp_simple2_attributions(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_simple2_attributions: the model returns only
        sample 0's output, relu(lin(x))[0] (lin 2->2, weights ones, random bias); the relevance has
        the input's shape (2, 2)."""
        class MyModel(L.Module):
            def __init__(self):
                self.lin = L.Linear(2, 2, rng=0)
                self.lin.weight.data = np.ones((2, 2))
                self.relu = L.ReLU()

            def forward(self, x):
                return self.relu(self.lin(x))[0:1]

        x = np.array([[1.0, 2.0], [1.0, 3.0]])
        r, = methods.lrp(MyModel(), (x,), 0)
        assert r.shape == x.shape

    def test_lrp_maxpool1D(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_maxpool1D: Linear(2, 2) (weights 2, no bias)
        on the last axis of a (1, 2, 2) input, then MaxPool1d(2). minigrad has no MaxPool1d nor a
        Linear over a 3-d input: the same computation is the linear on the rows and MaxPool2d((1, 2))
        on (N, 1, rows, 2)."""
        class MaxPoolModel(L.Module):
            def __init__(self):
                self.linear = _fill(L.Linear(2, 2, bias=False), 2.0)
                self.maxpool = L.MaxPool2d((1, 2))

            def forward(self, x):
                n, rows, _ = x.shape
                h = self.linear(x.reshape(n * rows, 2)).reshape(n, 1, rows, 2)
                return self.maxpool(h).reshape(n, rows)

        r, = methods.lrp(MaxPoolModel(), (np.array([[[1.0, 2.0], [5.0, 6.0]]]),), 1)
        assert_almost_equal(r, [[[0.0, 0.0], [10, 12]]])

    def test_lrp_maxpool2D(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_maxpool2D: the window's maximum takes all."""
        class MaxPoolModel(L.Module):
            def __init__(self):
                self.maxpool = L.MaxPool2d(2)

            def forward(self, x):
                return self.maxpool(x)

        r = methods.lrp(MaxPoolModel(), np.array([[[[1.0, 2.0], [5.0, 6.0]]]]), None)
        assert_almost_equal(r, [[[[0.0, 0.0], [0.0, 6.0]]]])

    def test_lrp_maxpool3D(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_maxpool3D: MaxPool3d(2) on a (1, 1, 2, 2, 2)
        input. minigrad has no MaxPool3d: its one 2x2x2 window is a MaxPool2d((2, 4)) of the volume
        reshaped to (1, 1, 2, 4)."""
        class MaxPoolModel(L.Module):
            def __init__(self):
                self.maxpool = L.MaxPool2d((2, 4))

            def forward(self, x):
                return self.maxpool(x.reshape(x.shape[0], 1, 2, 4))

        x = np.array([[[[[1.0, 2.0], [5.0, 6.0]], [[3.0, 4.0], [7.0, 8.0]]]]])
        r, = methods.lrp(MaxPoolModel(), (x,), None)
        assert_almost_equal(r, [[[[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 8.0]]]]])

    def test_lrp_multi(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_multi: add_input=0 as an additional forward
        argument changes neither the output nor the relevance (exactly). In float32, as Captum: in
        float64 the sum x + 0 is shared by the sum rule as x / (x + 0 + 1e-9), which moves the
        relevance by 1e-9 relative ([3, 6, 9] -> [2.99999999, ...]). The 0 is a float32 zero:
        captum_models' forward wraps add_input in a Tensor, and a float64 0-d Tensor makes x + 0
        float64 in minigrad (torch keeps float32)."""
        model = BasicModel_MultiLayer().float()
        x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
        zero = np.float32(0)
        assert np.array_equal(model(x).data, model(x, zero).data)
        r, = methods.lrp(model, (x,), 0)
        r_add, = methods.lrp(model, (x,), 0, additional_forward_args=(zero,))
        assert r.dtype == r_add.dtype == np.float32
        assert np.array_equal(r, r_add)

    def test_lrp_multi_inputs(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_multi_inputs: the tuple (x, 3x), so the model
        runs on x + 3x. Captum's LRP has no rule for that sum inside the forward and hands each input
        the whole relevance of x + 3x ([16, 32, 48] each, delta 88 - 192 = -104: relevance created).
        minigrad's sum rule (``minigrad.relevance``) splits it in proportion to the summands, x / 4x
        and 3x / 4x, as it does at a skip connection, where Captum splits too: a documented
        difference (README). What is not conserved is only what the biases take (delta 88 - 96)."""
        model = BasicModel_MultiLayer()
        x = np.array([[1.0, 2.0, 3.0]])
        r, delta = methods.lrp(model, (x, 3 * x), 0, return_convergence_delta=True)
        assert len(r) == 2
        assert_almost_equal(r[0], [[4, 8, 12]])
        assert_almost_equal(r[1], [[12, 24, 36]])
        assert_almost_equal(r[0] + r[1], [[16, 32, 48]])  # Captum's relevance of the sum, shared out
        assert_almost_equal(delta, [-8.0])

    def test_lrp_ixg_equivalency(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_ixg_equivalency: on SimpleLRPModel (ReLU
        network without biases, left in training mode as Captum's, dropout's mask the same for both)
        LRP-eps equals input x gradient."""
        model, x = simple_model()
        model.dropout.rng = np.random.default_rng(1234)
        r, = methods.lrp(model, x, None)
        model.dropout.rng = np.random.default_rng(1234)
        ixg, = methods.input_x_gradient(model, x, None)
        assert_almost_equal(r, ixg)

    def test_lrp_repeated_module(self):
        """Captum tests/attr/test_lrp.py::Test::test_lrp_repeated_module: BasicModelWithReusedLinear,
        relu(lin1(relu(lin1(x)))). Captum refuses a module used twice (RuntimeError "more than once");
        here rules are per node, so the relevance equals that of the unrolled network with two copies
        of lin1 (README, "a module used twice in one forward"; our convention). Captum's weights are
        torch-random: these come from a seeded generator."""
        class Reused(L.Module):
            def __init__(self):
                self.lin1 = L.Linear(3, 3, rng=7)
                self.relu = L.ReLU()

            def forward(self, x):
                return self.relu(self.lin1(self.relu(self.lin1(x))))

        class Unrolled(L.Module):
            def __init__(self, lin):
                self.lin1, self.lin2 = L.Linear(3, 3), L.Linear(3, 3)
                for copy in (self.lin1, self.lin2):
                    copy.weight.data, copy.bias.data = lin.weight.data.copy(), lin.bias.data.copy()
                self.relu = L.ReLU()

            def forward(self, x):
                return self.relu(self.lin2(self.relu(self.lin1(x))))

        reused = Reused()
        x = (np.ones((2, 3)),)
        r, = methods.lrp(reused, x, 0)
        expected, = methods.lrp(Unrolled(reused.lin1), x, 0)
        assert np.abs(expected).sum() > 1e-3  # a case where relevance reaches the input at all
        assert_almost_equal(r, expected)


# --- tests/attr/layer/test_layer_lrp.py -----------------------------------------------------------


class TestLayerLRP:
    """Captum tests/attr/layer/test_layer_lrp.py::Test."""

    def test_lrp_creator(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_creator: a rule that is not a rule
        is refused (Captum's TypeError)."""
        model, x = basic_config()
        with pytest.raises((ValueError, TypeError)):
            methods.layer_lrp(model, x, 0, model.conv1, layer_rules={model.conv1: 1})

    def test_lrp_creator_activation(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_creator_activation: an unused
        Sigmoid module added. Captum refuses it (TypeError); here it takes no part (README, "LRP
        through a sigmoid"; our convention): the relevance at conv1 is test_lrp_basic_attributions'."""
        model, x = basic_config()
        model.sigmoid = L.Sigmoid()
        r = methods.layer_lrp(model, x, 0, model.conv1)
        assert_almost_equal(r[0], [[[0, 4], [31, 40]], [[0, 0], [-6, -15]]])

    def test_lrp_basic_attributions(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_basic_attributions: the relevance
        at conv1's output, and delta 0."""
        model, x = basic_config()
        target = int(model(x).data.argmax(axis=1)[0])
        r, delta = methods.layer_lrp(model, x, target, model.conv1, return_convergence_delta=True)
        assert_almost_equal(r[0], [[[0, 4], [31, 40]], [[0, 0], [-6, -15]]])
        assert_almost_equal(delta, [0.0])

    def test_lrp_simple_attributions(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_attributions: the relevance
        at linear2's input equals that at linear's output (the ReLU between passes it), delta exactly 0
        (float32, as Captum)."""
        model, (x,) = simple_model()
        model.eval().float()
        x = (x.astype(np.float32),)
        rules = {model.linear: relevance.epsilon(), model.linear2: relevance.epsilon()}
        upper, delta = methods.layer_lrp(model, x, None, model.linear2, attribute_to_layer_input=True,
                                         layer_rules=rules, return_convergence_delta=True)
        lower = methods.layer_lrp(model, x, None, model.linear, layer_rules=rules)
        assert_almost_equal(lower[0], upper[0])
        assert delta.item() == 0

    def test_lrp_simple_repeat_attributions(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_repeat_attributions: the
        model's output is unchanged by LayerLRP."""
        model, x = simple_model()
        model.eval()
        before = model(x[0]).data.copy()
        methods.layer_lrp(model, x, None, model.linear,
                          layer_rules={model.linear: relevance.gamma(), model.linear2: "alpha1beta0"})
        assert_almost_equal(model(x[0]).data, before)

    def test_lrp_simple_inplaceReLU(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_inplaceReLU: at linear2's
        input, an in-place ReLU gives the same relevance (both [36, 36, 36], the sum 108)."""
        default, x = simple_model()
        inplace, _ = simple_model(inplace=True)
        rs = []
        for model in (default, inplace):
            model.eval()
            rs.append(methods.layer_lrp(model, x, None, model.linear2, attribute_to_layer_input=True,
                                        layer_rules={model.linear: "epsilon", model.linear2: "epsilon"}))
        assert_almost_equal(rs[0][0], rs[1][0])
        assert_almost_equal(rs[1][0], [36.0, 36.0, 36.0])

    def test_lrp_simple_tanh(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_tanh: at linear's output."""
        model = TanhModel()
        _, x = simple_model()
        r = methods.layer_lrp(model, x, None, model.linear)
        assert_almost_equal(r[0], [0.0537, 0.0537, 0.0537])

    def test_lrp_simple_attributions_GammaRule(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_attributions_GammaRule."""
        model, x = simple_model()
        _with_a_negative_weight(model)
        rules = {model.linear: relevance.gamma(gamma=1), model.linear2: relevance.gamma()}
        r = methods.layer_lrp(model, x, None, model.linear, layer_rules=rules)
        assert_almost_equal(r[0], [24.0, 36.0, 36.0])

    def test_lrp_simple_attributions_AlphaBeta(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_attributions_AlphaBeta."""
        model, x = simple_model()
        _with_a_negative_weight(model)
        rules = {model.linear: relevance.alpha1beta0(), model.linear2: relevance.alpha1beta0()}
        r = methods.layer_lrp(model, x, None, model.linear, layer_rules=rules)
        assert_almost_equal(r[0], [24.0, 36.0, 36.0])

    def test_lrp_simple_attributions_all_layers(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_attributions_all_layers:
        Captum's list of layers [linear, linear2] is one ``layer_lrp`` call per layer here (the
        relevance at each layer's input)."""
        model, x = simple_model()
        model.eval()
        rules = {model.linear: relevance.epsilon(), model.linear2: relevance.epsilon()}
        rs = [methods.layer_lrp(model, x, None, layer, attribute_to_layer_input=True, layer_rules=rules)
              for layer in (model.linear, model.linear2)]
        assert len(rs) == 2
        assert_almost_equal(rs[0][0], [18.0, 36.0, 54.0])

    def test_lrp_simple_attributions_all_layers_delta(self):
        """Captum tests/attr/layer/test_layer_lrp.py::Test::test_lrp_simple_attributions_all_layers_delta:
        the batch (x, 2x), one call per layer with its deltas."""
        model, (x,) = simple_model()
        model.eval()
        rules = {model.linear: relevance.epsilon(), model.linear2: relevance.epsilon()}
        xb = (np.concatenate([x, 2 * x]),)
        results = [methods.layer_lrp(model, xb, None, layer, attribute_to_layer_input=True, layer_rules=rules,
                                     return_convergence_delta=True) for layer in (model.linear, model.linear2)]
        relevances = [r for r, _ in results]
        deltas = [d for _, d in results]
        assert len(relevances) == len(deltas) == 2
        assert_almost_equal(relevances[0], [[18.0, 36.0, 54.0], [36.0, 72.0, 108.0]])
