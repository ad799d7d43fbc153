"""FFT-accelerated interpolation of t-SNE's repulsive forces (FIt-SNE: Linderman et al. 2019).

The repulsion and the normalisation need, for every point i, sums over all points j of a kernel
of |y_i - y_j|^2 (see ``kl.py`` for the kernel with alpha degrees of freedom):

    row_z_i   = sum_{j != i} w_ij,                         w_ij = b_ij^e,  e = (alpha + 1) / 2 or alpha
    repulse_i = sum_j w_ij b_ij (y_i - y_j) = y_i S_i - T_i, S_i = sum_j w_ij b_ij,  T_i = sum_j w_ij b_ij y_j

with b_ij = (1 + |y_i - y_j|^2 / alpha)^-1. Directly these are O(n^2). FIt-SNE (sec. 2):

1. Cover the embedding with equal boxes (``min_num_intervals`` or more per dimension, each about
   ``ints_in_interval`` wide) and put ``n_interpolation_points`` equispaced nodes in each box, so
   the nodes form one regular grid.
2. Spread each point's charges (1, or y_j) onto its box's nodes with the Lagrange basis
   polynomials of the nodes (eq. 7): a polynomial interpolation of the kernel in y_j.
3. The kernel between regular grid nodes depends only on the nodes' offset, so the grid-to-grid
   sums are a convolution: zero-pad to twice the size and multiply spectra (``numpy.fft``).
4. Interpolate the grid's potentials back to the points with the same basis.

Cost O(n p^d + M log M) for M grid nodes instead of O(n^2); the error falls quickly with more
interpolation points (tested against the exact sums in tests/test_tsne_fft.py). With p <= 3 the
FFTs run in single precision: their rounding stays far below the interpolation error there.
"""
import numba
import numpy as np

from tsne.kl import check_embedding, finish_gradient, kernel_shape, sparse_attraction, sparse_kl_rows

SINGLE_PRECISION_UP_TO = 3  # largest n_interpolation_points whose FFTs run in float32 (0: never)

try:  # scipy's pocketfft (always there with scikit-learn) is ~1.5x NumPy's and takes threads
    from scipy import fft as _scipy_fft
except ImportError:  # pragma: no cover - NumPy's FFT, one thread
    _scipy_fft = None


def _rfftn(x, s, axes):
    if _scipy_fft is None:
        return np.fft.rfftn(x, s=s, axes=axes)
    return _scipy_fft.rfftn(x, s=s, axes=axes, workers=numba.get_num_threads())


def _irfftn(x, s, axes):
    if _scipy_fft is None:
        return np.fft.irfftn(x, s=s, axes=axes)
    return _scipy_fft.irfftn(x, s=s, axes=axes, workers=numba.get_num_threads())


def _smooth(k):
    """Whether k has no prime factor above 7 (FFTs of such sizes are fast: 2.5x on 1194 vs 1200)."""
    for f in (2, 3, 5, 7):
        while k % f == 0:
            k //= f
    return k == 1


