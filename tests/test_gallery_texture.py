"""The texture and style figure (demos/figures_texture.py) shows what its caption claims, and the
measures it rests on (methods/texture_similarity.py) give the values worked out by hand."""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

import layers as L
import methods
from demos import figures_texture
from demos.images import procedural_texture
from methods.image_optimization import style_transfer_losses
from methods.texture_similarity import colour_histogram_intersection, gram_distance


@pytest.mark.parametrize("seed", [0, 1])
def test_the_synthesis_has_the_source_statistics_and_style_transfer_lowers_the_style_loss(tmp_path, seed):
    ctx = SimpleNamespace(out=str(tmp_path), seed=seed, quick=True, mode="quick", progress=False)
    figure = figures_texture.texture_and_style(ctx)
    assert os.path.getsize(tmp_path / figure.file) > 0
    claims = figure.claims
    json.dumps(claims)  # plain numbers, as claims.json needs
    # measured by a network the synthesis never saw: much nearer the source than another texture is
    assert claims["gram_ratio"] >= 5, claims
    assert claims["gram_ratio"] == pytest.approx(claims["gram_distance_to_other_texture"]
                                                 / claims["gram_distance_to_source"])
    # ... and much nearer than where it started: a flat image of the mean colour
    assert claims["gram_distance_to_source"] < claims["gram_distance_flat_to_source"] / 2, claims
    assert claims["colour_histogram_intersection"] >= 0.7, claims
    # style transfer starts at the photograph: no content loss to begin with, a clearly lower style loss after
    assert claims["content_loss_before"] == 0 < claims["content_loss_after"], claims
    assert claims["style_loss_after"] < claims["style_loss_before"] / 10, claims
    # the caption prints the measured values, not remembered ones
    for text in (f"{claims['gram_distance_to_source']:.2f} to the source",
                 f"{claims['gram_distance_flat_to_source']:.2f} for a flat image",
                 f"{claims['gram_distance_to_other_texture']:.2f} for the cells",
                 f"intersect at {claims['colour_histogram_intersection']:.2f}",
                 f"from {claims['style_loss_before']:.3g} to {claims['style_loss_after']:.3g}"):
        assert text in figure.caption, text


def test_histogram_intersection_of_an_image_with_itself_is_one_and_symmetric():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (3, 20, 20)), rng.uniform(0, 1, (3, 12, 16)) ** 2
    assert colour_histogram_intersection(x, x) == pytest.approx(1.0)
    assert colour_histogram_intersection(x, y) == pytest.approx(colour_histogram_intersection(y, x))


def test_histogram_intersection_by_hand():
    # channel 0 shares its bin with the reference, channel 1 half of it, channel 2 nothing:
    # (1 + 1/2 + 0) / 3
    x = np.zeros((3, 2, 2))
    x[0], x[1], x[2] = 0.10, 0.50, 0.90                  # bins 1, 8, 14 of 16
    ref = x.copy()
    ref[1, 0] = 0.99                                     # half of channel 1 moves to bin 15
    ref[2] = 0.20                                        # all of channel 2 to bin 3
    assert colour_histogram_intersection(x, ref) == pytest.approx(0.5)
    # values outside [0, 1] count in the end bins
    assert colour_histogram_intersection(np.full((3, 2, 2), -0.3), np.zeros((3, 2, 2))) == pytest.approx(1.0)
    assert colour_histogram_intersection(np.full((3, 2, 2), 1.0), np.full((3, 2, 2), 0.97)) == pytest.approx(1.0)


def test_histogram_intersection_matches_numpy_histograms():
    rng = np.random.default_rng(1)
    x, ref = rng.beta(2, 5, (3, 30, 30)), rng.uniform(0, 1, (3, 25, 25))
    p = [np.histogram(c, bins=16, range=(0, 1))[0] / c.size for c in x]
    q = [np.histogram(c, bins=16, range=(0, 1))[0] / c.size for c in ref]
    expected = np.mean([np.minimum(a, b).sum() for a, b in zip(p, q)])
    assert colour_histogram_intersection(x, ref) == pytest.approx(expected)


