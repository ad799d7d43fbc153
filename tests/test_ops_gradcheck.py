"""Calculus: every op's backward against central finite differences (float64, random directions).

Kinks (ReLU and abs at 0, max/max-pool ties) are avoided by drawing inputs whose values are
distinct and away from zero; the conventions at the kinks are tested in test_conventions.py.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg

TOL = 1e-6


def away_from_zero(rng, shape, low=0.1):
    """Random values with |v| >= low and all distinct, so no kink or tie is crossed."""
    v = rng.uniform(low, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return v + 1e-3 * rng.permutation(int(np.prod(shape))).reshape(shape) / max(int(np.prod(shape)), 1)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast against each other in every way NumPy allows."""
    a = draw(shapes)
    b = list(a)
    for i in range(len(b)):
        if draw(st.booleans()):
            b[i] = 1
    drop = draw(st.integers(0, len(b) - 1))
    b = tuple(b[drop:])
    return (a, b) if draw(st.booleans()) else (b, a)


@pytest.mark.parametrize("op", [mg.add, mg.sub, mg.mul, mg.div, mg.pow])
@given(pair=broadcast_pair(), seed=st.integers(0, 2**31 - 1))
def test_binary_ops_with_broadcasting(op, pair, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, pair[0])  # positive base keeps pow's log defined
    b = rng.uniform(0.5, 2.0, pair[1]) * (1 if op is mg.pow else rng.choice([-1, 1], pair[1]))
    assert mg.gradcheck(op, [a, b], seed=seed) < TOL


@pytest.mark.parametrize("fn, positive", [
    (mg.neg, False), (mg.exp, False), (mg.log, True), (mg.sqrt, True), (mg.abs, False),
    (mg.relu, False), (mg.sigmoid, False), (mg.tanh, False),
    (lambda x: mg.softmax(x, axis=-1), False), (lambda x: mg.log_softmax(x, axis=0), False),
])
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_unary_ops(fn, positive, shape, seed):
    rng = np.random.default_rng(seed)
    x = np.abs(away_from_zero(rng, shape)) if positive else away_from_zero(rng, shape)
    assert mg.gradcheck(fn, [x], seed=seed) < TOL


@pytest.mark.parametrize("reduce", [mg.sum, mg.mean, mg.max])
@given(shape=shapes, keepdims=st.booleans(), data=st.data())
def test_reductions_over_axes(reduce, shape, keepdims, data):
    axes = data.draw(st.none() | st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    x = away_from_zero(rng, shape)
    assert mg.gradcheck(lambda t: reduce(t, axes, keepdims), [x]) < TOL


@given(shape=shapes, data=st.data())
def test_reshape_transpose_and_indexing(shape, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal(shape)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    assert mg.gradcheck(lambda t: mg.transpose(t, perm), [x]) < TOL
    assert mg.gradcheck(lambda t: mg.reshape(t, (-1,)), [x]) < TOL
    # basic slicing, and fancy indexing with repeated indices (gradients must add up)
    assert mg.gradcheck(lambda t: t[..., ::2], [x]) < TOL
    idx = rng.integers(0, shape[0], size=5)
    assert mg.gradcheck(lambda t: t[idx] * 1.5, [x]) < TOL


@given(n=st.integers(1, 3), axis=st.integers(0, 2), seed=st.integers(0, 2**31 - 1))
def test_concatenate_and_stack(n, axis, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((2, 3, 2)) for _ in range(n)]
    assert mg.gradcheck(lambda *ts: mg.concatenate(ts, axis=axis), xs) < TOL
    assert mg.gradcheck(lambda *ts: mg.stack(ts, axis=axis), xs) < TOL


@given(batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), m=st.integers(1, 4),
       k=st.integers(1, 4), n=st.integers(1, 4), vec=st.sampled_from(["none", "left", "right"]),
       seed=st.integers(0, 2**31 - 1))
def test_matmul(batch, m, k, n, vec, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k,) if vec == "left" else batch + (m, k))
    b = rng.standard_normal((k,) if vec == "right" else (1,) * len(batch) + (k, n))
    assert mg.gradcheck(mg.matmul, [a, b]) < TOL


@given(n=st.integers(1, 3), fin=st.integers(1, 5), fout=st.integers(1, 5), bias=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_linear(n, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((n, fin)), rng.standard_normal((fout, fin))]
    if bias:
        args.append(rng.standard_normal(fout))
    assert mg.gradcheck(mg.linear, args) < TOL


@st.composite
def conv_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(kh - 2 * ph, 1), 8))
    w = draw(st.integers(max(kw - 2 * pw, 1), 8))
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), o=draw(st.integers(1, 3)),
                hw=(h, w), k=(kh, kw), s=(sh, sw), p=(ph, pw), bias=draw(st.booleans()))


