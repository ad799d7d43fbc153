"""Fast kernel paths against the reference path they replace: the same numbers, bit for bit where
the arithmetic is the same, and the same gradients."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels import conv, pool, process_settings
from minigrad.kernels.channel_affine import channel_affine
from minigrad.kernels.im2col import col2im, im2col
from minigrad.kernels.scatter_add import scatter_add


@pytest.fixture(params=[True, False], ids=["fast 2x2", "general"])
def pool_path(request):
    with mg.kernels(fast_2x2=request.param):
        yield request.param


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 1, 7, 9), (3, 16, 6, 5), (1, 2, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_2x2_max_pool_equals_the_general_kernel(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, shape).astype(dtype)  # many ties
    x.flat[rng.choice(x.size, 3, replace=False)] = np.nan
    size = ((shape[2] - 2) // 2 + 1, (shape[3] - 2) // 2 + 1)
    results = []
    for fast in (True, False):
        with mg.kernels(fast_2x2=fast):
            results.append(pool.max_pool_forward(x, (2, 2), (2, 2), (0, 0), size))
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


def _im2col_by_windows(x, k, s, p):
    """im2col's layout from NumPy's sliding windows over the zero-padded input."""
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(x.shape[1] * k[0] * k[1], -1)  # (c, i, j) x (n, oh, ow)


# (N, C, H, W), kernel, stride, padding: square and not, wider padding than kernel, rows of 1 to 70; the
# strided 5x5 and 7x7 rows go through the stride phases (im2col._through_phases), the others not
@pytest.mark.parametrize("shape, k, s, p", [
    ((2, 3, 8, 8), (3, 3), (1, 1), (1, 1)), ((1, 2, 7, 70), (3, 5), (1, 1), (0, 2)),
    ((3, 1, 9, 11), (3, 3), (2, 3), (2, 1)), ((2, 4, 5, 6), (1, 1), (1, 1), (0, 0)),
    ((1, 2, 4, 4), (2, 2), (1, 1), (3, 3)), ((2, 3, 17, 16), (5, 5), (3, 2), (2, 0)),
    ((2, 2, 15, 13), (7, 7), (2, 2), (3, 3)), ((1, 3, 16, 14), (5, 5), (3, 3), (1, 1)),
    ((2, 2, 12, 12), (2, 2), (2, 2), (0, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_equals_numpy_sliding_windows_and_col2im_is_its_adjoint(shape, k, s, p, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    size = tuple((shape[2 + a] + 2 * p[a] - k[a]) // s[a] + 1 for a in range(2))
    cols = im2col(x, k, s, p, size)
    assert np.array_equal(cols, _im2col_by_windows(x, k, s, p))
    c = rng.standard_normal(cols.shape).astype(dtype)
    dx = col2im(c, shape, k, s, p, size)
    # <im2col(x), c> = <x, col2im(c)>, and col2im sums each input's windows the way NumPy's does
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, dx), rtol=tol)
    ref = np.zeros((shape[0], shape[1], shape[2] + 2 * p[0], shape[3] + 2 * p[1]), np.float64)
    win = np.lib.stride_tricks.sliding_window_view(ref, k, axis=(2, 3), writeable=True)[:, :, ::s[0], ::s[1]]
    per_window = c.astype(np.float64).reshape(shape[1], k[0], k[1], shape[0], *size).transpose(3, 0, 4, 5, 1, 2)
    for index in np.ndindex(per_window.shape[2:4]):  # windows overlap: add them one output position at a time
        win[:, :, index[0], index[1]] += per_window[:, :, index[0], index[1]]
    ref = ref[:, :, p[0]:p[0] + shape[2], p[1]:p[1] + shape[3]]
    np.testing.assert_allclose(dx, ref, rtol=tol, atol=tol)


# (N, C, H, W), O, kernel, stride, padding: channel counts 1, 3, 16, 64; odd sizes; stride 2;
# padding 0, 1, 2; batch 1; maps on both sides of the per-sample threshold (1024 positions) and of
# the row widths im2col and col2im once treated apart (16 and 48 columns)
CONV_SHAPES = [((1, 3, 50, 49), 8, 3, 1, 1), ((1, 1, 7, 9), 3, 3, 1, 0), ((2, 3, 33, 31), 16, 3, 1, 1),
               ((1, 16, 32, 32), 64, 3, 1, 1), ((2, 64, 9, 11), 16, 3, 2, 2), ((3, 16, 35, 34), 16, 5, 1, 2),
               ((1, 3, 64, 64), 64, 3, 2, 1), ((2, 64, 8, 8), 64, 1, 1, 0), ((3, 8, 6, 6), 4, 3, 1, 1),
               # Winograd by default (3x3, stride 1, >= 32 channels both sides): padding 0 and 2, maps
               # that are not whole 4x4 tiles, batch 1, 64 channels
               ((2, 64, 9, 11), 32, 3, 1, 2), ((1, 32, 13, 7), 64, 3, 1, 0), ((3, 32, 16, 16), 32, 3, 1, 1)]


# minigrad.kernels(per_sample, small_weight_gradient, column_entries, winograd): the plainest fast
# path first (im2col, one GEMM over the whole batch, BLAS weight gradient); column_entries = 1 takes the
# batch one sample at a time; winograd = True takes F(4x4, 3x3) wherever it applies (3x3, stride 1)
KERNEL_PATHS = [(False, False, 0, False), (True, False, 0, False), (False, True, 0, False),
                (None, None, 1 << 19, None), (False, False, 1, False), (True, True, 1, False),
                (None, None, 0, True), (None, None, 1, True)]
_NAMES = ("per_sample", "small_weight_gradient", "column_entries", "winograd")


@pytest.mark.parametrize("reuse_buffers", [False, True], ids=["fresh temporaries", "scratch buffers"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape, O, k, s, p", CONV_SHAPES)
def test_every_kernel_path_equals_the_reference_path(shape, O, k, s, p, dtype, tol, reuse_buffers, monkeypatch):
    """Forward, input gradient, weight and bias gradients: each GEMM layout, weight-gradient kernel
    and Winograd, forced and as chosen per shape, the batch whole or a sample at a time, against
    the one-GEMM im2col path with BLAS's weight gradient (relative to each result's largest entry).
    Temporaries come fresh from the allocator (glibc tuned) or from the reused scratch buffers."""
    monkeypatch.setattr(process_settings, "freed_memory_kept", not reuse_buffers)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((O, shape[1], k, k)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    seed = None
    results = {}
    for path in KERNEL_PATHS:
        with mg.kernels(**dict(zip(_NAMES, path))):
            ts = [mg.Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = mg.conv2d(*ts, stride=s, padding=p)
            seed = rng.standard_normal(y.shape).astype(dtype) if seed is None else seed
            results[path] = [y.data] + list(mg.grad(y, ts, seed=seed))
    for path in KERNEL_PATHS[1:]:
        for got, ref in zip(results[path], results[KERNEL_PATHS[0]]):
            assert got.dtype == dtype
            assert np.max(np.abs(got - ref)) <= tol * np.max(np.abs(ref))


def test_winograd_is_chosen_for_3x3_stride_1_convolutions_with_at_least_32_channels_each_side():
    assert conv._winograd((64, 32, 3, 3), (1, 1), (1, 1)) and conv._winograd((32, 128, 3, 3), (1, 1), (0, 2))
    assert not conv._winograd((64, 16, 3, 3), (1, 1), (1, 1))  # few channels: im2col measured faster
    assert not conv._winograd((64, 64, 3, 3), (2, 2), (1, 1))
    assert not conv._winograd((64, 64, 5, 5), (1, 1), (2, 2))
    assert not conv._winograd((64, 64, 3, 3), (1, 1), (3, 3))  # the input gradient would need padding -1
    assert not conv._winograd((64, 64, 3, 3), (1, 1), (1, 1), (2, 2))  # dilated taps


def test_winograd_needs_enough_output_tiles_over_the_batch():
    # few 4x4 tiles: reading the 4x larger transformed filters costs more than the multiplies saved
    args = (512, 512, 3, 3), (1, 1), (1, 1), (1, 1)
    assert not conv._winograd(*args, 1, (7, 7), np.float32)  # ResNet-18's last stage at batch 1: 4 tiles
    assert not conv._winograd(*args, 7, (7, 7), np.float32)  # 28 tiles, float32
    assert conv._winograd(*args, 8, (7, 7), np.float32)  # 32 tiles
    assert conv._winograd(*args, 4, (7, 7), np.float64)  # 16 tiles suffice in float64
    assert not conv._winograd(*args, 3, (7, 7), np.float64)
    assert conv._winograd(*args, 1, (28, 28), np.float32)  # 49 tiles
    with mg.kernels(winograd=True):
        assert conv._winograd(*args, 1, (7, 7), np.float32)


# --- scatter_add: np.add.at for getitem's gradient ---------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [
    lambda rng: (slice(None), slice(None), rng.integers(0, 9, (5, 4)), rng.integers(0, 7, (5, 4))),  # a bilinear tap
    lambda rng: (slice(None), slice(None), (np.arange(9) - 3) % 9),  # a roll
    lambda rng: (np.array([1, 1, 0, 1]),),  # repeated rows
    lambda rng: (rng.random((2, 3, 9, 7)) > 0.5,),  # a mask
    lambda rng: (slice(None), 1, np.array([[2, 2], [8, 0]])),  # arrays after a slice and an integer
])
def test_scatter_add_equals_np_add_at_bit_for_bit(dtype, index):
    rng = np.random.default_rng(0)
    idx = index(rng)
    want = np.zeros((2, 3, 9, 7), dtype)
    values = rng.standard_normal(want[idx].shape).astype(dtype)
    np.add.at(want, idx, values)
    got = np.zeros_like(want)
    scatter_add(got, idx, values)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="out"):
        scatter_add(np.zeros((7, 9, 3, 2), dtype).T, idx, values)


# --- the reference loops (minigrad/kernels/reference.py) against every fast path -----------------

# (x shape, filters, kernel, stride, padding, dilation, groups): strides 1 and 2, padding 0-2, kernels
# 1-7, batch 1-3; rows take Winograd (>= 32 channels), the depthwise kernels and groups, and the last two
# im2col through the stride phases (7x7 stride 2; 5x5 stride 2 dilated 3)
REFERENCE_CONV_SHAPES = [((1, 2, 6, 7), 3, 1, 1, 0, 1, 1), ((2, 3, 7, 7), 4, 3, 1, 1, 1, 1),
                         ((3, 2, 9, 8), 2, 3, 2, 2, 1, 1), ((2, 1, 8, 8), 3, 5, 1, 2, 1, 1),
                         ((1, 3, 11, 10), 2, 5, 2, 0, 1, 1), ((2, 2, 9, 9), 4, 3, 1, 2, 2, 1),
                         ((1, 4, 7, 6), 4, 2, 2, 1, 1, 2), ((2, 3, 8, 8), 3, 3, 2, 1, 1, 3),
                         ((1, 32, 6, 6), 32, 3, 1, 1, 1, 1), ((2, 3, 14, 14), 12, 3, 1, 1, 1, 1),
                         ((2, 4, 13, 12), 20, 7, 2, 3, 1, 1), ((2, 3, 19, 17), 20, 5, 2, 2, 3, 1)]
FAST_PATHS = [dict(), dict(path="im2col"), dict(per_sample=True), dict(per_sample=False, small_weight_gradient=True),
              dict(small_weight_gradient=False, column_entries=1), dict(winograd=True), dict(depthwise=False),
              dict(few_filters=True), dict(few_filters=False)]


def _conv_results(x, w, b, s, p, d, groups, seed):
    ts = [mg.Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = mg.conv2d(*ts, stride=s, padding=p, dilation=d, groups=groups)
    return [y.data] + list(mg.grad(y, ts, seed=seed))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape, O, k, s, p, d, groups", REFERENCE_CONV_SHAPES)
def test_every_fast_convolution_path_equals_the_reference_loops(shape, O, k, s, p, d, groups, dtype, tol):
    """Forward, input, weight and bias gradients of each fast path against the readable loops,
    relative to the largest entry of each result."""
    rng = np.random.default_rng(sum(shape) + O + k)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((O, shape[1] // groups, k, k)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    with mg.kernels("reference"):
        y = mg.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=groups)
    seed = rng.standard_normal(y.shape).astype(dtype)
    with mg.kernels("reference"):
        reference = _conv_results(x, w, b, s, p, d, groups, seed)
    for forced in FAST_PATHS:
        with mg.kernels(**forced):
            for got, ref in zip(_conv_results(x, w, b, s, p, d, groups, seed), reference):
                assert got.dtype == ref.dtype == dtype
                assert np.max(np.abs(got - ref)) <= tol * np.max(np.abs(ref)), forced


@pytest.mark.parametrize("shape, O, k, s, p, d, groups", REFERENCE_CONV_SHAPES)
def test_an_empty_batch_gives_an_empty_output_and_zero_parameter_gradients(shape, O, k, s, p, d, groups):
    """As PyTorch: (0, O, Ho, Wo), dx of shape (0, C, H, W), zero dW and db, on every path (the
    fast paths raised bare NumPy errors on it, and this stop's chunk rule divided by zero)."""
    x = np.zeros((0,) + shape[1:])
    w = np.ones((O, shape[1] // groups, k, k))
    b = np.ones(O)
    with mg.kernels("reference"):
        expected_shape = mg.conv2d(np.ones((1,) + shape[1:]), w, b, s, p, d, groups).shape[1:]
    for forced in [dict(path="reference")] + FAST_PATHS:
        with mg.kernels(**forced):
            ts = [mg.Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = mg.conv2d(*ts, stride=s, padding=p, dilation=d, groups=groups)
            assert y.shape == (0,) + expected_shape, forced
            gx, gw, gb = mg.grad(y.sum(), ts)
            assert gx.shape == x.shape and not gw.any() and not gb.any() and gw.shape == w.shape, forced


def test_the_few_filter_loops_take_up_to_16_filters_only_on_long_rows():
    """The per-shape rule (few_filters.applies): 8 float32 or 4 float64 filters always; up to 16 of
    either when a wide row block (Ho x Wq) holds >= 128 outputs; never a 1x1 stride-2 kernel."""
    from minigrad.kernels import few_filters
    applies = few_filters.applies
    for dtype in (np.float32, np.float64):
        assert applies((12, 3, 3, 3), (1, 1), (1, 1), dtype, (14, 14), 16)  # 14 x 16 = 224 outputs
        assert applies((16, 27, 7, 7), (2, 2), (1, 1), dtype, (29, 29), 64)  # 29 x 32
        assert not applies((17, 27, 7, 7), (2, 2), (1, 1), dtype, (29, 29), 64)
        assert not applies((12, 256, 3, 3), (1, 1), (1, 1), dtype, (7, 7), 9)  # 7 x 9 = 63 outputs
        assert not applies((2, 120, 1, 1), (2, 2), (1, 1), dtype, (20, 20), 39)  # reads one phase in four
    assert applies((8, 256, 3, 3), (1, 1), (1, 1), np.float32, (7, 7), 9)
    assert not applies((8, 256, 3, 3), (1, 1), (1, 1), np.float64, (7, 7), 9)
    assert applies((4, 256, 3, 3), (1, 1), (1, 1), np.float64, (7, 7), 9)
    # the reference-shape row with 12 filters takes the loops by default, so the check above runs them
    assert applies((12, 3, 3, 3), (1, 1), (1, 1), np.float64, (14, 14), 16)


def test_im2col_goes_through_the_stride_phases_where_each_value_fills_many_columns():
    """The per-shape rule (im2col._through_phases): strided, every phase read, kh kw >= 2.5 sh sw."""
    from minigrad.kernels.im2col import _through_phases
    assert _through_phases((7, 7), (2, 2), (1, 1)) and _through_phases((5, 5), (2, 2), (1, 1))
    assert _through_phases((4, 4), (2, 2), (1, 1)) and _through_phases((5, 5), (3, 3), (1, 1))  # 4 and 2.8
    assert _through_phases((5, 5), (2, 2), (3, 3))  # dilated taps 0, 3, 6, ... still read both phases
    assert not _through_phases((3, 3), (2, 2), (1, 1))  # 2.25 columns a value
    assert not _through_phases((2, 2), (2, 2), (1, 1)) and not _through_phases((3, 3), (3, 3), (1, 1))
    assert not _through_phases((5, 5), (2, 2), (2, 2))  # dilation 2, stride 2: one phase per axis
    assert not _through_phases((7, 7), (1, 1), (1, 1)) and not _through_phases((1, 1), (2, 2), (1, 1))



def test_the_batch_is_chunked_by_entries_but_never_below_the_columns_a_gemm_splits_over_threads():
    """conv._chunks: by the rule, at most 2^19 column entries a chunk unless that leaves fewer than
    512 columns (a 90 -> 170-channel 5x5 layer on 8x8 maps, 2251 rows of columns: 3 samples were
    192 columns, a product on one thread); a forced ``column_entries`` is taken as it is."""
    from minigrad.kernels.conv import _chunks
    sizes = lambda chunks: [c.stop - c.start for c in chunks]  # noqa: E731
    assert sizes(_chunks(16, 2251 * 64, 64)) == [8, 8]  # 512 columns each, 1.15M entries
    assert sizes(_chunks(16, 577 * 256, 256)) == [2, 3, 3, 2, 3, 3]  # 2^19 entries hold 3 samples
    assert sizes(_chunks(4, 2251 * 64, 64)) == [4]
    assert sizes(_chunks(4, 9 * 40000, 40000)) == [1, 1, 1, 1]  # one sample is already 40,000 columns
    with mg.kernels(column_entries=1):
        assert sizes(_chunks(16, 2251 * 64, 64)) == [1] * 16
    with mg.kernels(column_entries=0):
        assert sizes(_chunks(16, 2251 * 64, 64)) == [16]
    with mg.kernels(column_entries=None):
        assert sizes(_chunks(16, 2251 * 64, 64)) == [8, 8]


# (x shape, kernel, stride, padding, dilation): 2x2 stride 2 takes the fast 2x2 kernel
REFERENCE_POOL_SHAPES = [((2, 3, 8, 8), 2, 2, 0, 1), ((1, 2, 7, 9), 3, 2, 1, 1), ((3, 1, 6, 6), 3, 1, 1, 1),
                         ((1, 2, 9, 8), 5, 2, 2, 1), ((2, 2, 9, 9), 3, 2, 1, 2), ((1, 1, 5, 5), 1, 1, 0, 1),
                         ((1, 2, 23, 22), 3, 2, 1, 1), ((2, 1, 16, 19), 3, 1, 1, 2)]  # rows inside and out


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape, k, s, p, d", REFERENCE_POOL_SHAPES)
def test_every_fast_pooling_path_equals_the_reference_loops(shape, k, s, p, d, dtype, tol):
    rng = np.random.default_rng(sum(shape) + k)
    x = rng.integers(-3, 4, shape).astype(dtype)  # ties: the first maximum must win on every path

    def run():
        t = mg.Tensor(x, requires_grad=True)
        pooled = [mg.max_pool2d(t, k, s, p, dilation=d)] + ([mg.avg_pool2d(t, k, s, p)] if d == 1 else [])
        seeds = [np.linspace(-1, 1, q.size).reshape(q.shape).astype(dtype) for q in pooled]
        return [q.data for q in pooled] + [mg.grad(q, [t], seed=e)[0] for q, e in zip(pooled, seeds)]

    with mg.kernels("reference"):
        reference = run()
    for fast_2x2 in (True, False):
        with mg.kernels(fast_2x2=fast_2x2):
            for got, ref in zip(run(), reference):
                assert got.dtype == dtype
                assert np.max(np.abs(got - ref)) <= tol * max(np.max(np.abs(ref)), 1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, k, s, p, d", REFERENCE_POOL_SHAPES)
def test_max_pool_with_nans_and_ties_equals_the_reference_loops_bit_for_bit(shape, k, s, p, d, dtype):
    # the general kernel takes the taps of a row's inside windows in another loop order, with selects:
    # the same values and the same argmax (first maximum, last NaN) as window by window
    rng = np.random.default_rng(sum(shape) + 7 * k)
    x = rng.integers(-2, 3, shape).astype(dtype)
    x.flat[rng.choice(x.size, max(1, x.size // 20), replace=False)] = np.nan

    def run():
        t = mg.Tensor(x, requires_grad=True)
        y = mg.max_pool2d(t, k, s, p, dilation=d)
        return y.data, mg.grad(y, [t], seed=np.arange(1.0, y.size + 1).reshape(y.shape).astype(dtype))[0]

    with mg.kernels("reference"):
        reference = run()
    with mg.kernels(fast_2x2=False):
        for got, ref in zip(run(), reference):
            np.testing.assert_array_equal(got, ref)


def test_the_reference_block_runs_other_code_and_only_inside_it(monkeypatch):
    from minigrad.kernels import reference

    calls = []
    for name in ("conv2d_forward", "conv2d_input_grad", "max_pool_forward", "avg_pool_backward"):
        original = getattr(reference, name)
        monkeypatch.setattr(reference, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    x = mg.Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    w = np.ones((1, 1, 3, 3))
    mg.grad(mg.avg_pool2d(mg.max_pool2d(mg.conv2d(x, w, padding=1), 2), 1), [x])
    assert calls == []
    with mg.kernels("reference"):
        mg.grad(mg.avg_pool2d(mg.max_pool2d(mg.conv2d(x, w, padding=1), 2), 1), [x])
    assert sorted(set(calls)) == ["avg_pool_backward", "conv2d_forward", "conv2d_input_grad", "max_pool_forward"]


def test_the_kernel_choice_is_scoped_per_thread_and_per_block():
    import threading

    from minigrad.kernels.choice import current

    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def other_thread():
        with mg.kernels("reference", winograd=False):
            seen["other, inside"] = current()
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other_thread)
    t.start()
    inside.wait(10)
    seen["main, meanwhile"] = current()  # the other thread's block is not ours
    release.set()
    t.join()
    assert seen["other, inside"].reference and seen["other, inside"].winograd is False
    assert not seen["main, meanwhile"].reference and seen["main, meanwhile"].winograd is None
    with mg.kernels("reference"):
        with mg.kernels(per_sample=True):  # nested: keeps the outer choice, adds its own
            assert current().reference and current().per_sample
        with mg.kernels("fast"):
            assert not current().reference
        assert current().reference and current().per_sample is None
    assert not current().reference
    with mg.kernels("im2col", per_sample=True):  # the named path, one choice overridden
        assert (current().winograd, current().small_weight_gradient, current().per_sample) == (False, False, True)


@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.kernels("slow"), ValueError, r"path: expected one of 'fast', 'reference', 'im2col', got 'slow'"),
    (lambda: mg.kernels(winogard=True), ValueError, r"winogard: not a kernel choice"),
    (lambda: mg.kernels(per_sample=1), TypeError, r"per_sample: expected True, False or None, got 1"),
    (lambda: mg.kernels(fast_2x2=None), TypeError, r"fast_2x2: expected True, False, got None"),
    (lambda: mg.kernels(column_entries=-1), ValueError, r"column_entries: expected an int >= 0"),
])
def test_a_bad_kernel_choice_is_refused_naming_it(call, error, match):
    with pytest.raises(error, match=match):
        with call():
            pass


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((64, 576), (576, 4096)),  # column parts
    ((2048, 300), (300, 64)),  # row parts
    ((6, 64, 577), (577, 300)),  # samples of a batch
    ((64, 577), (6, 577, 300)),
    ((1, 64, 200), (5, 200, 300)),  # a broadcast batch axis stays whole
    ((3, 5), (5, 7)),  # too small to split
    ((0, 3, 4), (4, 5)), ((2, 3, 0), (2, 0, 5)), ((3, 0), (0, 0)),  # empty: an empty batch, K = 0, N = 0
    ((4,), (4, 3)),  # a vector: NumPy's own loop
    ((2, 2, 64, 100), (100, 300)),  # 4-D: NumPy's own loop
])
def test_gemm_equals_numpy_matmul(dtype, a_shape, b_shape):
    from minigrad.kernels import gemm
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    got = gemm.matmul(a, b)
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=(1e-4 if dtype == np.float32 else 1e-11) * np.abs(expected).max(initial=1.0))
    if got.ndim == 2:  # into a strided view, from transposed operands
        out = np.full((got.shape[0], 2 * got.shape[1]), np.nan, dtype)
        gemm.matmul(np.asfortranarray(a), np.asfortranarray(b), out=out[:, ::2])
        np.testing.assert_array_equal(out[:, 1::2], np.nan)
        np.testing.assert_allclose(out[:, ::2], got, rtol=1e-5 if dtype == np.float32 else 1e-12)
    elif got.ndim == 3:  # into a batch whose matrices are not row-major (rows built once per part)
        out = np.full((got.shape[1], got.shape[0], got.shape[2]), np.nan, dtype).transpose(1, 0, 2)
        gemm.matmul(a, b, out=out)
        np.testing.assert_array_equal(out, got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_reads_operands_cblas_cannot_take_through_a_copy(dtype):
    """Every-other-column and reversed operands (no leading dimension cblas accepts) give the same
    product as contiguous copies of them, on the one-call path and on the parts' path."""
    from minigrad.kernels import gemm
    rng = np.random.default_rng(0)
    for M, K, N in ((20, 30, 12), (200, 300, 400)):  # one cblas call; several parts
        a = rng.standard_normal((M, 2 * K)).astype(dtype)[:, ::2]
        b = rng.standard_normal((K, N)).astype(dtype)[::-1]
        np.testing.assert_array_equal(gemm.matmul(a, b), gemm.matmul(a.copy(), b.copy()))


def test_gemm_hands_a_workers_error_to_the_caller_and_keeps_working():
    from minigrad.kernels import gemm
    a, b = np.ones((64, 512)), np.ones((512, 4096))
    with pytest.raises(ValueError):
        gemm.matmul(a, b, out=np.empty((64, 4095)))
    np.testing.assert_array_equal(gemm.matmul(a, b), 512.0)


# --- channel_affine: batch normalisation with running statistics ------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 7), (2, 3, 9, 8), (1, 64, 40, 40)])  # the last runs parallel
def test_channel_affine_is_numpys_expression_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    scale, shift = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    want = x * scale.reshape(per_channel) + shift.reshape(per_channel)
    got = channel_affine(x, scale, shift)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(channel_affine(x, scale), x * scale.reshape(per_channel))
    strided = np.swapaxes(np.swapaxes(x, 0, -1).copy(), 0, -1)  # the same values, not C-contiguous
    np.testing.assert_array_equal(channel_affine(strided, scale, shift), want)
    mixed = channel_affine(x, scale.astype(np.float64), shift.astype(np.float64))  # NumPy's promotion, x's dtype
    np.testing.assert_array_equal(mixed, (x * scale.astype(np.float64).reshape(per_channel)
                                          + shift.astype(np.float64).reshape(per_channel)).astype(dtype))


_CLAMP_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from minigrad.kernels.relu import _clamp
x = np.linspace(-1, 1, int(sys.argv[1]))
out = np.empty_like(x)
_clamp(x, np.inf, out)
assert np.array_equal(out, np.maximum(x, 0))
dispatcher = _clamp.serial if len(x) < 65536 else _clamp.compiled
print(sum(dispatcher.stats.cache_hits.values()), sum(dispatcher.stats.cache_misses.values()))
"""


def test_small_and_large_calls_run_two_compilations_that_numba_caches_apart(tmp_path):
    """A call on fewer than SERIAL_BELOW elements runs the kernel compiled without ``parallel``, a
    larger one the parallel compilation. Numba's cache keys code by name, line and bytecode, not by
    ``parallel``: in a fresh cache, the serial compilation saved by one process must not be what the
    next process loads for its first large call (a cache hit there would be the serial code)."""
    import os
    import subprocess
    import sys

    from minigrad.kernels.parallel_launch import SERIAL_BELOW

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def hits_and_misses(n):
        run = subprocess.run([sys.executable, "-c", _CLAMP_IN_A_FRESH_PROCESS, str(n)], env=env, capture_output=True,
                             text=True, check=True)
        return tuple(map(int, run.stdout.split()))

    assert SERIAL_BELOW == 65536
    assert hits_and_misses(1000) == (0, 1)  # compiled and saved: the serial code
    assert hits_and_misses(100_000) == (0, 1)  # the parallel code is not found in the cache: compiled
    assert hits_and_misses(100_000) == (1, 0) and hits_and_misses(1000) == (1, 0)  # each finds its own
