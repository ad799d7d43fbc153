"""DeepLIFT-Rescale and DeepLIFT SHAP (methods.deeplift) live against Captum 0.9's DeepLift and
DeepLiftShap in float64 on torch twins of small minigrad networks (conv, ReLU, max-pool, tanh,
sigmoid, linear; weights copied), with zero and non-zero baselines, tuple inputs and extra forward
arguments; and DeepLIFT's summation-to-delta (Shrikumar et al. 2017, eq. 1) where it holds exactly,
on ResNet-18 too."""
import warnings

import numpy as np
import pytest

import layers as L
from methods.deeplift import deeplift, deeplift_shap

TOL = 1e-8  # worst |ours - Captum's| relative to Captum's largest |value|
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 3, 8, 8))
BASE = 0.5 * RNG.standard_normal((3, 3, 8, 8))
REFS = RNG.standard_normal((4, 3, 8, 8))
TARGET = [0, 2, 1]

# a network as a list of layers, built identically in torch and in minigrad
RELU_POOL = [("conv", 3, 4), ("relu",), ("pool",), ("conv", 4, 5), ("relu",), ("flatten",), ("linear", 80, 3)]
POOL_CONV = [("conv", 3, 4), ("pool",), ("conv", 4, 5), ("relu",), ("flatten",), ("linear", 80, 3)]
SMOOTH = [("conv", 3, 4), ("tanh",), ("conv", 4, 5), ("sigmoid",), ("flatten",), ("linear", 320, 3)]
RELU_ONLY = [("conv", 3, 4), ("relu",), ("conv", 4, 5), ("relu",), ("flatten",), ("linear", 320, 3)]


def _layer(spec, nn):
    """One layer of ``spec`` from the module namespace ``nn`` (torch.nn or layers)."""
    kind, *sizes = spec
    return {"conv": lambda: nn.Conv2d(*sizes, 3, padding=1), "relu": nn.ReLU, "pool": lambda: nn.MaxPool2d(2),
            "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "flatten": nn.Flatten,
            "linear": lambda: nn.Linear(*sizes)}[kind]()


