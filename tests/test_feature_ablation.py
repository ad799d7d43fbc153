"""methods.feature_ablation: Captum 0.9's FeatureAblation on the reference GAPNet's torch twin
(conv/ReLU/max-pool/conv/ReLU/GAP/linear, float64), identities on a linear model and against
occlusion, and the checks on its arguments."""
import os
import sys

import numpy as np
import pytest

import layers as L
from methods.feature_ablation import feature_ablation
from methods.occlusion import occlusion
from minigrad import Tensor

sys.path.insert(0, os.path.dirname(__file__))

TARGET = [1, 3]


def _x(shape=(2, 3, 6, 6), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _quadrants(h=6, w=6):
    """An (H, W) mask of 4 groups, ids 0..3 (top-left, top-right, bottom-left, bottom-right)."""
    return 2 * (np.arange(h)[:, None] >= h // 2) + (np.arange(w)[None, :] >= w // 2)


def _relative(ours, theirs):
    return np.abs(ours - theirs).max() / np.abs(theirs).max()


@pytest.fixture(scope="module")
def twins():
    pytest.importorskip("captum")
    from gapnet_twins import gapnet_twins
    return gapnet_twins()


def _captum(torch_net, x, target, **options):
    import torch
    from captum.attr import FeatureAblation
    options = {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
               for k, v in options.items()}
    return FeatureAblation(torch_net).attribute(torch.from_numpy(x), target=torch.tensor(target),
                                                **options).numpy()


@pytest.mark.parametrize("perturbations_per_eval", [1, 7])
def test_every_value_a_feature_equals_captum(twins, perturbations_per_eval):
    theirs, ours = twins
    x = _x()
    got = feature_ablation(ours, x, TARGET, baselines=0.3, perturbations_per_eval=perturbations_per_eval)
    expected = _captum(theirs, x, TARGET, baselines=0.3, perturbations_per_eval=3)
    assert got.shape == x.shape and got.dtype == x.dtype
    assert _relative(got, expected) < 1e-8


@pytest.mark.parametrize("mask_form", ["hw", "chw", "1chw", "sparse_ids"])
def test_feature_mask_equals_captum(twins, mask_form):
    """An (H, W) mask groups a pixel's channels (Captum: mask (1, 1, H, W)); a (C, H, W) mask gives
    each channel its own groups; ids need not be contiguous (Captum skips absent ones)."""
    theirs, ours = twins
    x = _x()
    q = _quadrants()
    mask = {"hw": q, "chw": q[None] + 4 * np.arange(3)[:, None, None], "1chw": np.broadcast_to(q, (1, 3, 6, 6)),
            "sparse_ids": 10 * q + 3}[mask_form]
    baselines = _x(seed=1)
    got = feature_ablation(ours, x, TARGET, baselines=baselines, feature_mask=mask, perturbations_per_eval=2)
    captum_mask = np.broadcast_to(mask, (1, 3, 6, 6))
    expected = _captum(theirs, x, TARGET, baselines=baselines, feature_mask=captum_mask)
    assert _relative(got, expected) < 1e-8


def test_linear_model_drop_is_weight_times_difference():
    """For s(x) = w . x + b, the drop of one value is w_i (x_i - b_i) (NumPy brute force)."""
    net = L.Sequential(L.Flatten(), L.Linear(3 * 4 * 4, 2, rng=0))
    x, base = _x((2, 3, 4, 4)), _x((2, 3, 4, 4), seed=2)
    got = feature_ablation(net, x, 1, baselines=base, perturbations_per_eval=5)
    w = net[1].weight.data[1].reshape(3, 4, 4)
    np.testing.assert_allclose(got, w * (x - base), rtol=1e-10, atol=1e-12)


def test_square_patches_equal_occlusion_on_a_real_network():
    """Non-overlapping 16 x 16 patches over all channels of a 32 x 32 image, ResNet-18 (float32, kept
    small for time): feature ablation with that mask is occlusion with a 16 x 16 window and stride 16
    (each value in one window)."""
    net = L.resnet18(num_classes=5, seed=0, dtype=np.float32).eval()
    x = np.random.default_rng(0).uniform(0, 1, (3, 32, 32)).astype(np.float32)
    patches = (np.arange(32)[:, None] // 16) * 2 + np.arange(32)[None, :] // 16
    got = feature_ablation(net, x, 2, baselines=0.5, feature_mask=patches, perturbations_per_eval=4)
    expected = occlusion(net, x, 2, window=16, stride=16, baseline=0.5, batch_size=4)
    assert got.shape == x.shape and got.dtype == np.float32
    scale = np.abs(expected).max()
    assert scale > 0 and np.abs(got - expected).max() <= 1e-5 * scale


def test_single_image_callable_target_and_forward_args():
    """A single image comes back without the batch axis; a per-sample forward argument follows its
    sample's ablated copies (a scale s_n multiplies sample n's drops by s_n)."""
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)

    class Scaled(L.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, scale):
            return self.net(x) * Tensor(np.asarray(scale)[:, None])

    x = _x((2, 3, 6, 6))
    mask = _quadrants()
    plain = feature_ablation(net, x, TARGET, feature_mask=mask)
    one = feature_ablation(net, x[1], lambda out: out[:, 3], feature_mask=mask)
    np.testing.assert_allclose(one, plain[1], rtol=1e-12, atol=1e-15)
    scaled = feature_ablation(Scaled(), x, TARGET, feature_mask=mask, perturbations_per_eval=3,
                              additional_forward_args=np.array([2.0, -3.0]))
    np.testing.assert_allclose(scaled, plain * np.array([2.0, -3.0])[:, None, None, None], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("options, error, words", [
    (dict(feature_mask=np.zeros((6, 6))), TypeError, "feature_mask"),
    (dict(feature_mask=np.zeros((5, 6), dtype=int)), ValueError, "feature_mask"),
    (dict(feature_mask=-np.ones((6, 6), dtype=int)), ValueError, "feature_mask"),
    (dict(feature_mask=np.zeros(6, dtype=int)), ValueError, "feature_mask"),
    (dict(perturbations_per_eval=0), ValueError, "perturbations_per_eval"),
    (dict(perturbations_per_eval=1.5), TypeError, "perturbations_per_eval"),
    (dict(baselines=np.zeros((4, 6))), ValueError, "baselines"),
])
def test_bad_arguments_are_named(options, error, words):
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    with pytest.raises(error, match=words):
        feature_ablation(net, _x(), TARGET, **options)
