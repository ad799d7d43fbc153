"""How a convolution is computed: im2col + GEMM, with the GEMM layout chosen per shape.

The plainest fast path (``im2col.py``): unfold x into columns (C*kh*kw, N*Ho*Wo), then one GEMM
W (O, C*kh*kw) @ cols. The per-shape choices, each tested against ``reference.py``'s loops and
forced with ``minigrad.kernels(...)`` (docs/performance.md has the measurements):

- **The bias trick**: with a bias the columns get a row of ones and W gets b as one more
  column, so no separate pass adds b (or, backward, sums g).
- **One GEMM per sample** when each sample's product is large in every dimension (maps of
  >= 1024 positions, >= 2^20 multiply-adds per sample): viewed as (N, K, Ho*Wo), the columns let
  one GEMM per sample write NCHW directly. Smaller products are too small for BLAS one sample at a
  time, so they take one GEMM for the batch and a transposing copy (``per_sample``).
- **Winograd F(4x4, 3x3)** (``winograd.py``) for 3x3 stride-1 convolutions with at least 32
  channels on both sides and enough output tiles over the batch, forward and input gradient: 4x
  fewer multiplies; with fewer channels its transforms cost more than the GEMM saves, and with few
  tiles reading the 4x larger transformed filters does (``winograd``).
- **Few filters** (8 output channels in float32, 4 in float64; 16 where rows are long): direct loops over the padded input
  (``few_filters.py``), forward and input gradient (``few_filters``).
- **Pointwise** convolutions (1x1, stride 1, unpadded) skip im2col: x is already each sample's
  columns, so one GEMM per sample reads and writes NCHW (forward and input gradient).
- The input gradient is col2im of W^T g (the transposed convolution).
- **Small weight gradients** (M * K <= 512: few filters, a small kernel) are one compiled pass
  over g and the columns (``weight_gradient.py``): BLAS splits their tiny output instead of the
  long sum (``small_weight_gradient``).
- **Groups**: a grouped convolution is ``groups`` ordinary ones on slices of the channels
  (``_by_group``), except depthwise ones (one input channel per group), which take direct loops
  (``depthwise.py``) instead of hundreds of one-channel GEMMs (``depthwise``). **Dilation** spaces
  the kernel's taps in im2col and col2im (Winograd takes only undilated kernels).
- **Memory**: temporaries that never leave a function come from ``scratch`` (columns in slot 0;
  rows, a GEMM's output or g transposed for one, in slot 1; a zero-padded input in slot 2). The
  weight gradient builds the columns again instead of keeping them from the forward pass, and
  every pass takes the batch in chunks of at most ``column_entries`` (2^19) column entries, so no
  temporary grows with the batch (but of at least 512 columns, ``_MIN_CHUNK_COLUMNS``, so that a
  chunk's GEMM still runs on every thread).
"""
import numpy as np

from minigrad.kernels import depthwise, few_filters, gemm, weight_gradient, winograd
from minigrad.kernels.choice import current
from minigrad.kernels.im2col import col2im, im2col, zero_pad
from minigrad.kernels.scratch import scratch


def forward(x, w, b, stride, padding, size, dilation=(1, 1), groups=1):
    """x (N, C, H, W), w (O, C / groups, kh, kw), b (O,) or None -> out (N, O, Ho, Wo)."""
    if x.shape[0] == 0:  # an empty batch, as PyTorch: an empty output (and zero parameter gradients)
        return np.zeros((0, w.shape[0]) + tuple(size), x.dtype)
    if groups > 1:
        if _depthwise(x.shape[1], groups):
            return depthwise.forward(x, w, b, stride, padding, dilation, size)
        return _by_group(lambda xg, wg, bg: forward(xg, wg, bg, stride, padding, size, dilation), groups, 1,
                         (x, 1), (w, 0), (b, 0))
    O = w.shape[0]
    out = np.empty((x.shape[0], O) + tuple(size), x.dtype)
    if _winograd(w.shape, stride, padding, dilation, x.shape[0], size, x.dtype):
        return winograd.conv3x3(x, winograd.filter_transform(w), b, padding, size, out, _tiles(w.shape))
    if _pointwise(w.shape, stride, padding):
        gemm.matmul(w.reshape(O, -1), _samples(x), out=_samples(out))
        if b is not None:
            out += b.astype(out.dtype, copy=False).reshape(1, O, 1, 1)
        return out
    if _few_filters(w.shape, stride, dilation, x.dtype, size, x.shape[3] + 2 * padding[1]):
        return few_filters.forward(x, w, b, stride, padding, dilation, size)
    weights = w.reshape(O, -1)
    if b is not None:
        weights = np.concatenate([weights, b[:, None].astype(w.dtype, copy=False)], axis=1)
    xp = zero_pad(x, padding)
    for s in _chunks(x.shape[0], weights.shape[1] * size[0] * size[1], size[0] * size[1]):
        _matmul_to_nchw(weights, _columns(xp[s], w.shape, b is not None, stride, size, dilation), out[s])
    return out