def twins(specs):
    """(torch nn.Sequential in float64, the minigrad Sequential with its weights)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(*[_layer(s, torch.nn) for s in specs]).double().eval()
    ours = L.Sequential(*[_layer(s, L) for s in specs])
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def _numpy(t):
    return t.detach().numpy()


def assert_close(ours, theirs):
    theirs = _numpy(theirs) if not isinstance(theirs, np.ndarray) else theirs
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= TOL * np.abs(theirs).max()


def captum_deeplift(model, x, target, baselines, **kw):
    import torch
    from captum.attr import DeepLift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tb = torch.tensor(baselines) if isinstance(baselines, np.ndarray) else baselines
        return DeepLift(model).attribute(torch.tensor(x), baselines=tb, target=target,
                                         return_convergence_delta=True, **kw)


@pytest.mark.parametrize("specs, max_pool", [(RELU_POOL, "gradient"), (POOL_CONV, "rescale"), (SMOOTH, "gradient")],
                         ids=["relu-then-pool", "pool-between-convs", "tanh-sigmoid"])
@pytest.mark.parametrize("baseline", ["zero", "random"])
def test_deeplift_matches_captum(specs, max_pool, baseline):
    """Captum's numbers: Rescale at every nonlinearity; a pool after a ReLU passes its gradient
    (Captum's own pool multiplier is overwritten there), a pool between convolutions takes Captum's
    multiplier (``max_pool="rescale"``)."""
    theirs, ours = twins(specs)
    base = 0.0 if baseline == "zero" else BASE
    expected, delta = captum_deeplift(theirs, X, TARGET, base)
    got, our_delta = deeplift(ours, X, TARGET, baselines=base, return_convergence_delta=True, max_pool=max_pool)
    assert_close(got, expected)
    assert np.allclose(our_delta, -_numpy(delta), rtol=0, atol=1e-10)  # Captum's delta is the negative


def test_pool_rule_choice_matters_and_gradient_breaks_summation_to_delta():
    """On a ReLU -> max-pool net with a random reference the two max-pool rules differ; the
    max-pool's gradient loses summation-to-delta, Captum's multiplier keeps it (it routes the
    output's difference, max(y, y') - y' and y - max(y, y'), whole to the window maxima)."""
    _, ours = twins(RELU_POOL)
    a, d_gradient = deeplift(ours, X, TARGET, baselines=BASE, return_convergence_delta=True)
    b, d_rescale = deeplift(ours, X, TARGET, baselines=BASE, return_convergence_delta=True, max_pool="rescale")
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()
    assert np.abs(d_gradient).max() > 1e-4
    assert np.abs(d_rescale).max() < 1e-12


@pytest.mark.parametrize("specs", [RELU_ONLY, SMOOTH], ids=["relu", "tanh-sigmoid"])
def test_summation_to_delta_without_max_pool(specs):
    """Eq. 1: sum_i C_i = f(x) - f(x'), the delta 0 up to rounding, on nets of Rescale nonlinearities."""
    _, ours = twins(specs)
    out = ours(X).data[np.arange(3), TARGET] - ours(BASE).data[np.arange(3), TARGET]
    attributions, delta = deeplift(ours, X, TARGET, baselines=BASE, return_convergence_delta=True)
    assert np.abs(out).min() > 1e-3  # a delta to explain
    assert np.abs(delta).max() <= 1e-12 * np.abs(out).max()
    assert np.allclose(attributions.reshape(3, -1).sum(axis=1), out, rtol=1e-12)


def test_multiplier_of_a_linear_model_is_its_weight_and_one_image_drops_the_batch_axis():
    """A linear model's multipliers are its weights (the Linear rule); a single image (C, H, W) gives
    a single map and a scalar delta."""
    net = L.Sequential(L.Flatten(), L.Linear(192, 3, rng=0))
    m = deeplift(net, X[0], 1, baselines=BASE[0], multiply_by_inputs=False)
    assert m.shape == X[0].shape
    assert np.allclose(m.reshape(-1), net[1].weight.data[1], rtol=1e-14)
    c, delta = deeplift(net, X[0], 1, baselines=BASE[0], return_convergence_delta=True)
    assert np.ndim(delta) == 0 and abs(delta) < 1e-12
    assert np.allclose(c, (X[0] - BASE[0]) * m)


def test_deeplift_shap_matches_captum_and_is_the_mean_of_deeplift():
    """Captum's DeepLiftShap; and the mean over references of deeplift(x; x'_b)."""
    import torch
    from captum.attr import DeepLiftShap
    theirs, ours = twins(RELU_POOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, delta = DeepLiftShap(theirs).attribute(torch.tensor(X), baselines=torch.tensor(REFS), target=TARGET,
                                                        return_convergence_delta=True)
    got, our_delta = deeplift_shap(ours, X, TARGET, REFS, return_convergence_delta=True)
    assert_close(got, expected)
    assert our_delta.shape == (3, 4)
    assert np.allclose(our_delta.reshape(-1), -_numpy(delta), rtol=0, atol=1e-10)
    mean = np.mean([deeplift(ours, X, TARGET, baselines=r) for r in REFS], axis=0)
    assert np.allclose(got, mean, rtol=0, atol=1e-13 * np.abs(mean).max())


class _TwoInputs:
    """model(a, b, scale) = net(a * scale + b) in torch and in minigrad (the same net inside)."""

    @staticmethod
    def pair(specs):
        import torch
        theirs, ours = twins(specs)

        class Theirs(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = theirs

            def forward(self, a, b, scale):
                return self.net(a * scale + b)

        class Ours(L.Module):
            def __init__(self):
                self.net = ours

            def forward(self, a, b, scale):
                return self.net(a * scale + b)

        return Theirs().eval(), Ours()


@pytest.mark.parametrize("method", ["deeplift", "deeplift_shap"])
def test_tuple_inputs_and_additional_forward_args_match_captum(method):
    """Captum's tuple of inputs, with a per-sample extra argument that follows the batch [x; x']."""
    import torch
    from captum.attr import DeepLift, DeepLiftShap
    theirs, ours = _TwoInputs.pair(RELU_POOL)
    a, b = X, RNG.standard_normal(X.shape)
    scale = RNG.uniform(0.5, 2.0, (3, 1, 1, 1))
    if method == "deeplift":
        bases = (BASE, 0.25)
        t_bases = (torch.tensor(BASE), 0.25)
    else:
        bases = (REFS, REFS[::-1] * 0.5)
        t_bases = tuple(torch.tensor(np.ascontiguousarray(r)) for r in bases)
    captum = DeepLift if method == "deeplift" else DeepLiftShap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = captum(theirs).attribute((torch.tensor(a), torch.tensor(b)), baselines=t_bases, target=TARGET,
                                            additional_forward_args=(torch.tensor(scale),))
    ours_fn = deeplift if method == "deeplift" else deeplift_shap
    got = ours_fn(ours, (a, b), TARGET, bases, additional_forward_args=(scale,))
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, expected):
        assert_close(g, e)


def test_summation_to_delta_on_resnet18():
    """ResNet-18 (BatchNorm, residual sums, a max-pool after a ReLU) at 64x64: with Captum's max-pool
    multiplier every rule conserves the difference, so the delta is 0 up to rounding; with the
    pool's gradient it is not."""
    net = L.resnet18(num_classes=5, seed=0).eval()
    rng = np.random.default_rng(1)
    x, ref = rng.uniform(0, 1, (1, 3, 64, 64)), rng.uniform(0, 1, (1, 3, 64, 64))
    out = net(np.concatenate([x, ref])).data[:, 2]
    _, delta = deeplift(net, x, 2, baselines=ref, return_convergence_delta=True, max_pool="rescale")
    _, delta_gradient = deeplift(net, x, 2, baselines=ref, return_convergence_delta=True)
    assert abs(out[0] - out[1]) > 1e-3
    assert abs(delta[0]) <= 1e-10 * abs(out[0] - out[1])
    assert abs(delta_gradient[0]) > 1e3 * abs(delta[0])


@pytest.mark.parametrize("call, argument", [
    (lambda net: deeplift(net, X, 0, max_pool="paper"), "max_pool"),
    (lambda net: deeplift(net, X, 0, eps=-1.0), "eps"),
    (lambda net: deeplift(net, X, 0, baselines=np.zeros((2, 3, 8, 8))), "baselines"),
    (lambda net: deeplift(net, X, 0, multiply_by_inputs=1), "multiply_by_inputs"),
    (lambda net: deeplift_shap(net, X, 0, 0.0), "baselines"),
    (lambda net: deeplift_shap(net, X, 0, np.zeros((4, 3, 8, 9))), "baselines"),
    (lambda net: deeplift_shap(net, (X, X), 0, (REFS, REFS[:2])), "baselines"),
])
def test_bad_options_name_the_argument(call, argument):
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    with pytest.raises((ValueError, TypeError), match=argument):
        call(net)
