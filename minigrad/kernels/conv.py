"""How a convolution is computed: im2col + GEMM, with the GEMM layout chosen per shape.

The reference path (``im2col.py``): unfold x into columns (C*kh*kw, N*Ho*Wo), then one GEMM
W (O, C*kh*kw) @ cols. The choices made here, each measured faster on this project's machines
and tested against that path (tests/test_ops_gradcheck.py, tests/test_reference_torch.py):

- **The bias trick**: with a bias the columns get a row of ones and W gets b as one more
  column, so no separate pass adds b (or, backward, sums g): ~2% of a VGG-like step.
- **One GEMM per sample**: the columns' index runs over (n, oh, ow) while activations are NCHW.
  Viewed as (N, K, Ho*Wo), the columns let one GEMM per sample read and write NCHW directly
  (BLAS takes the strided view) instead of one large GEMM and a transposing copy. That pays only
  when each sample's product is large in every dimension: maps of >= 1024 positions and >= 2^20
  multiply-adds per sample (VGG-like layers at 64x64 and 32x32). On smaller maps (a 32x32
  image's second and third stages, 16x16 and 8x8) the per-sample GEMMs are too small for BLAS,
  and one large GEMM plus the copy measured 1.6-3x faster (GAPNet's training step at batch 128
  ~30% faster). ``PER_SAMPLE`` forces either layout (the tests run both).
- **Input gradient by flipped correlation**: with stride 1 and no more output than input
  channels, dL/dx = g correlated with the flipped kernel (padding k - 1 - p): a gather of
  O*kh*kw rows instead of col2im's scatter-add of C*kh*kw rows, 15-30% faster.
- **Small weight gradients** (M * K <= 512: few filters, a small kernel, e.g. a first layer)
  are one compiled pass over g and the columns (``weight_gradient.py``), 1.2-2.9x faster than
  BLAS, which splits the tiny output instead of the long sum. ``SMALL_WEIGHT_GRADIENT`` forces
  either.
- Temporaries that never leave a function live in the per-thread ``scratch`` buffer: columns in
  slot 0, rows (a GEMM's output, or g transposed for one) in slot 1. The weight gradient builds
  the columns again rather than keeping them from the forward pass (GAPNet's training step
  at batch 128: 131 -> 98 MiB peak in float32).
"""
import numpy as np

from minigrad.kernels import weight_gradient
from minigrad.kernels.im2col import col2im, im2col
from minigrad.kernels.scratch import scratch

PER_SAMPLE = None  # None: chosen per shape (_per_sample); True / False force one GEMM layout
SMALL_WEIGHT_GRADIENT = None  # None: per shape (weight_gradient.applies); True / False force it or BLAS


def forward(x, w, b, stride, padding, size):
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> out (N, O, Ho, Wo)."""
    O = w.shape[0]
    cols = _columns(x, w.shape, b is not None, stride, padding, size)
    weights = w.reshape(O, -1)
    if b is not None:
        weights = np.concatenate([weights, b[:, None].astype(w.dtype, copy=False)], axis=1)
    return _matmul_to_nchw(weights, cols, x.shape[0], size)


def parameter_grads(g, x, w_shape, has_bias, need_weight, need_bias, stride, padding, size):
    """(dL/dw (O, C, kh, kw) or None, dL/db (O,) or None) from g (N, O, Ho, Wo) and the input x.

    The columns are built again from x rather than kept from the forward pass: im2col costs
    less than a tenth of the GEMMs, and kept columns were most of a training step's memory."""
    if not need_weight:
        return None, (g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None)
    cols = _columns(x, w_shape, has_bias, stride, padding, size)
    both = _matmul_nchw_cols_t(g, cols)  # (O, K), or (O, K + 1) whose last column is sum g
    K = int(np.prod(w_shape[1:]))
    return both[:, :K].reshape(w_shape), (both[:, -1] if has_bias and need_bias else None)


