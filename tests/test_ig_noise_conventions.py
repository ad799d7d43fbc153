"""Issue 32, Captum's API forms for integrated gradients and its NoiseTunnel: IG without the
(x - x') factor, absolute noise (``stdevs``), noisy copies in batches (``nt_samples_batch_size``)
and IG's convergence delta per noisy copy. Live against Captum where it is installed.

Captum draws its noise with ``torch.normal`` inside ``NoiseTunnel._add_noise_to_input``; the live
tests replace that one function by one returning our noise (copy k = the k-th draw of
``default_rng(seed).standard_normal(x.shape)`` times sigma, as ``smoothgrad`` documents), so both
libraries see the same noisy inputs and are compared value for value, not in distribution.
"""
import os
import sys
import warnings

import numpy as np
import pytest

import layers as L
import methods
from minigrad import Tensor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402
from gapnet_twins import minigrad_twin  # noqa: E402

TARGET = [1, 3, 0]


def _x(shape=(3, 3, 12, 12), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


_ours = minigrad_twin


@pytest.fixture(scope="module")
def nets():
    """The same float64 GAP CNN in torch and in minigrad (the Captum fixtures' network)."""
    pytest.importorskip("torch")
    pytest.importorskip("captum.attr")
    torch_net = ref.torch_gapnet()
    return torch_net, _ours(torch_net)


@pytest.fixture(scope="module")
def net():
    """The same architecture without torch, for the checks that need no reference."""
    rng = np.random.default_rng(1)
    model = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8))
    model.load_state_dict({k: rng.standard_normal(v.shape) * 0.5 for k, v in model.state_dict().items()})
    return model


def close(ours, theirs, tol):
    scale = max(np.abs(theirs).max(), 1e-300)
    err = np.abs(ours - theirs).max() / scale
    assert err <= tol, err
    return err


def _leaf(a):
    import torch

    return torch.tensor(a, requires_grad=True)


