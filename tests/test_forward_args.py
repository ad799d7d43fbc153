"""additional_forward_args (issue #32): extra arguments of the model's forward, passed after x as
Captum passes them. Each method with the args equals the same method on a wrapper module with the
args baked in; where a method builds a new batch (integrated gradients, SmoothGrad, occlusion), the
per-sample args follow it, checked against the baked rows and against Captum on a torch twin."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
from minigrad import Tensor

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import rejects  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 2, 6, 6))
Y = RNG.uniform(0.5, 2.0, (2, 3))  # a per-sample channel gain: one row per sample
Y2 = RNG.uniform(-2.0, 2.0, (2, 3))  # negative gains change which units the ReLU passes
SCALE = 1.5
TARGET = [1, 3]


class Toy(L.Module):
    """forward(x, y, scale): conv, times the per-sample gain y (N, 3) per channel, ReLU, global
    average pooling, Linear, times the number ``scale``. A y of one row broadcasts over any batch."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.conv = L.Conv2d(2, 3, 3, padding=1, rng=rng)
        self.relu = L.ReLU()
        self.gap = L.GlobalAvgPool2d()
        self.fc = L.Linear(3, 4, rng=rng)

    def forward(self, x, y, scale=1.0):
        return self.fc(self.gap(self.relu(self.conv(x) * y.reshape(len(y), -1, 1, 1)))) * scale


class Baked(L.Module):
    """The toy with its extra arguments fixed: forward(x) = net(x, *args)."""

    def __init__(self, net, *args):
        self.net = net
        self.args = args

    def forward(self, x):
        return self.net(x, *self.args)


NET = Toy()

# every method that runs the model on x once, on the batch as it is: (name, call(model, x, **kw))
SAME_BATCH = [
    ("gradient", lambda m, x, **kw: methods.gradient(m, x, TARGET, **kw)),
    ("saliency", lambda m, x, **kw: methods.saliency(m, x, TARGET, **kw)),
    ("input_x_gradient", lambda m, x, **kw: methods.input_x_gradient(m, x, TARGET, **kw)),
    ("guided_backprop", lambda m, x, **kw: methods.guided_backprop(m, x, TARGET, **kw)),
    ("deconvnet", lambda m, x, **kw: methods.deconvnet(m, x, TARGET, **kw)),
    ("cam", lambda m, x, **kw: methods.cam(m, x, TARGET, **kw)),
    ("gradcam", lambda m, x, **kw: methods.gradcam(m, x, TARGET, NET.relu, **kw)),
    ("gradcam_plus_plus", lambda m, x, **kw: methods.gradcam_plus_plus(m, x, TARGET, NET.relu, **kw)),
    ("guided_gradcam", lambda m, x, **kw: methods.guided_gradcam(m, x, TARGET, NET.relu, **kw)),
    ("lrp", lambda m, x, **kw: methods.lrp(m, x, TARGET, **kw)),
    ("excitation_backprop", lambda m, x, **kw: methods.excitation_backprop(m, x, TARGET, **kw)),
    ("excitation_backprop layer", lambda m, x, **kw: methods.excitation_backprop(m, x, TARGET, layer=NET.relu,
                                                                                 **kw)),
]


@pytest.mark.parametrize("name, call", SAME_BATCH, ids=[r[0] for r in SAME_BATCH])
def test_args_reach_the_model_as_if_baked_in(name, call):
    ours = call(NET, X, additional_forward_args=(Y, SCALE))
    np.testing.assert_array_equal(ours, call(Baked(NET, Y, SCALE), X))
    # the args are really used: another gain gives another result
    assert not np.allclose(ours, call(Baked(NET, Y2, SCALE), X))


def test_a_single_argument_is_passed_as_a_one_tuple():
    ours = methods.gradient(NET, X, TARGET, additional_forward_args=Y)
    np.testing.assert_array_equal(ours, methods.gradient(Baked(NET, Y), X, TARGET))


def test_arrays_and_tensors_reach_the_model_as_they_were_given():
    seen = []

    class Spy(Toy):
        def forward(self, x, y, scale=1.0):
            seen.append(type(y))
            return super().forward(x, y, scale)

    spy = Spy()
    a = methods.integrated_gradients(spy, X, TARGET, n_steps=4, additional_forward_args=(Y, SCALE))
    b = methods.integrated_gradients(spy, X, TARGET, n_steps=4, additional_forward_args=(Tensor(Y), SCALE))
    assert seen == [np.ndarray, Tensor]
    np.testing.assert_array_equal(a, b)


