"""Layer and neuron attributions along the straight path (issue 29): ``layer_conductance``,
``internal_influence``, ``neuron_conductance`` and ``layer_integrated_gradients`` live against
Captum 0.9 on the torch twin of the GAP network (conv, ReLU, max-pool, conv, ReLU, GAP, linear),
and the identities of the papers (completeness, conductance of a neuron = the sum of its neuron
conductances, layer IG at the input layer = integrated gradients), which need no Captum.

Captum rounds its quadrature to float32: its step sizes (``torch.tensor(list of floats)``) and the
Riemann rules' points (``torch.linspace``) are float32 numbers, while the Gauss-Legendre points stay
float64. That alone moves its results by up to ~1.5e-8 of the largest value; ``captum_rounding``
hands our methods the same float32-rounded rule, so that the comparison measures everything else to
1e-8 (``test_captum_rounding_is_the_only_difference`` shows the unrounded results within 1e-7).
"""
import numpy as np
import pytest

import layers as L
import methods
from methods import conductance as cond_module
from methods.conductance import internal_influence, layer_conductance, layer_integrated_gradients, neuron_conductance
from minigrad import Tensor, no_grad
from gapnet_twins import captum_twins

TOL = 1e-8
RULES = ("gausslegendre", "riemann_right")
X = np.random.default_rng(3).standard_normal((3, 3, 12, 12))
BASELINES = {"zero": 0.0, "array": 0.3 * np.random.default_rng(4).standard_normal((3, 3, 12, 12))}
TARGET = 1


def worst(ours, theirs):
    """max |ours - theirs| relative to the largest |theirs|."""
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    return np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-300)


def scores_at(net, x, target=TARGET):
    with no_grad():
        return net(Tensor(x)).data[:, target]


@pytest.fixture(scope="module")
def twins():
    """(Captum's attribution classes, the torch network, the same network in minigrad)."""
    return captum_twins()


@pytest.fixture
def captum_rounding(monkeypatch):
    """Our methods given Captum's own points and its float32-rounded step sizes (see the module's
    docstring): its rule's numbers, read from Captum, in place of ``path_points``."""
    from captum.attr._utils.approximation_methods import approximation_parameters

    def captums(n_steps, method="gausslegendre"):
        step_sizes, alphas = approximation_parameters(method)
        return np.array(alphas(n_steps)), np.array(step_sizes(n_steps), dtype=np.float32).astype(np.float64)

    monkeypatch.setattr(cond_module, "path_points", captums)


# Which layer of the twin (by attribute path), a unit of it for the neuron method, and whether to
# attribute at its input: a convolution, the max-pool, the last ReLU (F is linear above it), the
# pooled (N, 8) vector, and the second convolution's input.
LAYERS = {"conv": ("features.0", (2, 4, 5), False), "maxpool": ("features.2", (5, 2, 1), False),
          "relu": ("features.4", (3, 2, 2), False), "gap": ("gap", 6, False),
          "conv_input": ("features.3", (1, 3, 2), True)}


def module(net, path):
    for part in path.split("."):
        net = net[int(part)] if part.isdigit() else getattr(net, part)
    return net


def captum_result(attr, theirs, name, where, neuron, at_input, baseline, rule, n_steps, delta):
    """Captum's attribution (and its delta, negated to ours) for one of our method names."""
    import torch

    layer = module(theirs, where)
    x = torch.tensor(X)
    base = baseline if np.isscalar(baseline) else torch.tensor(baseline)
    kw = dict(target=TARGET, n_steps=n_steps, method=rule)
    if name == "neuron_conductance":
        out = attr.NeuronConductance(theirs, layer).attribute(x, neuron, base, attribute_to_neuron_input=at_input, **kw)
    else:
        cls = {"layer_conductance": attr.LayerConductance, "internal_influence": attr.InternalInfluence,
               "layer_integrated_gradients": attr.LayerIntegratedGradients}[name]
        out = cls(theirs, layer).attribute(x, base, attribute_to_layer_input=at_input,
                                           **(dict(return_convergence_delta=True) if delta else {}), **kw)
    if delta:
        return out[0].detach().numpy(), -out[1].detach().numpy()
    return out.detach().numpy()