def _our_noise(x, n_samples, sigma, seed):
    """(n_samples, N, C, H, W): smoothgrad's documented noise."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.standard_normal(x.shape) for _ in range(n_samples)]) * np.reshape(sigma, (-1, 1, 1, 1))


def _feed_captum(monkeypatch, noise):
    """Make Captum's NoiseTunnel add ``noise`` (n_samples, N, ...) instead of its own draw. Captum
    repeats each sample nt times in a row (repeat_interleave): sample-major, hence the transpose."""
    import torch
    from captum.attr import NoiseTunnel

    flat = torch.from_numpy(np.ascontiguousarray(noise.swapaxes(0, 1)).reshape((-1,) + noise.shape[2:]))

    def add_noise(input, stdev, nt_samples_partition):
        assert nt_samples_partition == noise.shape[0], "Captum was asked to batch its noisy copies"
        return input.detach().repeat_interleave(nt_samples_partition, dim=0) + flat

    monkeypatch.setattr(NoiseTunnel, "_add_noise_to_input", staticmethod(add_noise))


# --- integrated_gradients(multiply_by_inputs=False) --------------------------------------------------

def test_ig_without_the_input_factor_on_a_linear_model_is_the_weight():
    """On a linear model the path integral is the weight itself, for any rule and baseline
    (Captum's test_multiply_by_inputs_false idea, written as an identity)."""
    model = L.Sequential(L.Flatten(), L.Linear(20, 3, rng=0))
    x = _x((2, 1, 4, 5), seed=2)
    w = model[1].weight.data.reshape(3, 1, 4, 5)
    for rule in ("gausslegendre", "riemann_trapezoid", "riemann_left"):
        ig = methods.integrated_gradients(model, x, [0, 2], baseline=0.3, n_steps=7, method=rule,
                                          multiply_by_inputs=False)
        np.testing.assert_allclose(ig, np.broadcast_to(w[[0, 2]], x.shape), rtol=1e-12)


def test_ig_without_the_input_factor_is_the_one_with_it_divided_by_x_minus_baseline(net):
    x = _x()
    with_ = methods.integrated_gradients(net, x, TARGET, baseline=0.2, n_steps=16)
    without = methods.integrated_gradients(net, x, TARGET, baseline=0.2, n_steps=16, multiply_by_inputs=False)
    np.testing.assert_allclose(without * (x - 0.2), with_, rtol=1e-12, atol=1e-300)
    assert not np.allclose(without, with_)


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_middle", "riemann_trapezoid"])
def test_ig_without_the_input_factor_against_captum(nets, rule):
    import torch
    from captum.attr import IntegratedGradients

    torch_net, net = nets
    x = _x()
    theirs = IntegratedGradients(torch_net, multiply_by_inputs=False).attribute(
        _leaf(x), baselines=0.1, target=torch.tensor(TARGET), n_steps=20, method=rule).detach().numpy()
    ours = methods.integrated_gradients(net, x, TARGET, baseline=0.1, n_steps=20, method=rule,
                                        multiply_by_inputs=False, internal_batch_size=13)
    # the documented deviation: Captum's trapezoid steps are 1/n, ours 1/(n - 1); its step sizes
    # go through float32 (torch.tensor(step_sizes).float()), hence 1e-7
    factor = 19 / 20 if rule == "riemann_trapezoid" else 1.0
    err = close(ours * factor, theirs, 1e-7)
    print(f"IG multiply_by_inputs=False, {rule}: max relative difference to Captum {err:.1e}")


def test_ig_convergence_delta_against_captum(nets):
    """Captum's delta is sum(attributions) - (F(x) - F(x')); ours is the negative (f(x) - f(x') -
    sum, kept: the project's tests and docstring fix that sign)."""
    import torch
    from captum.attr import IntegratedGradients

    torch_net, net = nets
    x = _x()
    for multiply in (True, False):
        attr, delta = IntegratedGradients(torch_net, multiply_by_inputs=multiply).attribute(
            _leaf(x), baselines=0.1, target=torch.tensor(TARGET), n_steps=12, return_convergence_delta=True)
        ours, our_delta = methods.integrated_gradients(net, x, TARGET, baseline=0.1, n_steps=12,
                                                       multiply_by_inputs=multiply, return_convergence_delta=True)
        close(ours, attr.detach().numpy(), 1e-7)
        # both deltas are differences of nearly equal sums: compare on the scale of the outputs
        scale = np.abs(net(Tensor(x)).data).max()
        assert np.abs(our_delta + delta.detach().numpy()).max() <= 1e-7 * scale, (our_delta, delta)


# --- smoothgrad: stdevs, nt_samples_batch_size, deltas ------------------------------------------------

@pytest.mark.parametrize("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_absolute_noise_against_captums_noise_tunnel(nets, monkeypatch, kind):
    import torch
    from captum.attr import NoiseTunnel, Saliency

    torch_net, net = nets
    x, stdevs, n_samples, seed = _x(), 0.4, 6, 5
    _feed_captum(monkeypatch, _our_noise(x, n_samples, np.full(len(x), stdevs), seed))
    theirs = NoiseTunnel(Saliency(torch_net)).attribute(
        _leaf(x), nt_type=kind, nt_samples=n_samples, stdevs=stdevs, target=torch.tensor(TARGET), abs=False)
    ours = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=n_samples, kind=kind, seed=seed,
                              stdevs=stdevs)
    err = close(ours, theirs.detach().numpy(), 1e-10)
    print(f"NoiseTunnel(Saliency) {kind}, stdevs {stdevs}: max relative difference {err:.1e}")


def test_ig_under_the_noise_tunnel_with_deltas_against_captum(nets, monkeypatch):
    """IG through NoiseTunnel, one delta per noisy copy, a per-sample baseline (Captum expands it)."""
    import torch
    from captum.attr import IntegratedGradients, NoiseTunnel

    torch_net, net = nets
    x, n_samples, seed = _x(), 4, 9
    baseline = _x(seed=3) * 0.1
    stdevs = np.array([0.1, 0.3, 0.2])
    _feed_captum(monkeypatch, _our_noise(x, n_samples, stdevs, seed))
    attr, delta = NoiseTunnel(IntegratedGradients(torch_net)).attribute(
        _leaf(x), nt_type="smoothgrad", nt_samples=n_samples, stdevs=0.0, baselines=torch.from_numpy(baseline),
        target=torch.tensor(TARGET), n_steps=10, return_convergence_delta=True)
    ours, deltas = methods.smoothgrad(methods.integrated_gradients, net, x, TARGET, n_samples=n_samples,
                                      seed=seed, stdevs=stdevs, nt_samples_batch_size=3, baseline=baseline,
                                      n_steps=10, return_convergence_delta=True)
    close(ours, attr.detach().numpy(), 1e-7)
    assert deltas.shape == (3, n_samples)
    scale = np.abs(net(Tensor(x)).data).max()
    assert np.abs(deltas.reshape(-1) + delta.detach().numpy()).max() <= 1e-7 * scale
    # the deltas belong to the noisy copies, not to x: they differ from copy to copy
    assert np.ptp(deltas, axis=1).min() > 0


@pytest.mark.parametrize("batch", [1, 3, 7, None])
def test_batches_of_noisy_copies_give_the_all_at_once_result(net, batch):
    x = _x()
    every = dict(n_samples=7, seed=4, kind="vargrad")
    whole = methods.smoothgrad(methods.gradient, net, x, TARGET, nt_samples_batch_size=None, **every)
    parts = methods.smoothgrad(methods.gradient, net, x, TARGET, nt_samples_batch_size=batch, **every)
    np.testing.assert_allclose(parts, whole, rtol=1e-9, atol=1e-12 * np.abs(whole).max())
    # and the noise really is there: another seed moves the result
    other = methods.smoothgrad(methods.gradient, net, x, TARGET, nt_samples_batch_size=batch, n_samples=7,
                               seed=5, kind="vargrad")
    assert not np.allclose(parts, other)


def test_batched_ig_deltas_and_single_image(net):
    x = _x()
    ig = dict(n_samples=5, seed=2, stdevs=0.2, n_steps=8, return_convergence_delta=True,
              baseline=_x(seed=7) * 0.1)
    a, da = methods.smoothgrad(methods.integrated_gradients, net, x, TARGET, nt_samples_batch_size=2, **ig)
    b, db = methods.smoothgrad(methods.integrated_gradients, net, x, TARGET, nt_samples_batch_size=None, **ig)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(b).max())
    np.testing.assert_allclose(da, db, rtol=1e-8, atol=1e-12)
    # a single image: no batch axis in the result, deltas (n_samples,)
    one, d1 = methods.smoothgrad(methods.integrated_gradients, net, x[0], 1, nt_samples_batch_size=3,
                                 n_samples=5, seed=2, stdevs=0.2, n_steps=8, return_convergence_delta=True)
    assert one.shape == x.shape[1:] and d1.shape == (5,)


