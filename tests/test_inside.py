"""Looking inside: filters, activations, statistics, receptive fields (checked by perturbation), top patches."""
import numpy as np
import pytest

import layers as L
import methods
from minigrad import Tensor


def chain():
    """conv5 (pad 2) - avgpool 2 - conv3 stride 2 (pad 1) - conv3: no ReLU or max, so every pixel
    inside a receptive field really moves the unit."""
    return L.Sequential(L.Conv2d(1, 3, 5, padding=2, rng=0), L.AvgPool2d(2), L.Conv2d(3, 4, 3, stride=2, padding=1, rng=1),
                        L.Conv2d(4, 2, 3, rng=2))


def test_receptive_field_arithmetic_and_perturbation():
    net = chain()
    rf = methods.receptive_field(net, net[3])
    # size 5 -> +1 (pool 2) -> +2*2 (conv3 after jump 2) -> +2*4 (conv3 after jump 4) = 18
    # offset: -2 (conv5 pad 2), then -1 * jump 2 (conv3 pad 1) = -4
    assert rf == {"size": (18, 18), "stride": (4, 4), "offset": (-4, -4)}
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32))
    i, j = 2, 3
    top, left = -4 + 4 * i, -4 + 4 * j
    base = net(Tensor(x)).data[0, 0, i, j]
    def moves(r, c):
        y = x.copy()
        y[0, 0, r, c] += 1.0
        return abs(net(Tensor(y)).data[0, 0, i, j] - base) > 1e-12
    for r, c in [(top, left), (top + 17, left + 17), (top, left + 17), (top + 9, left + 9)]:
        assert moves(r, c), (r, c)  # just inside
    for r, c in [(top - 1, left + 5), (top + 18, left + 5), (top + 5, left - 1), (top + 5, left + 18)]:
        assert not moves(r, c), (r, c)  # just outside


def test_top_patches_are_the_most_exciting_windows():
    net = chain()
    data = np.random.default_rng(1).standard_normal((5, 1, 32, 32))
    patches, acts, where = methods.top_patches(net, data, net[2], channel=1, k=4)
    assert patches.shape == (4, 1, 10, 10) and np.all(np.diff(acts) <= 0)
    A = methods.activations(net, data, net[2])
    assert acts[0] == A[:, 1].max()
    n, i, j = where[0]
    rf = methods.receptive_field(net, net[2])
    top, left = rf["offset"][0] + i * 4, rf["offset"][1] + j * 4
    padded = np.pad(data[n, 0], 10)
    np.testing.assert_array_equal(patches[0, 0], padded[top + 10:top + 20, left + 10:left + 20])


def test_filters_activations_and_statistics():
    net = L.LeNet(seed=0)
    f = methods.filters(net.features[0])
    assert f.shape == (6, 1, 5, 5) and f.min() == 0 and np.allclose(f.reshape(6, -1).max(axis=1), 1)
    t = methods.filters(L.Linear(784, 10, rng=0), shape=(1, 28, 28))
    assert t.shape == (10, 1, 28, 28)
    x = np.random.default_rng(0).standard_normal((7, 1, 28, 28))
    acts = methods.activations(net, x, [net.features[1], net.classifier[5]])
    assert acts[net.features[1]].shape == (7, 6, 28, 28) and acts[net.classifier[5]].shape == (7, 10)
    np.testing.assert_allclose(acts[net.classifier[5]], net(Tensor(x)).data)
    stats = methods.activation_statistics(net, x, net.features[1], batch_size=3)
    relu_out = acts[net.features[1]]
    np.testing.assert_allclose(stats["mean"], relu_out.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(stats["active"], (relu_out > 0).mean(axis=(0, 2, 3)))
    assert stats["quantiles"].shape == (6, 5) and np.all(stats["min"] >= 0)
    with pytest.raises(ValueError, match="does not hold"):
        methods.filters(L.Linear(784, 10), shape=(1, 20, 20))
    with pytest.raises(ValueError, match="not a layer of this model"):
        methods.receptive_field(net, L.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="channel"):
        methods.top_patches(net, x, net.features[0], channel=6)


def test_localization_score_on_hand_made_maps():
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[:, 1:3, 1:3] = True
    maps = np.zeros((2, 4, 4))
    maps[0, 1, 2], maps[0, 0, 0] = 3.0, 1.0   # peak inside, 3/4 of the energy inside
    maps[1, 3, 3], maps[1, 2, 2] = 5.0, -2.0  # peak outside, nothing positive inside
    s = methods.localization_score(maps, masks)
    np.testing.assert_array_equal(s["pointing_hit"], [True, False])
    np.testing.assert_allclose(s["energy_inside"], [0.75, 0.0])
    s4 = methods.localization_score(np.stack([maps, maps], axis=1) / 2, masks)  # (N, C, H, W) summed
    np.testing.assert_allclose(s4["energy_inside"], s["energy_inside"])
    with pytest.raises(ValueError, match="same"):
        methods.localization_score(maps, masks[:, :3])
    with pytest.raises(TypeError, match="boolean"):
        methods.localization_score(maps, masks.astype(int))