def parameter_grads(g, x, w_shape, has_bias, need_weight, need_bias, stride, padding, size, dilation=(1, 1),
                    groups=1):
    """(dL/dw (O, C / groups, kh, kw) or None, dL/db (O,) or None) from g (N, O, Ho, Wo) and the input x.

    The columns are built again from x rather than kept from the forward pass: im2col costs
    less than a tenth of the GEMMs, and kept columns were most of a training step's memory."""
    if x.shape[0] == 0:
        return (np.zeros(w_shape, g.dtype) if need_weight else None,
                np.zeros(w_shape[0], g.dtype) if has_bias and need_bias else None)
    if not need_weight:
        return None, (g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None)
    if groups > 1:
        gb = g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None
        if _depthwise(x.shape[1], groups):
            return depthwise.weight_grad(g, x, w_shape, stride, padding, dilation), gb
        shape = (w_shape[0] // groups,) + tuple(w_shape[1:])
        gw = _by_group(lambda gg, xg: parameter_grads(gg, xg, shape, False, True, False, stride, padding, size,
                                                      dilation)[0], groups, 0, (g, 1), (x, 1))
        return gw, gb
    if _few_filters_weight_grad(w_shape, size, x.shape[3] + 2 * padding[1], stride, dilation, g.dtype):
        return (few_filters.weight_grad(g, x, w_shape, stride, padding, dilation),
                g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None)
    K = int(np.prod(w_shape[1:]))
    both = None  # (O, K), or (O, K + 1) whose last column is sum g
    xp = zero_pad(x, padding)
    for s in _chunks(g.shape[0], (K + has_bias) * size[0] * size[1], size[0] * size[1]):
        part = _matmul_nchw_cols_t(g[s], _columns(xp[s], w_shape, has_bias, stride, size, dilation))
        both = part if both is None else both + part
    return both[:, :K].reshape(w_shape), (both[:, -1] if has_bias and need_bias else None)


def input_grad(g, x_shape, w, stride, padding, size, dilation=(1, 1), groups=1):
    """dL/dx (N, C, H, W) from g (N, O, Ho, Wo): col2im of W^T g (the transposed convolution)."""
    if g.shape[0] == 0:
        return np.zeros(x_shape, g.dtype)
    if groups > 1:
        if _depthwise(x_shape[1], groups):
            return depthwise.input_grad(g, x_shape, w, stride, padding, dilation)
        shape = (x_shape[0], x_shape[1] // groups) + tuple(x_shape[2:])
        return _by_group(lambda gg, wg: input_grad(gg, shape, wg, stride, padding, size, dilation), groups, 1,
                         (g, 1), (w, 0))
    O, C, kh, kw = w.shape
    dx = np.empty(x_shape, g.dtype)
    if _pointwise(w.shape, stride, padding):
        return gemm.matmul(w.reshape(O, C).T, _samples(g), out=_samples(dx)).reshape(x_shape)
    if _few_filters(w.shape, stride, dilation, g.dtype, size, x_shape[3] + 2 * padding[1]):
        return few_filters.input_grad(g, x_shape, w, stride, padding, dilation)
    flipped = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # dx is g convolved with these, padding k - 1 - p
    dual = (kh - 1 - padding[0], kw - 1 - padding[1])
    if _winograd(flipped.shape, stride, dual, dilation, x_shape[0], x_shape[2:], g.dtype):
        return winograd.conv3x3(g, winograd.filter_transform(flipped), None, dual, x_shape[2:], dx, _tiles(w.shape))
    for s in _chunks(x_shape[0], C * kh * kw * size[0] * size[1], size[0] * size[1]):
        g_s = g[s]
        cols = _matmul_nchw_to_cols(w.reshape(O, -1).T, g_s,
                                    scratch((C * kh * kw, g_s.shape[0] * size[0] * size[1]), g.dtype))
        col2im(cols, dx[s].shape, (kh, kw), stride, padding, size, out=dx[s], dilation=dilation)
    return dx


def _depthwise(channels, groups):
    """Whether a grouped convolution takes the direct depthwise kernels: one input channel per group."""
    return groups == channels and current().depthwise is not False


def _by_group(run, groups, join_axis, *arrays):
    """A grouped convolution as ``groups`` ordinary ones: ``run(*slices)`` with the g-th of
    ``groups`` equal slices of each (array, axis) pair (None stays None), the results joined along
    ``join_axis`` (1 for the output's or dx's channels, 0 for the filters of dw)."""
    def part(t, axis, g):
        if t is None:
            return None
        n = t.shape[axis] // groups
        return np.ascontiguousarray(t[(slice(None),) * axis + (slice(g * n, (g + 1) * n),)])
    return np.concatenate([run(*(part(t, axis, g) for t, axis in arrays)) for g in range(groups)], axis=join_axis)


# A chunk's product has at least this many columns: enough for gemm.matmul to cut it into its
# largest number of parts (_MAX_PARTS blocks of _MIN_SIDE columns), so that every thread takes one.
# With fewer (a 90 -> 170-channel 5x5 layer on 8x8 maps: 2^19 entries were 3 samples, 192 columns)
# the product of 170 rows ran on one thread: forward 0.58-0.61x the time with this floor.
_MIN_CHUNK_COLUMNS = gemm._MIN_SIDE * gemm._MAX_PARTS
_CHUNK_ENTRIES = 1 << 19  # columns of a chunk, in entries, unless that leaves too few columns


def _chunks(N, entries_per_sample, columns_per_sample):
    """Slices of the batch whose columns have at most ``column_entries`` entries (one sample, and
    ``_MIN_CHUNK_COLUMNS`` columns, at least), as equal as they can be: a batch of 4 cut 2 + 2, not
    3 + 1 (whose one-sample product runs BLAS on a narrow matrix: 0.93-0.98x the time of forward +
    weight gradient, 2 such layers)."""
    entries = current().column_entries
    if entries is None:  # the rule
        step = max(1, _CHUNK_ENTRIES // entries_per_sample, -(-_MIN_CHUNK_COLUMNS // columns_per_sample))
    else:  # forced, as the tests do to run the batch a sample at a time (1) or whole (0)
        step = max(1, entries // entries_per_sample) if entries else N
    count = -(-N // step)
    return [slice(N * i // count, N * (i + 1) // count) for i in range(count)]


def _columns(xp, w_shape, has_bias, stride, size, dilation):
    """im2col of the padded input xp in scratch slot 0, with a row of ones below when there is a
    bias (then W gets b as one more column): (C*kh*kw (+ 1), N*Ho*Wo)."""
    _, C, kh, kw = w_shape
    K = C * kh * kw
    cols = scratch((K + has_bias, xp.shape[0] * size[0] * size[1]), xp.dtype)
    im2col(xp, (kh, kw), stride, (0, 0), size, out=cols[:K], dilation=dilation)
    if has_bias:
        cols[K] = 1
    return cols


def _winograd(w_shape, stride, padding, dilation=(1, 1), batch=None, size=None, dtype=np.float32):
    """Whether a convolution (or, with the flipped filters, an input gradient) takes the Winograd
    path: 3x3, stride 1, no dilation, padding 0-2, and (chosen per shape) at least 32 channels on
    each side and enough 4x4 output tiles over the batch (``batch`` samples of ``size`` outputs).

    Why the tiles: Winograd saves multiplies per tile, but transforms the filters into 36 / 9 =
    4x their size on every call and reads them in 36 products of ``tiles`` rows. With few tiles
    (ResNet-18's 7x7 and 14x14 stages at batch 1) those products are bound by reading the
    transformed filters, and im2col's one product over the plain filters wins: measured 4.3x
    faster at 512 channels and 4 tiles. The break-even was 25-36 tiles in float32 and 16-20 in
    float64, whose multiplies cost twice as much (docs/performance.md), hence
    ``tiles * itemsize >= 128``."""
    if (tuple(w_shape[2:]) != (3, 3) or tuple(stride) != (1, 1) or tuple(dilation) != (1, 1)
            or not 0 <= min(padding) <= max(padding) <= 2):
        return False
    forced = current().winograd
    if forced is not None:
        return forced
    if min(w_shape[:2]) < 32:
        return False
    if batch is None:
        return True
    tiles = batch * -(-size[0] // 4) * -(-size[1] // 4)
    return tiles * np.dtype(dtype).itemsize >= 128


def _pointwise(w_shape, stride, padding):
    """Whether a convolution is pointwise (1x1, stride 1, unpadded: MobileNet's expansions and
    projections, ResNet-50's bottlenecks): then x (N, C, H, W) is already every sample's columns
    (C, H*W), and one GEMM per sample reads and writes NCHW with no im2col copy, no transposing
    copy (forward) and no col2im (input gradient). Forced off by ``per_sample=False`` (the tests'
    one-GEMM path, on which im2col of a 1x1 kernel is a plain copy)."""
    return (tuple(w_shape[2:]) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)
            and current().per_sample is not False)


def _few_filters_weight_grad(w_shape, size, padded_width, stride, dilation, dtype):
    """Whether a weight gradient takes the few-filters loops (``few_filters.weight_grad_applies``)."""
    forced = current().few_filters
    return (few_filters.weight_grad_applies(w_shape, size, padded_width, stride, dilation, dtype) if forced is None
            else forced)


def _few_filters(w_shape, stride, dilation, dtype, size, padded_width):
    """Whether a convolution's forward pass and input gradient take the direct loops for few
    filters (``few_filters.py``): im2col's kh*kw-fold copy costs more than the tiny GEMM it feeds."""
    forced = current().few_filters
    return few_filters.applies(w_shape, stride, dilation, dtype, size, padded_width) if forced is None else forced


def _samples(a):
    """a (N, C, H, W) -> the (N, C, H*W) view (a contiguous copy if a is strided)."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def _tiles(w_shape):
    """Tiles per Winograd chunk: its transformed input and output (36 entries per tile and channel)
    hold at most 4 ``column_entries`` each."""
    entries = current().column_entries
    entries = _CHUNK_ENTRIES if entries is None else entries
    return max(1, 4 * entries // (36 * max(w_shape[:2]))) if entries else 1 << 62


def _per_sample(m, k, size):
    forced = current().per_sample
    return size[0] * size[1] >= 1024 and m * k * size[0] * size[1] >= 1 << 20 if forced is None else forced


def _by_sample(cols, N):
    """cols (K, N*P) -> the (N, K, P) view of the same memory."""
    return cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)


def _rows(g):
    """g (N, O, Ho, Wo) -> (O, N*Ho*Wo) in scratch slot 1, in the column order of im2col."""
    N, O = g.shape[:2]
    out = scratch((O, N) + g.shape[2:], g.dtype, slot=1)
    np.copyto(out, g.transpose(1, 0, 2, 3))
    return out.reshape(O, -1)


def _matmul_to_nchw(a, cols, out):
    """a (M, K) @ cols (K, N*Ho*Wo) -> out (N, M, Ho, Wo)."""
    N, M = out.shape[:2]
    if _per_sample(M, a.shape[1], out.shape[2:]):
        gemm.matmul(a, _by_sample(cols, N), out=out.reshape(N, M, -1))
    else:
        rows = gemm.matmul(a, cols, out=scratch((M, cols.shape[1]), cols.dtype, slot=1))
        np.copyto(out, rows.reshape(M, N, *out.shape[2:]).transpose(1, 0, 2, 3))


def _matmul_nchw_cols_t(g, cols):
    """sum_n g[n] (O, Ho*Wo) @ cols_n^T (Ho*Wo, K) -> (O, K): the weight gradient."""
    N, O = g.shape[:2]
    forced = current().small_weight_gradient
    small = weight_gradient.applies(O, cols.shape[0]) if forced is None else forced
    if small:
        return weight_gradient.weight_gradient(g.reshape(N, O, -1), cols)
    if _per_sample(O, cols.shape[0], g.shape[2:]):
        return gemm.matmul(g.reshape(N, O, -1), _by_sample(cols, N).transpose(0, 2, 1)).sum(axis=0)
    return gemm.matmul(_rows(g), cols.T)


def _matmul_nchw_to_cols(a, g, out):
    """a (K, O) @ g (N, O, Ho, Wo) -> out (K, N*Ho*Wo), in the column layout of im2col."""
    N, O = g.shape[:2]
    if _per_sample(*a.shape, g.shape[2:]):
        gemm.matmul(a, g.reshape(N, O, -1), out=_by_sample(out, N))
    else:
        gemm.matmul(a, _rows(g), out=out)
    return out
