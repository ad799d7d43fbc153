"""methods.fooling_image keeps the gallery's claim (issue 25): on 20 correctly classified test
images, target (label + 1) mod classes, at least 18 reach the target with median L-inf <= 0.1,
and the pixels stay in [0, 1]; on a small network trained here."""
import numpy as np
import pytest

import layers as L
import methods
from demos.shapes import make_shapes


@pytest.fixture(scope="module")
def fooled():
    """A seeded GAPNet on the shapes (~3 s), its first 20 correctly classified test images, their
    targets, and fooling_image's result with its default arguments."""
    X, y = make_shapes(1500, size=20, seed=2)[:2]
    net = L.GAPNet(num_classes=6, widths=(8, 16, 32), batch_norm=True, seed=0).float()
    L.fit(net, X[:1200], y[:1200], epochs=8, batch_size=32, optimizer=L.Adam(net.parameters(), lr=3e-3), seed=0,
          progress_bar=False, verbose=False)
    net, X, y = net.double(), X[1200:].astype(np.float64), y[1200:]
    right = np.flatnonzero(L.predict(net, X).argmax(1) == y)[:20]
    assert len(right) == 20
    target = (y[right] + 1) % 6
    return net, X[right], target, methods.fooling_image(net, X[right], target)


def test_most_images_reach_the_target_with_a_small_change(fooled):
    net, x, target, result = fooled
    assert np.sum(result.success) >= 18 and np.median(result.linf) <= 0.1, (result.success, result.linf)
    np.testing.assert_array_equal(L.predict(net, result.x).argmax(1) == target, result.success)


def test_the_defaults_keep_pixels_in_range_and_move_each_by_one_grey_level_a_step(fooled):
    _, x, _, result = fooled
    assert result.x.min() >= 0.0 and result.x.max() <= 1.0
    assert np.all(result.linf <= result.steps / 255 + 1e-12)


def test_clip_none_lets_pixels_leave_the_range(fooled):
    # the default's range is the clipping's doing: unclipped, the same ascent leaves [0, 1]
    net, x, target, _ = fooled
    free = methods.fooling_image(net, x, target, clip=None)
    assert free.x.min() < 0.0 or free.x.max() > 1.0
    narrow = methods.fooling_image(net, 0.25 + 0.5 * x, target, clip=(0.25, 0.75))
    assert narrow.x.min() >= 0.25 and narrow.x.max() <= 0.75


def test_the_cs231n_step_reaches_the_target_and_the_result_reports_its_size(fooled):
    # moved from test_optimize.py, where the shared network now reaches only ~50% on the new shapes
    net, x, target, _ = fooled
    result = methods.fooling_image(net, x[:8], target[:8], max_steps=100, lr=0.1, norm="2")
    x_fool, steps = result
    assert np.all(L.predict(net, x_fool).argmax(1) == target[:8]) and np.all(result.success)
    assert np.all(steps >= 1) and np.all(steps <= 100)
    d = (x_fool - x[:8]).reshape(8, -1)
    np.testing.assert_allclose(result.linf, np.abs(d).max(1))
    np.testing.assert_allclose(result.l2, np.sqrt((d * d).sum(1)))
    assert np.all(result.l2 <= 0.1 * steps + 1e-9)  # each step has L2 size lr; clipping only shortens it