def _scaling_net():
    """A 1x1 convolution copying one grey channel into two, weights 1 and 2, then ReLU."""
    net = L.Sequential(L.Conv2d(1, 2, 1), L.ReLU())
    net[0].weight.data = np.array([1.0, 2.0]).reshape(2, 1, 1, 1)
    net[0].bias.data = np.zeros(2)
    return net


def test_gram_distance_by_hand():
    net = _scaling_net()
    # features (x, 2x) of constant images a and b: G = a^2 [[1, 2], [2, 4]], so the relative Frobenius
    # distance is |a^2 - b^2| / b^2 at each of the two layers: 2 * (4 - 1) / 1
    a, b = np.full((1, 3, 3), 2.0), np.full((1, 5, 5), 1.0)
    assert gram_distance(net, a, b, [net[0], net[1]]) == pytest.approx(6.0)
    assert gram_distance(net, b, b, [net[0], net[1]]) == 0.0
    # below zero the ReLU differs from the convolution: relu(-x) = 0 for x > 0
    assert gram_distance(net, -a, b, [net[1]]) == pytest.approx(1.0)


def test_gram_distance_matches_a_numpy_computation():
    net = L.RandomMultiScaleNet(width=6, kernel_sizes=(3, 5), seed=0)
    rng = np.random.default_rng(2)
    x, ref = rng.uniform(0, 1, (3, 10, 10)), rng.uniform(0, 1, (3, 12, 12))
    branches = list(net.branches)
    expected = 0.0
    for m in branches:
        F, R = (methods.activations(net, img, m) for img in (x, ref))
        G, T = (f.reshape(len(f), -1) @ f.reshape(len(f), -1).T / f.size for f in (F, R))
        expected += np.linalg.norm(G - T) / np.linalg.norm(T)
    assert gram_distance(net, x, ref, branches) == pytest.approx(expected)
    assert gram_distance(net, x, x, branches) == 0.0


def test_texture_synthesis_starts_at_the_texture_mean_colour_or_grey():
    net = L.RandomMultiScaleNet(width=4, kernel_sizes=(3,), seed=0)
    texture = np.stack([np.full((8, 8), 0.1), np.full((8, 8), 0.4), np.full((8, 8), 0.8)])
    texture[:, ::2] += 0.05
    for init, colour in (("mean", texture.mean(axis=(1, 2))), ("grey", np.full(3, 0.5))):
        start, _ = methods.texture_synthesis(net, texture, list(net.branches), steps=1, lr=1e-9, init=init,
                                             parameterization="pixel", progress_bar=False)
        np.testing.assert_allclose(start.mean(axis=(1, 2)), colour, atol=0.01)
    with pytest.raises(ValueError, match="init"):
        methods.texture_synthesis(net, texture, list(net.branches), init="black")


def test_style_transfer_losses_vanish_at_their_targets():
    net = L.RandomMultiScaleNet(width=4, kernel_sizes=(3, 5), seed=0)
    rng = np.random.default_rng(3)
    photo, style = rng.uniform(0, 1, (3, 10, 10)), rng.uniform(0, 1, (3, 14, 14)) ** 4
    branches = list(net.branches)
    content, style_at_photo = style_transfer_losses(net, photo, photo, style, branches[0], branches)
    assert content == 0 and style_at_photo > 0
    assert style_transfer_losses(net, style, style, style, branches[0], branches) == (0.0, 0.0)
    # the same numbers as the objective style_transfer maximises, with alpha = beta = 1
    _, history = methods.style_transfer(net, photo, style, branches[0], branches, style_weight=1.0, steps=1,
                                        progress_bar=False)
    assert -history["objective"][0, 0] == pytest.approx(content + style_at_photo)


def test_the_tartan_repeats_its_sett_three_times():
    img = procedural_texture(48, "tartan", seed=0)
    assert img.shape == (3, 48, 48) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    np.testing.assert_allclose(img, np.roll(img, (16, 16), axis=(1, 2)), atol=1e-6)
    assert not np.allclose(img, np.roll(img, (8, 8), axis=(1, 2)))