def our_result(ours, name, where, neuron, at_input, baseline, rule, n_steps, delta, **options):
    layer = module(ours, where)
    kw = dict(n_steps=n_steps, method=rule, **options)
    if name == "neuron_conductance":
        return neuron_conductance(ours, X, TARGET, layer, neuron, baseline, attribute_to_neuron_input=at_input, **kw)
    if delta:
        kw["return_convergence_delta"] = True
    return getattr(cond_module, name)(ours, X, TARGET, layer, baseline, attribute_to_layer_input=at_input, **kw)


WITH_DELTA = ("layer_conductance", "layer_integrated_gradients")
NAMES = ("layer_conductance", "internal_influence", "layer_integrated_gradients", "neuron_conductance")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("base", sorted(BASELINES))
@pytest.mark.parametrize("which", sorted(LAYERS))
def test_matches_captum(twins, captum_rounding, name, rule, base, which):
    attr, theirs, ours = twins
    where, neuron, at_input = LAYERS[which]
    delta = name in WITH_DELTA
    args = (where, neuron, at_input, BASELINES[base], rule, 12, delta)
    expected = captum_result(attr, theirs, name, *args)
    # several passes of 5 samples x steps (two steps, one left over), which must not change the result
    got = our_result(ours, name, *args, internal_batch_size=5 if which == "conv" else None)
    if delta:
        (got, got_delta), (expected, expected_delta) = got, expected
        # the deltas are small differences of the scores: measured against the scores' change
        change = np.abs(scores_at(ours, X) - scores_at(ours, np.broadcast_to(BASELINES[base], X.shape))).max()
        assert np.abs(got_delta - expected_delta).max() <= TOL * change
    assert np.abs(expected).max() > 0, "a unit that never moves would make this comparison empty"
    assert worst(got, expected) <= TOL


def test_captum_rounding_is_the_only_difference(twins):
    """Without the float32 rounding our results are within 1e-7 (Captum's float32 steps) of Captum's,
    and with the Riemann rules at 12 steps further than 1e-8 (1/12 is not a float32 number)."""
    attr, theirs, ours = twins
    args = ("features.0", None, False, BASELINES["array"], "riemann_right", 12, False)
    measured = worst(our_result(ours, "internal_influence", *args),
                     captum_result(attr, theirs, "internal_influence", *args))
    assert TOL < measured <= 1e-7


def test_activations_match_captum_layer_activation(twins):
    """``methods.activations`` is Captum's LayerActivation (no second function for it here)."""
    import torch

    attr, theirs, ours = twins
    expected = attr.LayerActivation(theirs, theirs.features[2]).attribute(torch.tensor(X)).detach().numpy()
    assert worst(methods.activations(ours, X, ours.features[2]), expected) <= TOL


