"""Captum's tuple of inputs (issue #32): ``x = (x_1, ..., x_m)``, the model called as
``model(x_1, ..., x_m, *args)``, one attribution per input. Checked live against Captum on a torch
twin of a three-input network (two images and a vector), and by identities that need no Captum:
a network of two inputs whose first layer sums two convolutions is the one-input network whose
convolution takes both inputs' channels, so every attribution of the pair is the one-input
attribution split at the channels."""
import importlib.util

import numpy as np
import pytest

import layers as L
import methods
from minigrad import concatenate

RNG = np.random.default_rng(3)
IMG = RNG.standard_normal((2, 3, 8, 8))
AUX = RNG.standard_normal((2, 2, 8, 8))
VEC = RNG.standard_normal((2, 5))
TARGET = [0, 2]
TOL = 1e-9


class ThreeInputs(L.Module):
    """fc(maxpool(relu(conv1(img) + conv2(aux)))) + fc_vec(vec): (N, 3, 8, 8), (N, 2, 8, 8), (N, 5) -> (N, 3)."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.conv1 = L.Conv2d(3, 4, 3, padding=1, rng=rng)
        self.conv2 = L.Conv2d(2, 4, 3, padding=1, rng=rng)
        self.relu = L.ReLU()
        self.pool = L.MaxPool2d(2)
        self.fc = L.Linear(64, 3, rng=rng)
        self.fc_vec = L.Linear(5, 3, rng=rng)

    def forward(self, img, aux, vec):
        h = self.pool(self.relu(self.conv1(img) + self.conv2(aux)))
        return self.fc(h.reshape(len(img), -1)) + self.fc_vec(vec)


class Stacked(L.Module):
    """ThreeInputs with img and aux as one input of 5 channels (one convolution over both):
    forward(x, vec), the same function of (img, aux, vec)."""

    def __init__(self, net):
        self.net = net
        self.conv = L.Conv2d(5, 4, 3, padding=1)
        self.conv.weight.data = np.concatenate([net.conv1.weight.data, net.conv2.weight.data], axis=1)
        self.conv.bias.data = net.conv1.bias.data + net.conv2.bias.data

    def forward(self, x, vec):
        h = self.net.pool(self.net.relu(self.conv(x)))
        return self.net.fc(h.reshape(len(x), -1)) + self.net.fc_vec(vec)


NET = ThreeInputs()
STACKED = Stacked(NET)
BOTH = np.concatenate([IMG, AUX], axis=1)


def close(ours, theirs, tol=TOL):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


def split(a):
    return a[:, :3], a[:, 3:]


@pytest.mark.parametrize("name", ["gradient", "input_x_gradient", "guided_backprop", "deconvnet"])
def test_each_input_gets_its_share_of_the_stacked_input_attribution(name):
    fn = getattr(methods, name)
    ours = fn(NET, (IMG, AUX), TARGET, additional_forward_args=(VEC,))
    assert isinstance(ours, tuple) and len(ours) == 2
    for a, b in zip(ours, split(fn(STACKED, BOTH, TARGET, additional_forward_args=(VEC,)))):
        close(a, b)


def test_saliency_takes_the_channel_max_per_image_and_abs_for_vectors():
    img, aux, vec = methods.saliency(NET, (IMG, AUX, VEC), TARGET)
    g = methods.gradient(NET, (IMG, AUX, VEC), TARGET)
    close(img, np.abs(g[0]).max(axis=1))
    close(aux, np.abs(g[1]).max(axis=1))
    close(vec, np.abs(g[2]))


def test_integrated_gradients_of_the_pair_are_the_stacked_ones_split_with_one_completeness_delta():
    base = (0.5, RNG.standard_normal((2, 8, 8)))
    ours, delta = methods.integrated_gradients(NET, (IMG, AUX), TARGET, baseline=(base[0], base[1]), n_steps=16,
                                               return_convergence_delta=True, additional_forward_args=(VEC,))
    stacked_base = np.concatenate([np.full((3, 8, 8), 0.5), base[1]])
    theirs, theirs_delta = methods.integrated_gradients(STACKED, BOTH, TARGET, baseline=stacked_base, additional_forward_args=(VEC,),
                                                        n_steps=16, return_convergence_delta=True)
    for a, b in zip(ours, split(theirs)):
        close(a, b)
    close(delta, theirs_delta, 1e-7)


def test_lrp_of_the_pair_is_the_stacked_one_split():
    """LRP-eps at the sum of two convolutions: the sum's rule splits R by (z1 + b1) / (z + b), each
    convolution by z1_ij / (z1 + b1): together z1_ij / (z + b), the stacked convolution's share."""
    ours = methods.lrp(NET, (IMG, AUX), TARGET, epsilon=1e-13, additional_forward_args=(VEC,))
    for a, b in zip(ours, split(methods.lrp(STACKED, BOTH, TARGET, epsilon=1e-13, additional_forward_args=(VEC,)))):
        close(a, b, 1e-8)


