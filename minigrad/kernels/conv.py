"""How a convolution is computed: im2col + GEMM, with the GEMM layout chosen per shape.

The reference path (``im2col.py``): unfold x into columns (C*kh*kw, N*Ho*Wo), then one GEMM
W (O, C*kh*kw) @ cols. The choices made here, each measured faster on this project's machines
and tested against that path (tests/test_ops_gradcheck.py, tests/test_reference_torch.py):

- **The bias trick**: with a bias the columns get a row of ones and W gets b as one more
  column, so no separate pass adds b (or, backward, sums g): ~2% of a VGG-like step.
- **One GEMM per sample**: the columns' index runs over (n, oh, ow) while activations are NCHW.
  Viewed as (N, K, Ho*Wo), the columns let one GEMM per sample read and write NCHW directly
  (BLAS takes the strided view), 1.2-3x faster than one large GEMM and a transposing copy, once
  each sample's product has >= 2^20 multiply-adds to pay for its call (all VGG-like layers);
  smaller ones (LeNet's) keep the one large GEMM.
- **Input gradient by flipped correlation**: with stride 1 and no more output than input
  channels, dL/dx = g correlated with the flipped kernel (padding k - 1 - p): a gather of
  O*kh*kw rows instead of col2im's scatter-add of C*kh*kw rows, 15-30% faster.
- Temporaries that never leave a function live in the per-thread ``scratch`` buffer.
"""
import numpy as np

from minigrad.kernels.im2col import col2im, im2col
from minigrad.kernels.scratch import scratch


def forward(x, w, b, stride, padding, size, keep_columns):
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> (out (N, O, Ho, Wo), columns or None).

    The columns (with their row of ones when there is a bias) are returned for the weight
    gradient when ``keep_columns``; otherwise they are built in scratch space and dropped.
    """
    N = x.shape[0]
    O, _, kh, kw = w.shape
    K = w[0].size
    shape = (K + (b is not None), N * size[0] * size[1])
    cols = np.empty(shape, x.dtype) if keep_columns else scratch(shape, x.dtype)
    im2col(x, (kh, kw), stride, padding, size, out=cols[:K])
    weights = w.reshape(O, K)
    if b is not None:
        cols[K] = 1
        weights = np.concatenate([weights, b[:, None].astype(w.dtype, copy=False)], axis=1)
    return _matmul_to_nchw(weights, cols, N, size), (cols if keep_columns else None)


def parameter_grads(g, cols, w_shape, has_bias, need_weight, need_bias):
    """(dL/dw (O, C, kh, kw) or None, dL/db (O,) or None) from g (N, O, Ho, Wo) and the columns."""
    if not need_weight:
        return None, (g.sum(axis=(0, 2, 3)) if has_bias and need_bias else None)
    both = _matmul_nchw_cols_t(g, cols)  # (O, K), or (O, K + 1) whose last column is sum g
    K = int(np.prod(w_shape[1:]))
    return both[:, :K].reshape(w_shape), (both[:, -1] if has_bias and need_bias else None)


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
    return m * k * size[0] * size[1] >= 1 << 20


def _by_sample(cols, N):
    """cols (K, N*P) -> the (N, K, P) view of the same memory."""
    return cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)


def _rows(g):
    """g (N, O, Ho, Wo) -> (O, N*Ho*Wo), in the column order of im2col (a transposing copy)."""
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(g.shape[1], -1)


def _matmul_to_nchw(a, cols, N, size):
    """a (M, K) @ cols (K, N*Ho*Wo) -> (N, M, Ho, Wo)."""
    if _per_sample(*a.shape, size):
        return np.matmul(a, _by_sample(cols, N)).reshape(N, a.shape[0], *size)
    return np.ascontiguousarray((a @ cols).reshape(a.shape[0], N, *size).transpose(1, 0, 2, 3))


def _matmul_nchw_cols_t(g, cols):
    """sum_n g[n] (O, Ho*Wo) @ cols_n^T (Ho*Wo, K) -> (O, K): the weight gradient."""
    N, O = g.shape[:2]
    if _per_sample(O, cols.shape[0], g.shape[2:]):
        return np.matmul(g.reshape(N, O, -1), _by_sample(cols, N).transpose(0, 2, 1)).sum(axis=0)
    return _rows(g) @ cols.T


def _matmul_nchw_to_cols(a, g, out):
    """a (K, O) @ g (N, O, Ho, Wo) -> out (K, N*Ho*Wo), in the column layout of im2col."""
    N, O = g.shape[:2]
    if _per_sample(*a.shape, g.shape[2:]):
        np.matmul(a, g.reshape(N, O, -1), out=_by_sample(out, N))
    else:
        np.matmul(a, _rows(g), out=out)
    return out