def _grid(Y, n_interpolation_points, min_num_intervals, ints_in_interval):
    """Boxes over Y's bounding square: -> (lower corner, node spacing, boxes per dimension, box width).
    The number of boxes is rounded up (by at most a quarter) until the padded grid's side
    2 p n_boxes has only small prime factors, as openTSNE does for FFTW."""
    lo = Y.min(axis=0)
    span = max(float((Y.max(axis=0) - lo).max()), 1e-12)
    n_boxes = max(int(min_num_intervals), int(np.ceil(span / ints_in_interval)))
    for more in range(n_boxes, n_boxes + n_boxes // 4 + 1):
        if _smooth(2 * n_interpolation_points * more):
            n_boxes = more
            break
    box = span / n_boxes * (1 + 1e-9)  # a point on the upper edge still falls in the last box
    return lo, box / n_interpolation_points, n_boxes, box


def _lagrange_weights(t, p):
    """Lagrange basis of p equispaced nodes at (k + 1/2) / p in [0, 1], evaluated at t (n,): (n, p)."""
    nodes = (np.arange(p) + 0.5) / p
    L = np.ones((len(t), p))
    for k in range(p):
        for m in range(p):
            if m != k:
                L[:, k] *= (t - nodes[m]) / (nodes[k] - nodes[m])
    return L


def _kernel_spectrum(values, d, dtype):
    """The spectrum of a kernel given on the node offsets 0..m-1 per dimension (an (m,)^d array),
    embedded in a (2m)^d circulant (offset m, the wrap-around, never separates two real nodes):
    -> rfftn in ``dtype``'s precision, (2m, ..., m + 1)."""
    m = values.shape[0]
    full = np.zeros((2 * m,) * d)
    back = slice(m - 1, 0, -1)  # offsets m-1 .. 1, stored at indices m+1 .. 2m-1 as -(m-1) .. -1
    if d == 1:
        full[:m], full[m + 1:] = values, values[back]
    else:
        full[:m, :m], full[m + 1:, :m] = values, values[back]
        full[:m, m + 1:], full[m + 1:, m + 1:] = values[:, back], values[back, back]
    return _rfftn(full.astype(dtype, copy=False), s=full.shape, axes=tuple(range(d)))


def _nodes_of(points, lo, box, n_boxes, p, m):
    """Each point's p^d grid nodes (flat indices) and Lagrange weights: -> two (n, p^d) arrays."""
    n, d = points.shape
    rel = (points - lo) / box
    which = np.clip(np.floor(rel).astype(np.int64), 0, n_boxes - 1)
    basis = [_lagrange_weights(rel[:, a] - which[:, a], p) for a in range(d)]
    first = which * p  # grid index of each point's first node, per dimension
    if d == 1:
        return first[:, :1] + np.arange(p)[None, :], basis[0]
    k = np.arange(p)
    index = ((first[:, 0, None, None] + k[:, None]) * m + first[:, 1, None, None] + k[None, :]).reshape(n, -1)
    return index, (basis[0][:, :, None] * basis[1][:, None, :]).reshape(n, -1)


def repulsion_fft(Y, dof=1.0, n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1.0,
                  exponent=None, sources=None):
    """(repulse (n, d), row_z (n,)) as defined above, by FFT-accelerated interpolation; d = 1 or 2.
    The kernel is w = b^exponent, exponent (dof + 1) / 2 when None (``kl.kernel_shape``).

    Parameters are named as openTSNE's: ``n_interpolation_points`` p per box and dimension,
    ``min_num_intervals`` boxes per dimension at least, ``ints_in_interval`` the box width the
    number of boxes grows with when the embedding spreads out. With ``sources`` (m, d) the sums
    for each point of Y run over the sources instead of over Y itself (new points placed in a fixed
    embedding, ``transform.py``), and no self-pair is taken out of row_z.
    """
    n, d = Y.shape
    src = Y if sources is None else sources
    p = int(n_interpolation_points)
    lo, spacing, n_boxes, box = _grid(Y if sources is None else np.vstack([Y, src]), p, min_num_intervals,
                                      ints_in_interval)
    m = n_boxes * p
    index, weight = _nodes_of(Y, lo, box, n_boxes, p, m)
    src_index, src_weight = (index, weight) if sources is None else _nodes_of(src, lo, box, n_boxes, p, m)

    alpha, expo, _ = kernel_shape(dof, exponent)
    offsets = (np.arange(m) * spacing) ** 2
    b = 1.0 / (1.0 + (offsets if d == 1 else offsets[:, None] + offsets[None, :]) / alpha)
    w = b if expo == 1.0 else b ** expo
    # single-precision FFTs (1.5x faster at 70k points) where their rounding, ~1e-3 of the sums on a
    # spread-out map, stays well below the interpolation's own error (~1e-2 at p <= 3)
    fft_dtype = np.float32 if p <= SINGLE_PRECISION_UP_TO else np.float64
    z_spec, f_spec = _kernel_spectrum(w, d, fft_dtype), _kernel_spectrum(w * b, d, fft_dtype)

    # charges: 1 (for Z and S) and each coordinate of y (for T)
    charges = np.concatenate([np.ones((len(src), 1)), src], axis=1)  # (n_sources, 1 + d)
    flat = src_index.ravel()
    padded, axes = (2 * m,) * d, tuple(range(d))
    potentials = []
    for c in range(1 + d):
        grid = np.bincount(flat, weights=(src_weight * charges[:, c:c + 1]).ravel(), minlength=m ** d)
        spectrum = _rfftn(grid.reshape((m,) * d).astype(fft_dtype), s=padded, axes=axes)
        for spec in ((z_spec, f_spec) if c == 0 else (f_spec,)):
            pot = _irfftn(spectrum * spec, s=padded, axes=axes)[tuple(slice(0, m) for _ in range(d))]
            potentials.append((pot.ravel()[index] * weight).sum(axis=1))
    z_sum, s_sum, t_sums = potentials[0], potentials[1], np.stack(potentials[2:], axis=1)
    if sources is None:
        # w_ii is not a pair. Take out what the interpolation made of it, not 1: its error at
        # distance 0, the kernel's peak, is the largest, and n of them biased Z by ~0.2% on a
        # spread-out map (repulsion too weak, maps ~30% too small). The forces need no such
        # correction: the self terms of y_i S_i and T_i cancel exactly.
        k = np.arange(p)
        grid = np.stack(np.meshgrid(*([k] * d), indexing="ij"), axis=-1).reshape(-1, d) * spacing
        sq = ((grid[:, None, :] - grid[None, :, :]) ** 2).sum(axis=-1)
        b_box = 1.0 / (1.0 + sq / alpha)
        z_box = b_box if expo == 1.0 else b_box ** expo  # the kernel between one box's nodes
        z_sum = z_sum - ((weight @ z_box) * weight).sum(axis=1)  # a GEMM: np.einsum took 30 ms at 70k
    repulse = Y * s_sum[:, None] - t_sums
    return repulse, z_sum


def kl_divergence_fft(P, Y, dof=1.0, compute_error=True, n_interpolation_points=3, min_num_intervals=50,
                      ints_in_interval=1.0, exponent=None):
    """KL(P || Q) and its gradient with the repulsion by ``repulsion_fft``, O(n) per iteration.

    P : SparseAffinities (n x n, symmetric); Y : (n, 1) or (n, 2) embedding; dof, exponent: the
    kernel (``kl.kernel_shape``).
    Returns (kl, grad (n, d)): kl over the non-zeros of P with Z from the interpolation (NaN when
    ``compute_error`` is False).
    """
    alpha, expo, factor = kernel_shape(dof, exponent)
    Y = check_embedding(Y, P.n)
    if Y.shape[1] not in (1, 2):
        raise ValueError(f"Y: the FFT method needs 1 or 2 components, got {Y.shape[1]}")
    repulse, row_z = repulsion_fft(Y, alpha, n_interpolation_points, min_num_intervals, ints_in_interval, expo)
    attract = np.empty_like(Y)
    sparse_attraction(P.indptr, P.indices, P.data, Y, alpha, attract)

    def kl_rows(z, rows):
        sparse_kl_rows(P.indptr, P.indices, P.data, Y, alpha, expo, z, rows)

    return finish_gradient(attract, repulse, row_z, factor, kl_rows if compute_error else None)