def test_smoothgrad_draws_each_inputs_noise_from_its_own_documented_stream():
    ours = methods.smoothgrad(methods.gradient, NET, (IMG, AUX, VEC), TARGET, n_samples=3, stdevs=(0.1, 0.2, 0.3),
                              seed=5, nt_samples_batch_size=2)
    rngs = [np.random.default_rng(5), np.random.default_rng([5, 1]), np.random.default_rng([5, 2])]
    noise = [rng.standard_normal((3,) + a.shape) * sd for rng, a, sd in zip(rngs, (IMG, AUX, VEC), (0.1, 0.2, 0.3))]
    by_hand = [methods.gradient(NET, tuple(a + e[k] for a, e in zip((IMG, AUX, VEC), noise)), TARGET)
               for k in range(3)]
    for i in range(3):
        close(ours[i], np.mean([g[i] for g in by_hand], axis=0), 1e-12)


def test_occlusion_occludes_one_input_at_a_time():
    """Input i's attribution is the one-input occlusion of the model with the other inputs fixed."""
    windows, strides = ((3, 2, 2), (1, 3, 3), (2,)), ((1, 2, 2), (1, 2, 2), 1)
    ours = methods.occlusion(NET, (IMG, AUX, VEC), TARGET, window=windows, stride=strides,
                             baseline=(0.0, 1.0, np.ones((2, 5))), batch_size=5)

    class Fixed(L.Module):  # forward(x_i, *the others): NET with its inputs back in order
        def __init__(self, i):
            self.i = i

        def forward(self, x, *others):
            args = list(others)
            args.insert(self.i, x)
            return NET(*args)

    xs = (IMG, AUX, VEC)
    for i, (w, s, b) in enumerate(zip(windows, strides, (0.0, 1.0, np.ones((2, 5))))):
        others = xs[:i] + xs[i + 1:]  # the other inputs follow the occluded copies as per-sample args
        alone = methods.occlusion(Fixed(i), (xs[i],), TARGET, window=(w,), stride=(s,), baseline=(b,),
                                  additional_forward_args=others)
        close(ours[i], alone[0])


def test_gradcam_and_guided_gradcam_take_a_tuple():
    gc = methods.gradcam(NET, (IMG, AUX), TARGET, NET.relu, additional_forward_args=(VEC,))
    close(gc, methods.gradcam(STACKED, BOTH, TARGET, NET.relu, additional_forward_args=(VEC,)))
    ggc = methods.guided_gradcam(NET, (IMG, AUX), TARGET, NET.relu, additional_forward_args=(VEC,))
    for a, b in zip(ggc, split(methods.guided_gradcam(STACKED, BOTH, TARGET, NET.relu,
                                                                         additional_forward_args=(VEC,)))):
        close(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda: methods.gradient(NET, (IMG, AUX[:1], VEC), 0), r"x\[1\]: every input needs the batch size of x\[0\], 2"),
    (lambda: methods.gradient(NET, (), 0), r"x: expected a tuple of one or more"),
    (lambda: methods.gradient(NET, (IMG, AUX, VEC + 1j), 0), r"x\[2\]: expected real numbers, got complex"),
    (lambda: methods.gradient(NET, (IMG, AUX, np.full((2, 5), np.nan)), 0), r"x\[2\]: contains NaN"),
    (lambda: methods.integrated_gradients(NET, (IMG, AUX, VEC), 0, baseline=(0.0, 0.0)),
     r"baseline: expected one entry per input \(3\), got a tuple of 2"),
    (lambda: methods.integrated_gradients(NET, (IMG, AUX, VEC), 0, baseline=(0.0, 0.0, np.zeros(4))),
     r"baseline\[2\]: expected a number or an array broadcastable to \(2, 5\)"),
    (lambda: methods.occlusion(NET, (IMG, AUX, VEC), 0, window=(2, 2)), r"window: for a tuple of 3 inputs"),
    (lambda: methods.occlusion(NET, (IMG, AUX, VEC), 0, window=((3, 2, 2), (1, 2, 2), (2, 1))),
     r"window\[2\]: expected 1 entries"),
    (lambda: methods.occlusion(NET, (IMG, AUX, VEC), 0, window=((3, 2, 2), (1, 2, 2), (6,))),
     r"window\[2\]: the window \(6,\) is larger than the input \(5,\)"),
    (lambda: methods.guided_gradcam(NET, (IMG, AUX, VEC), 0, NET.relu), r"x\[2\]: Guided Grad-CAM .* \(2, 5\)"),
    (lambda: methods.excitation_backprop(NET, (IMG, AUX, VEC), 0),
     r"x: this method takes one batch of images, got a tuple of 3"),
    (lambda: methods.gradient(NET, (IMG, AUX, VEC), (0, 1)), r"target: an index tuple needs one index per output axis"),
    (lambda: methods.gradient(NET, (IMG, AUX, VEC), None), r"target: None takes an output of one value per sample"),
])
def test_bad_tuples_are_refused_naming_the_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_target_none_and_index_tuples_read_the_output_as_captum_does():
    class Cube(L.Module):  # (N, 3) -> (N, 3, 2): out[n, k, j] = (j + 1) * x[n, k]^2
        def forward(self, x):
            sq = x * x
            return concatenate([sq.reshape(len(x), 3, 1), (2 * sq).reshape(len(x), 3, 1)], axis=2)

    x = RNG.standard_normal((2, 3))
    g, = methods.gradient(Cube(), (x,), (1, 1))
    close(g, np.stack([np.zeros(2), 4 * x[:, 1], np.zeros(2)], axis=1))
    g, = methods.gradient(Cube(), (x,), [(0, 0), (2, 1)])
    close(g, np.array([[2 * x[0, 0], 0, 0], [0, 0, 4 * x[1, 2]]]))

    class Total(L.Module):
        def forward(self, x):
            return (x * x).sum(axis=1, keepdims=True)

    g, = methods.gradient(Total(), (x,), None)
    close(g, 2 * x)