def _columns(x, w_shape, has_bias, stride, padding, size):
    """im2col of x in scratch slot 0, with a row of ones below when there is a bias (then W gets
    b as one more column): (C*kh*kw (+ 1), N*Ho*Wo)."""
    _, C, kh, kw = w_shape
    K = C * kh * kw
    cols = scratch((K + has_bias, x.shape[0] * size[0] * size[1]), x.dtype)
    im2col(x, (kh, kw), stride, padding, size, out=cols[:K])
    if has_bias:
        cols[K] = 1
    return cols


def input_grad(g, x_shape, w, stride, padding, size):
    """dL/dx (N, C, H, W) from g (N, O, Ho, Wo): col2im of W^T g, or the flipped correlation."""
    O, C, kh, kw = w.shape
    ph, pw = padding
    if flipped_correlation_applies(w.shape, stride, padding):
        N, _, H, W = x_shape
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(C, -1)
        cols = im2col(g, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw), (H, W),
                      out=scratch((O * kh * kw, N * H * W), g.dtype))
        return _matmul_to_nchw(flipped, cols, N, (H, W))
    N, _, Ho, Wo = g.shape
    cols = _matmul_nchw_to_cols(w.reshape(O, -1).T, g, scratch((C * kh * kw, N * Ho * Wo), g.dtype))
    return col2im(cols, x_shape, (kh, kw), stride, padding, size)


def flipped_correlation_applies(w_shape, stride, padding):
    """Whether ``input_grad`` takes the flipped-kernel correlation (stride 1, O <= C, p < k)."""
    O, C, kh, kw = w_shape
    return tuple(stride) == (1, 1) and O <= C and padding[0] < kh and padding[1] < kw


def _per_sample(m, k, size):
    if PER_SAMPLE is not None:
        return PER_SAMPLE
    return size[0] * size[1] >= 1024 and m * k * size[0] * size[1] >= 1 << 20


def _by_sample(cols, N):
    """cols (K, N*P) -> the (N, K, P) view of the same memory."""
    return cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)


def _rows(g, slot):
    """g (N, O, Ho, Wo) -> (O, N*Ho*Wo) in scratch, in the column order of im2col."""
    N, O = g.shape[:2]
    out = scratch((O, N) + g.shape[2:], g.dtype, slot)
    np.copyto(out, g.transpose(1, 0, 2, 3))
    return out.reshape(O, -1)


def _matmul_to_nchw(a, cols, N, size):
    """a (M, K) @ cols (K, N*Ho*Wo) -> (N, M, Ho, Wo)."""
    M = a.shape[0]
    if _per_sample(M, a.shape[1], size):
        return np.matmul(a, _by_sample(cols, N)).reshape(N, M, *size)
    rows = np.matmul(a, cols, out=scratch((M, cols.shape[1]), cols.dtype, slot=1))
    out = np.empty((N, M) + tuple(size), cols.dtype)  # a copy always: rows is scratch space
    np.copyto(out, rows.reshape(M, N, *size).transpose(1, 0, 2, 3))
    return out


def _matmul_nchw_cols_t(g, cols):
    """sum_n g[n] (O, Ho*Wo) @ cols_n^T (Ho*Wo, K) -> (O, K): the weight gradient."""
    N, O = g.shape[:2]
    small = weight_gradient.applies(O, cols.shape[0]) if SMALL_WEIGHT_GRADIENT is None else SMALL_WEIGHT_GRADIENT
    if small:
        return weight_gradient.weight_gradient(g.reshape(N, O, -1), cols)
    if _per_sample(O, cols.shape[0], g.shape[2:]):
        return np.matmul(g.reshape(N, O, -1), _by_sample(cols, N).transpose(0, 2, 1)).sum(axis=0)
    return _rows(g, slot=1) @ cols.T


def _matmul_nchw_to_cols(a, g, out):
    """a (K, O) @ g (N, O, Ho, Wo) -> out (K, N*Ho*Wo), in the column layout of im2col."""
    N, O = g.shape[:2]
    if _per_sample(*a.shape, g.shape[2:]):
        np.matmul(a, g.reshape(N, O, -1), out=_by_sample(out, N))
    else:
        np.matmul(a, _rows(g, slot=1), out=out)
    return out