@pytest.mark.parametrize("per_sample, small_weight_gradient, column_entries, few_filters",
                         [(None, None, None, None), (True, False, None, None), (False, False, None, None),
                          (None, None, 1, None), (None, None, None, False)],
                         ids=["chosen", "GEMM per sample, BLAS dW", "one GEMM, BLAS dW", "a sample at a time",
                              "im2col (through the stride phases where kh kw >= 2.5 sh sw)"])
@given(case=conv_case(), seed=st.integers(0, 2**31 - 1))
def test_conv2d(per_sample, small_weight_gradient, column_entries, few_filters, case, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case["n"], case["c"]) + case["hw"])
    w = rng.standard_normal((case["o"], case["c"]) + case["k"])
    args = [x, w] + ([rng.standard_normal(case["o"])] if case["bias"] else [])
    fn = lambda *t: mg.conv2d(*t, stride=case["s"], padding=case["p"])  # noqa: E731
    forced = {} if column_entries is None else {"column_entries": column_entries}
    with mg.kernels(per_sample=per_sample, small_weight_gradient=small_weight_gradient, few_filters=few_filters,
                    **forced):
        assert mg.gradcheck(fn, args, seed=seed) < TOL



@pytest.mark.parametrize("column_entries", [None, 1], ids=["chunks", "a sample at a time"])
@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), p=st.integers(0, 2), data=st.data(),
       bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_conv2d_winograd(column_entries, n, c, o, p, data, bias, seed):
    """F(4x4, 3x3) forced (3x3, stride 1, padding 0-2), on maps from 1x1 outputs to several tiles."""
    h, w = (data.draw(st.integers(max(3 - 2 * p, 1), 10)) for _ in range(2))
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 3, 3))]
    args += [rng.standard_normal(o)] if bias else []
    forced = {} if column_entries is None else {"column_entries": column_entries}
    with mg.kernels(winograd=True, **forced):
        assert mg.gradcheck(lambda *t: mg.conv2d(*t, padding=p), args, seed=seed) < TOL


@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_conv2d_few_filters(n, c, o, k, s, p, d, bias, seed):
    """The direct loops for few filters forced (any kernel, stride, padding and dilation)."""
    rng = np.random.default_rng(seed)
    size = max(d * (k - 1) + 1 - 2 * p, 1) + int(rng.integers(0, 6))
    args = [rng.standard_normal((n, c, size, size + 1)), rng.standard_normal((o, c, k, k))]
    args += [rng.standard_normal(o)] if bias else []
    with mg.kernels(few_filters=True):
        assert mg.gradcheck(lambda *t: mg.conv2d(*t, stride=s, padding=p, dilation=d), args, seed=seed) < TOL


def test_conv2d_bias_gradient_alone_and_with_the_weights():
    # the bias rides in the weight GEMM (a row of ones); alone it is a sum of g: both must agree
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    assert mg.gradcheck(lambda bb: mg.conv2d(x, w, bb, padding=1), [b]) < TOL
    seed = rng.standard_normal((2, 4, 7, 7))
    xt, wt, bt = (mg.Tensor(a, requires_grad=True) for a in (x, w, b))
    gb_alone, = mg.grad(mg.conv2d(x, w, bt, padding=1), [bt], seed=seed)
    gb_with_w = mg.grad(mg.conv2d(xt, wt, bt, padding=1), [xt, wt, bt], seed=seed)[2]
    np.testing.assert_allclose(gb_alone, seed.sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(gb_with_w, gb_alone, rtol=1e-12)

@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))  # stride may differ from the kernel
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(kh - 2 * ph, 1), 8)), draw(st.integers(max(kw - 2 * pw, 1), 8))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), k=(kh, kw), s=(sh, sw), p=(ph, pw))


@pytest.mark.parametrize("pool", [mg.max_pool2d, mg.avg_pool2d])
@given(case=pool_case(), seed=st.integers(0, 2**31 - 1))
def test_pooling(pool, case, seed):
    x = away_from_zero(np.random.default_rng(seed), case["shape"])
    fn = lambda t: pool(t, case["k"], case["s"], case["p"])  # noqa: E731
    assert mg.gradcheck(fn, [x], seed=seed) < TOL


def test_gradcheck_catches_a_wrong_backward():
    class Square(mg.Op):
        name = "test_wrong_square"
        forward = staticmethod(lambda ctx, a: a * a)
        backward = staticmethod(lambda ctx, g: (g * ctx.arrays[0],))  # should be 2 a g

    x = np.random.default_rng(0).standard_normal((3, 4))
    assert mg.gradcheck(Square.apply, [x]) > 0.1