def test_tuple_of_inputs_matches_captum(twins, captum_rounding):
    """Captum's tuple of inputs and an extra forward argument on its own toy model
    BasicModel_MultiLayer_MultiInput, ``scale * (x1 + x2 + x3)`` into linear/ReLU/linear layers:
    the layer methods return the layer's one array, neuron conductance one array per input."""
    import torch
    from captum.testing.helpers.basic_models import BasicModel_MultiLayer_MultiInput as TorchModel
    from captum_models import BasicModel_MultiLayer_MultiInput

    attr = twins[0]
    theirs, ours = TorchModel().double(), BasicModel_MultiLayer_MultiInput()
    rng = np.random.default_rng(6)
    xs = tuple(rng.uniform(-1, 3, (4, 3)) for _ in range(3))
    bases = (0.0, rng.uniform(-1, 1, (4, 3)), 0.5)
    tx, tb = tuple(map(torch.tensor, xs)), tuple(b if np.isscalar(b) else torch.tensor(b) for b in bases)
    kw = dict(target=0, additional_forward_args=2.0, n_steps=9, method="riemann_middle")
    for ours_f, cls in ((layer_conductance, attr.LayerConductance), (internal_influence, attr.InternalInfluence),
                        (layer_integrated_gradients, attr.LayerIntegratedGradients)):
        expected = cls(theirs, theirs.model.linear1).attribute(tx, tb, **kw).detach().numpy()
        assert worst(ours_f(ours, xs, layer=ours.model.linear1, baselines=bases, **kw), expected) <= TOL
    expected = attr.NeuronConductance(theirs, theirs.model.relu).attribute(tx, 2, tb, **kw)
    got = neuron_conductance(ours, xs, layer=ours.model.relu, neuron=2, baselines=bases, **kw)
    assert isinstance(got, tuple) and len(got) == 3 and np.abs(expected[0].detach().numpy()).max() > 0
    for g, e in zip(got, expected):
        assert worst(g, e.detach().numpy()) <= TOL


# ------------------------------------------------------------------------ identities (no Captum)

NET = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=1)


def test_conductance_is_complete_above_which_the_network_is_linear():
    """Above the last ReLU the network is linear (GAP, fc): dF/dy is constant, the conductance sum
    telescopes to F(x) - F(x') exactly for points from 0 to 1 (trapezoid), and layer IG is exact for
    any rule (conductance's and IG's completeness, Sundararajan et al. 2017 eq. 3)."""
    base = BASELINES["array"]
    change = scores_at(NET, X) - scores_at(NET, base)
    cond, delta = layer_conductance(NET, X, TARGET, NET.features[4], base, n_steps=3, method="riemann_trapezoid",
                                    return_convergence_delta=True)
    assert np.abs(cond.reshape(3, -1).sum(axis=1) - change).max() <= 1e-12 * np.abs(change).max()
    assert np.abs(delta).max() <= 1e-12 * np.abs(change).max()
    lig, delta = layer_integrated_gradients(NET, X, TARGET, NET.features[4], base, n_steps=2,
                                            return_convergence_delta=True)
    assert np.abs(delta).max() <= 1e-12 * np.abs(change).max()


def test_conductance_sums_to_integrated_gradients_total():
    """Summed over a layer every path from x to F goes through, conductance is F(x) - F(x')
    (completeness), as the integrated gradients of x sum to: the two totals agree up to the two
    quadratures' errors; the delta is the sum's distance to F(x) - F(x'). Conductance's sum is a
    left Riemann-Stieltjes sum, whose error across the ReLUs' and max-pool's kinks falls as 1/n
    (measured here: 11%, 2.3%, 0.53%, 0.14% of the change at 10, 50, 200, 800 steps)."""
    base = BASELINES["array"]
    change = scores_at(NET, X) - scores_at(NET, base)
    cond, delta = layer_conductance(NET, X, TARGET, NET.features[1], base, n_steps=200, return_convergence_delta=True)
    ig = methods.integrated_gradients(NET, X, TARGET, base, n_steps=200)
    cond_total, ig_total = cond.reshape(3, -1).sum(axis=1), ig.reshape(3, -1).sum(axis=1)
    assert np.allclose(delta, change - cond_total, rtol=0, atol=1e-12 * np.abs(change).max())
    assert np.abs(cond_total - ig_total).max() <= 1e-2 * np.abs(change).max()
    coarse, coarse_delta = layer_conductance(NET, X, TARGET, NET.features[1], base, n_steps=10,
                                             return_convergence_delta=True)
    assert np.abs(delta).max() < 0.1 * np.abs(coarse_delta).max()


