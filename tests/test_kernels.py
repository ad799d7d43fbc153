"""Fast kernel paths against the reference path they replace: the same numbers, bit for bit where
the arithmetic is the same, and the same gradients."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels import pool


@pytest.fixture(params=[True, False], ids=["fast 2x2", "general"])
def pool_path(request, monkeypatch):
    monkeypatch.setattr(pool, "FAST_2X2", request.param)
    return request.param


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 1, 7, 9), (3, 16, 6, 5), (1, 2, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_2x2_max_pool_equals_the_general_kernel(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, shape).astype(dtype)  # many ties
    x.flat[rng.choice(x.size, 3, replace=False)] = np.nan
    size = ((shape[2] - 2) // 2 + 1, (shape[3] - 2) // 2 + 1)
    results = []
    for fast in (True, False):
        pool.FAST_2X2 = fast
        try:
            results.append(pool.max_pool_forward(x, (2, 2), (2, 2), (0, 0), size))
        finally:
            pool.FAST_2X2 = True
    (out_fast, arg_fast), (out_ref, arg_ref) = results
    np.testing.assert_array_equal(out_fast, out_ref)
    np.testing.assert_array_equal(arg_fast, arg_ref)


def test_max_pool_gradcheck_and_guided_rule_on_each_path(pool_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6))
    assert mg.gradcheck(lambda t: mg.max_pool2d(t, 2), [x]) < 1e-7
    xt = mg.Tensor(x, requires_grad=True)
    y = mg.max_pool2d(mg.relu(xt), 2)
    seed = rng.standard_normal(y.shape)
    with mg.rules(relu="guided"):
        g, = mg.grad(y, [xt], seed=seed)
    assert np.all(g[x <= 0] == 0) and np.all(g >= 0)