def test_stdevs_is_absolute_and_noise_level_relative(net):
    """stdevs = noise_level * (max - min) per sample gives the same noise, hence the same result;
    neither given means the paper's 15%."""
    x = _x() * np.array([1.0, 3.0, 0.5])[:, None, None, None]
    span = x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3))
    relative = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=3, noise_level=0.15)
    absolute = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=3, stdevs=0.15 * span)
    default = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=3)
    np.testing.assert_allclose(absolute, relative, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(default, relative)
    one_sd = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=3, stdevs=float(span.mean()) * 0.15)
    assert not np.allclose(one_sd, relative)
    zero = methods.smoothgrad(methods.gradient, net, x, TARGET, n_samples=2, stdevs=0.0)
    np.testing.assert_allclose(zero, methods.gradient(net, x, TARGET), rtol=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, stdevs=-0.1), "stdevs"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, stdevs=[0.1, -0.2, 0.1]), "stdevs"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, stdevs=[0.1, 0.2]), "stdevs"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, stdevs=float("nan")), "stdevs"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, stdevs=0.1, noise_level=0.15), "stdevs"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, nt_samples_batch_size=0), "nt_samples_batch_size"),
    (lambda net, x: methods.smoothgrad(methods.gradient, net, x, 0, nt_samples_batch_size=-2),
     "nt_samples_batch_size"),
])
def test_bad_noise_tunnel_arguments_name_themselves(net, call, name):
    with pytest.raises(ValueError, match=f"^{name}: "):
        call(net, _x())


def test_multiply_by_inputs_must_be_a_bool(net):
    with pytest.raises(TypeError, match="^multiply_by_inputs: "):
        methods.integrated_gradients(net, _x(), 0, multiply_by_inputs="no")


@pytest.fixture(autouse=True)
def _quiet_captum():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        yield