def test_neuron_conductances_sum_to_the_neurons_conductance():
    """Summed over the input features, a unit's neuron conductance is its conductance (Dhamdhere
    et al. 2018: the sum over i is the chain rule), up to the quadratures' errors (0.34% of the
    largest at 200 steps here: the layer's sum converges as 1/n, see the test above)."""
    unit = (3, 2, 4)
    layer_cond = layer_conductance(NET, X, TARGET, NET.features[3], n_steps=200)[(slice(None),) + unit]
    neuron = neuron_conductance(NET, X, TARGET, NET.features[3], unit, n_steps=200)
    assert np.abs(layer_cond).max() > 0
    assert np.abs(neuron.reshape(3, -1).sum(axis=1) - layer_cond).max() <= 1e-2 * np.abs(layer_cond).max()


def test_layer_integrated_gradients_at_the_input_layer_is_integrated_gradients():
    base = BASELINES["array"]
    for rule in ("gausslegendre", "riemann_trapezoid"):
        ig = methods.integrated_gradients(NET, X, TARGET, base, n_steps=7, method=rule)
        lig = layer_integrated_gradients(NET, X, TARGET, NET.features[0], base, n_steps=7, method=rule,
                                         attribute_to_layer_input=True)
        assert worst(lig, ig) <= 1e-12
        local = layer_integrated_gradients(NET, X, TARGET, NET.features[0], base, n_steps=7, method=rule,
                                           attribute_to_layer_input=True, multiply_by_inputs=False)
        assert worst(local * (X - base), ig) <= 1e-12


def test_one_image_and_internal_batch_size():
    """A single (C, H, W) image gives the batch's first result without the batch axis; passes of
    any number of steps give the same numbers; the layer's forward is its own again afterwards."""
    layer = NET.features[2]
    for f, extra in ((layer_conductance, ()), (internal_influence, ()), (layer_integrated_gradients, ()),
                     (neuron_conductance, ((1, 2, 3),))):
        whole = f(NET, X, TARGET, layer, *extra, n_steps=5)
        one = f(NET, X[0], TARGET, layer, *extra, n_steps=5)
        assert one.shape == whole.shape[1:] and worst(one, whole[0]) <= 1e-12
        assert worst(f(NET, X, TARGET, layer, *extra, n_steps=5, internal_batch_size=4), whole) <= 1e-12
    assert "forward" not in vars(layer)


def test_bad_arguments_name_themselves():
    other = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=2)
    with pytest.raises(ValueError, match="layer"):
        layer_conductance(NET, X, TARGET, other.features[0])
    for bad in ((1, 2), (9, 0, 0), 3, (1.0, 2, 3)):
        with pytest.raises(ValueError, match="neuron"):
            neuron_conductance(NET, X, TARGET, NET.features[3], bad, n_steps=2)
    with pytest.raises(TypeError, match="attribute_to_layer_input"):
        internal_influence(NET, X, TARGET, NET.features[3], attribute_to_layer_input="yes")
    with pytest.raises(ValueError, match="baselines"):
        layer_integrated_gradients(NET, X, TARGET, NET.features[3], baselines=np.zeros((2, 3, 12, 12)))
    with pytest.raises(ValueError, match="n_steps"):
        layer_conductance(NET, X, TARGET, NET.features[3], n_steps=0)


def test_real_network_completeness():
    """ResNet-18 (random weights, eval mode), one 64x64 image: above ``layer4`` the network is
    average pooling and a linear layer, so conductance with the trapezoid's points and layer IG are
    complete to rounding even with few steps."""
    net = L.resnet18(num_classes=10, seed=0)
    net.eval()
    x = np.random.default_rng(5).uniform(0, 1, (1, 3, 64, 64))
    change = scores_at(net, x, 3) - scores_at(net, np.zeros_like(x), 3)
    cond, delta = layer_conductance(net, x, 3, net.layer4, n_steps=2, method="riemann_trapezoid",
                                    return_convergence_delta=True)
    assert cond.shape == (1, 512, 2, 2)
    assert np.abs(delta).max() <= 1e-10 * np.abs(change).max()
    lig, delta = layer_integrated_gradients(net, x, 3, net.layer4, n_steps=1, return_convergence_delta=True)
    assert np.abs(delta).max() <= 1e-10 * np.abs(change).max()