# ------------------------------------------------------------------------------------------------
# live against Captum on a torch twin

@pytest.fixture(scope="module")
def twin():
    if importlib.util.find_spec("captum") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("captum is not installed: the live comparison needs it (the identities above still ran)")
    import torch
    from torch import nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(2, 4, 3, padding=1)
            self.relu, self.pool = nn.ReLU(), nn.MaxPool2d(2)
            self.fc, self.fc_vec = nn.Linear(64, 3), nn.Linear(5, 3)

        def forward(self, img, aux, vec):
            h = self.pool(self.relu(self.conv1(img) + self.conv2(aux)))
            return self.fc(h.reshape(len(img), -1)) + self.fc_vec(vec)

    net = Twin().double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in NET.state_dict().items()})
    return net.eval()


def _t(*arrays):
    import torch
    return tuple(torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays)


def _np(attrs):
    return [a.detach().numpy() for a in attrs]


@pytest.mark.parametrize("ours, theirs", [("gradient", "Saliency"), ("input_x_gradient", "InputXGradient"),
                                          ("guided_backprop", "GuidedBackprop"), ("deconvnet", "Deconvolution")])
def test_gradient_methods_equal_captum_on_three_inputs(twin, ours, theirs):
    import warnings
    from captum import attr
    kwargs = {"abs": False} if theirs == "Saliency" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _np(getattr(attr, theirs)(twin).attribute(_t(IMG, AUX, VEC), target=TARGET, **kwargs))
    for a, b in zip(getattr(methods, ours)(NET, (IMG, AUX, VEC), TARGET), expected):
        close(a, b)


def test_integrated_gradients_equal_captum_on_three_inputs(twin):
    from captum import attr
    import torch
    base = (0.5, RNG.standard_normal((1, 2, 8, 8)), np.ones((2, 5)))
    ours, delta = methods.integrated_gradients(NET, (IMG, AUX, VEC), TARGET, baseline=base, n_steps=20,
                                               internal_batch_size=7, return_convergence_delta=True)
    theirs, their_delta = attr.IntegratedGradients(twin).attribute(
        _t(IMG, AUX, VEC), baselines=(0.5, torch.tensor(base[1]), torch.tensor(base[2])), target=TARGET,
        n_steps=20, internal_batch_size=7, return_convergence_delta=True)
    for a, b in zip(ours, _np(theirs)):
        close(a, b, 1e-8)  # float64 sums in another order
    close(delta, -their_delta.detach().numpy(), 1e-6)  # Captum's delta is ours negated (README)


def test_occlusion_equals_captum_on_three_inputs(twin):
    from captum import attr
    import torch
    windows, strides = ((3, 2, 2), (1, 3, 3), (2,)), ((1, 2, 2), (1, 2, 2), 1)
    ours = methods.occlusion(NET, (IMG, AUX, VEC), TARGET, window=windows, stride=strides,
                             baseline=(0.0, 1.0, np.ones((2, 5))), batch_size=5)
    theirs = attr.Occlusion(twin).attribute(_t(IMG, AUX, VEC), sliding_window_shapes=windows, strides=strides,
                                            baselines=(0.0, 1.0, torch.ones(2, 5, dtype=torch.float64)),
                                            target=TARGET, perturbations_per_eval=5)
    for a, b in zip(ours, _np(theirs)):
        close(a, b, 1e-6)  # Captum 0.9 returns float32 attributions for a tuple of float64 inputs


def test_layer_gradcam_and_guided_gradcam_equal_captum_on_a_tuple(twin):
    import warnings
    from captum import attr
    ours = methods.gradcam(NET, (IMG, AUX), TARGET, NET.relu, upsample=False, additional_forward_args=(VEC,))
    theirs = attr.LayerGradCam(twin, twin.relu).attribute(_t(IMG, AUX), target=TARGET, relu_attributions=True,
                                                         additional_forward_args=(_t(VEC)[0],))
    close(ours, theirs.detach().numpy()[:, 0])
    ours = methods.guided_gradcam(NET, (IMG, AUX), TARGET, NET.relu, interpolate_mode="nearest",
                                  additional_forward_args=(VEC,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = attr.GuidedGradCam(twin, twin.relu).attribute(_t(IMG, AUX), target=TARGET,
                                                               additional_forward_args=(_t(VEC)[0],))
    for a, b in zip(ours, _np(theirs)):
        close(a, b)
