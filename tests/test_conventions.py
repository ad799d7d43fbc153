"""Conventions at kinks and ties, shared with PyTorch (DESIGN.md section 3)."""
import numpy as np

import minigrad as mg


def test_relu_and_abs_have_zero_derivative_at_zero():
    x = mg.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    assert mg.grad(mg.relu(x), [x])[0].tolist() == [0.0, 0.0]
    assert mg.grad(mg.abs(x), [x])[0].tolist() == [0.0, 0.0]


def test_relu_kernels_equal_the_numpy_formulas():
    # one parallel pass each; NaN passes forward as in np.maximum and np.clip, dtype and shape are
    # kept; ReLU6 is the same clamp with top 6 (its mask 0 < x < 6); the last shape runs parallel
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in ((3, 4, 5, 6), (2, 8, 64, 64)):
            x = 4 * rng.standard_normal(shape).astype(dtype)
            x[0, 0, :2, :4] = [[0.0, np.nan, -np.inf, np.inf], [6.0, -0.0, 7.0, 5.5]]
            g = rng.standard_normal(x.shape).astype(dtype)
            for a, b in ((x, g), (x.transpose(0, 2, 1, 3), g.transpose(0, 2, 1, 3))):  # and non-contiguous
                for op, want, mask in ((mg.relu, np.maximum(a, 0), a > 0),
                                       (mg.relu6, np.clip(a, 0, 6), (a > 0) & (a < 6))):
                    xt = mg.Tensor(a, requires_grad=True)
                    y = op(xt)
                    np.testing.assert_array_equal(y.data, want)
                    assert y.data.dtype == dtype and y.data.shape == a.shape
                    gx, = mg.grad(y, [xt], seed=b)
                    np.testing.assert_array_equal(gx, b * mask)
                    assert gx.dtype == dtype


def test_max_pool_sends_tied_gradients_to_the_first_maximum():
    x = mg.Tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    g, = mg.grad(mg.max_pool2d(x, 2), [x])
    np.testing.assert_array_equal(g[0, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_max_pool_padding_is_minus_infinity():
    x = mg.Tensor(-np.ones((1, 1, 2, 2)))
    out = mg.max_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(out.data, -np.ones((1, 1, 3, 3)))


def test_reduce_max_splits_ties_evenly():
    x = mg.Tensor(np.array([2.0, 5.0, 5.0]), requires_grad=True)
    np.testing.assert_array_equal(mg.grad(mg.max(x), [x])[0], [0.0, 0.5, 0.5])


def test_avg_pool_counts_padding():
    x = mg.Tensor(np.ones((1, 1, 2, 2)))
    out = mg.avg_pool2d(x, 2, stride=1, padding=1)
    assert out.data[0, 0, 0, 0] == 0.25 and out.data[0, 0, 1, 1] == 1.0