def test_integrated_gradients_repeats_the_args_over_the_path_steps():
    # all steps in one pass: the path batch is step-major (n_steps copies of the batch), so baking
    # the gain tiled n_steps times is the same computation
    steps = 8
    ours = methods.integrated_gradients(NET, X, TARGET, n_steps=steps, additional_forward_args=(Y, SCALE))
    baked = methods.integrated_gradients(Baked(NET, np.tile(Y, (steps, 1)), SCALE), X, TARGET, n_steps=steps)
    np.testing.assert_array_equal(ours, baked)
    # in chunks, with the deltas: each sample as if alone with its own row
    ours, delta = methods.integrated_gradients(NET, X, TARGET, n_steps=steps, internal_batch_size=6,
                                               return_convergence_delta=True, additional_forward_args=(Y, SCALE))
    for i in range(len(X)):
        r, d = methods.integrated_gradients(Baked(NET, Y[i:i + 1], SCALE), X[i:i + 1], TARGET[i], n_steps=steps,
                                            return_convergence_delta=True)
        np.testing.assert_allclose(ours[i:i + 1], r, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(delta[i], d[0], rtol=1e-9, atol=1e-14)


def test_smoothgrad_repeats_the_args_over_the_noisy_copies():
    k = 3
    # all copies in one call: the noisy batch is copy-major, k copies of the batch (and integrated
    # gradients then repeats that over its 4 steps), so baking the gain tiled as often is the same
    for method, opts, tiles in ((methods.gradient, {}, k), (methods.integrated_gradients, {"n_steps": 4}, k * 4)):
        ours = methods.smoothgrad(method, NET, X, TARGET, n_samples=k, nt_samples_batch_size=None,
                                  additional_forward_args=(Y, SCALE), **opts)
        baked = methods.smoothgrad(method, Baked(NET, np.tile(Y, (tiles, 1)), SCALE), X, TARGET, n_samples=k,
                                   nt_samples_batch_size=None, **opts)
        np.testing.assert_array_equal(ours, baked)
    # one copy per call (the default): the same up to rounding
    one = methods.smoothgrad(methods.gradient, NET, X, TARGET, n_samples=k, additional_forward_args=(Y, SCALE))
    all_at_once = methods.smoothgrad(methods.gradient, NET, X, TARGET, n_samples=k, nt_samples_batch_size=None,
                                     additional_forward_args=(Y, SCALE))
    np.testing.assert_allclose(one, all_at_once, rtol=1e-12, atol=1e-15)


def test_occlusion_gives_each_occluded_copy_its_samples_args():
    ours = methods.occlusion(NET, X, TARGET, window=2, stride=1, batch_size=7, additional_forward_args=(Y, SCALE))
    for i in range(len(X)):
        alone = methods.occlusion(Baked(NET, Y[i:i + 1], SCALE), X[i:i + 1], TARGET[i], window=2, stride=1,
                                  batch_size=7)
        np.testing.assert_allclose(ours[i:i + 1], alone, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours, methods.occlusion(NET, X, TARGET, window=2, additional_forward_args=(Y2, SCALE)))


@pytest.mark.parametrize("call", [
    lambda args: methods.integrated_gradients(NET, X, TARGET, n_steps=4, additional_forward_args=args),
    lambda args: methods.smoothgrad(methods.gradient, NET, X, TARGET, n_samples=2, additional_forward_args=args),
    lambda args: methods.occlusion(NET, X, TARGET, window=2, additional_forward_args=args),
], ids=["integrated_gradients", "smoothgrad", "occlusion"])
def test_an_array_that_cannot_follow_the_batch_is_refused(call):
    # 3 rows for a batch of 2: Captum would concatenate it anyway; we refuse, naming it
    rejects(lambda: call((Y, np.ones((3, 3)))), "additional_forward_args[1]")
    rejects(lambda: call(np.ones(3)), "additional_forward_args[0]")


# --- against Captum, live, on a torch twin ----------------------------------------------------------

def _torch_twin():
    import torch

    class TorchToy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
            self.fc = torch.nn.Linear(3, 4)

        def forward(self, x, y, scale=1.0):
            return self.fc(torch.relu(self.conv(x) * y[:, :, None, None]).mean(dim=(2, 3))) * scale

    torch.manual_seed(0)
    twin = TorchToy().double().eval()
    net = Toy()
    net.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    return twin, net


@pytest.fixture(scope="module")
def captum_twin():
    if importlib.util.find_spec("captum") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("captum is not installed: the live comparison is skipped")
    import torch
    from captum import attr

    twin, net = _torch_twin()

    def inputs():
        return torch.from_numpy(X.copy()), (torch.from_numpy(Y.copy()), SCALE)

    return attr, torch, twin, net, inputs


def _close(ours, theirs, tol):
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


def test_integrated_gradients_expands_args_as_captum(captum_twin):
    attr, torch, twin, net, inputs = captum_twin
    x, args = inputs()
    theirs, their_delta = attr.IntegratedGradients(twin).attribute(
        x, target=torch.tensor(TARGET), additional_forward_args=args, n_steps=20, internal_batch_size=6,
        return_convergence_delta=True)
    ours, delta = methods.integrated_gradients(net, X, TARGET, n_steps=20, internal_batch_size=6,
                                               return_convergence_delta=True, additional_forward_args=(Y, SCALE))
    _close(ours, theirs.detach().numpy(), 1e-8)
    np.testing.assert_allclose(delta, -their_delta.detach().numpy(), atol=1e-8 * np.abs(theirs.detach().numpy()).sum())
    # and the args matter to Captum too: without them the twin's result differs
    _close(methods.integrated_gradients(net, X, TARGET, n_steps=20, additional_forward_args=(np.ones((2, 3)), 1.0)),
           attr.IntegratedGradients(twin).attribute(inputs()[0], target=torch.tensor(TARGET), n_steps=20,
                                                    additional_forward_args=(torch.ones(2, 3, dtype=torch.float64),))
           .detach().numpy(), 1e-8)


def test_occlusion_expands_args_as_captum(captum_twin):
    attr, torch, twin, net, inputs = captum_twin
    x, args = inputs()
    theirs = attr.Occlusion(twin).attribute(
        x, sliding_window_shapes=(2, 2, 3), strides=(2, 1, 2), baselines=0.25, target=torch.tensor(TARGET),
        additional_forward_args=args, perturbations_per_eval=5)[:, 0].numpy()
    ours = methods.occlusion(net, X, TARGET, window=(2, 3), stride=(1, 2), baseline=0.25, batch_size=5,
                             additional_forward_args=(Y, SCALE))
    _close(ours, theirs, 1e-6)
