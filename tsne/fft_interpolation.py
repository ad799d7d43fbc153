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
   sums are a convolution: zero-pad to twice the size and multiply spectra (``scipy.fft``, NumPy's
   without scipy); the kernel is even, so its spectrum is real: a DCT-I of half of it.
4. Interpolate the grid's potentials back to the points with the same basis.

Cost O(n p^d + M log M) for M grid nodes instead of O(n^2); the error falls quickly with more
interpolation points (tested against the exact sums in tests/test_tsne_fft.py). With p <= 3 the
FFTs run in single precision: their rounding stays far below the interpolation error there.
"""
import functools
import threading

import numba
import numpy as np

from tsne.affinities import check_sparse
from tsne.chunked_threads import run_in_chunks
from tsne.kl import check_embedding, finish_gradient, kernel_shape, sparse_attraction, sparse_kl_rows
from tsne.optimizer import TSNEDiverged

SINGLE_PRECISION_UP_TO = 3  # largest n_interpolation_points whose FFTs run in float32 (0: never)
# from this many points the charges are spread in _SPREAD_PARTS parts on threads (a million points:
# 51 ms serially, a third of the repulsion); below, in one serial pass, as before
_SPREAD_IN_PARTS_FROM = 1 << 16
_SPREAD_PARTS = 4
_THREADED_PRODUCT = 1 << 19  # spectra of at least this many entries are multiplied on threads


def _dct1_by_fft(x, type=1):
    """DCT-I (scipy's unnormalised ``dctn(x, type=1)``) from NumPy's real FFT of the mirrored
    sequence x_0 .. x_m, x_(m-1) .. x_1 along each axis in turn (``type`` is always 1 here)."""
    for axis in range(x.ndim):
        inner = np.flip(x, axis).take(range(1, x.shape[axis] - 1), axis=axis)
        x = np.fft.rfft(np.concatenate([x, inner], axis=axis), axis=axis).real
    return x


try:  # scipy's pocketfft (always there with scikit-learn) is ~1.5x NumPy's, takes threads, has DCTs
    from scipy import fft as _fft
    _dct = _fft.dctn
except ImportError:  # pragma: no cover - NumPy's FFT, one thread
    _fft, _dct = np.fft, _dct1_by_fft


def _fft_workers(in_place=False):
    """scipy.fft's keywords: Numba's thread count, and (``in_place``) leave the input's storage to the result."""
    if _fft is np.fft:
        return {}
    keywords = {"workers": numba.get_num_threads()}
    return {**keywords, "overwrite_x": True} if in_place else keywords


def _spectrum(grid, d, out):
    """The spectrum of a grid (m0, m1) zero-padded to (2 m0, 2 m1), axis by axis, *transposed*:
    (m1 + 1, 2 m0), written into out when d = 2 (then (1, m1 + 1) when d = 1: m0 is 1).
    ``grid`` (m0, 2 m1) comes with its row padding: padding in scipy took a fresh array each time.
    A real FFT along each row, then, transposed, a complex FFT along contiguous rows in place:
    the same pass down strided columns ran 1.3-1.4x slower (and scipy's rfftn 2-4x)."""
    m0 = grid.shape[0]
    half = _fft.rfft(grid, axis=-1, **_fft_workers())
    if d == 1:
        return half
    out[:, :m0] = half.T
    out[:, m0:] = 0.0
    return _fft.fft(out, axis=-1, **_fft_workers(in_place=True))


def _potentials(spec, d, m0, m1):
    """The inverse of ``_spectrum`` (whose spec it overwrites), cropped to the grid's (m0, m1)."""
    if d == 2:
        spec = _fft.ifft(spec, axis=-1, **_fft_workers(in_place=True))[:, :m0].T
    return _fft.irfft(spec, n=2 * m1, axis=-1, **_fft_workers())[:, :m1]


@numba.njit(nogil=True, cache=True)
def _times_even_kernel(start, stop, spec, kernel, energy):
    """spec (rows, c) *= the even kernel's spectrum, given by its half ``kernel`` (rows, c / 2 + 1)
    (columns k and c - k are equal; c = 1 for a 1-D map's spectrum stood on end), for rows
    start..stop; with ``energy`` (rows,) (else empty) first energy[r] = sum_c K |G|^2 of the row,
    summed in float64, for Parseval's theorem."""
    cols = spec.shape[1]
    for r in range(start, stop):
        total = 0.0
        for c in range(cols):
            k = kernel[r, c if 2 * c <= cols else cols - c]
            v = spec[r, c]
            if energy.shape[0] > 0:
                total += k * (v.real * v.real + v.imag * v.imag)
            spec[r, c] = v * k
        if energy.shape[0] > 0:
            energy[r] = total


def _times_kernel(spec, kernel, d, with_energy=False):
    """spec *= the kernel's spectrum (``_kernel_spectrum_of``'s half) in place (on threads when large):
    -> spec, or (spec, sum_k K_k |G_k|^2 over the whole padded spectrum) ``with_energy``: by
    Parseval's theorem, N times sum_x G(x) (K * G)(x) for the N padded nodes."""
    rows = spec if d == 2 else spec.T  # a 1-D spectrum (1, m + 1) stood on end: one column
    energy = np.empty(rows.shape[0] if with_energy else 0)
    half = kernel if d == 2 else kernel.T
    if spec.size < _THREADED_PRODUCT:  # waking the threads costs more than they save
        _times_even_kernel(0, rows.shape[0], rows, half, energy)
    else:
        run_in_chunks(_times_even_kernel, rows.shape[0], rows, half, energy)
    if not with_energy:
        return spec
    # the real FFT's frequencies 1 .. m-1 of 2m (rows here) stand for their mirror images too
    return spec, 2.0 * energy.sum() - energy[0] - energy[-1]


_local = threading.local()


def _buffer(name, shape, dtype):
    """An array reused from call to call (per thread; zeros when new, else left over): fresh 6-20 MB arrays in
    every iteration came from the kernel and were page-faulted in again, ~2 us per 4 KiB page."""
    buffers = _local.__dict__.setdefault("buffers", {})
    if name not in buffers or buffers[name].shape != shape or buffers[name].dtype != dtype:
        buffers[name] = np.zeros(shape, dtype)
    return buffers[name]


def _smooth(k):
    """Whether k has no prime factor above 7 (FFTs of such sizes are fast: 2.5x on 1194 vs 1200)."""
    for f in (2, 3, 5, 7):
        while k % f == 0:
            k //= f
    return k == 1


@numba.njit(nogil=True, cache=True)
def _bounds(Y):
    """(lower corner (d,), the bounding box's longest side) of Y (n, d) in one pass (NumPy's
    Y.min(axis=0) and Y.max(axis=0) on an (n, 2) array took 5 ms at 70k points)."""
    lo = Y[0].copy()
    hi = Y[0].copy()
    for i in range(1, Y.shape[0]):
        for c in range(Y.shape[1]):
            lo[c] = min(lo[c], Y[i, c])
            hi[c] = max(hi[c], Y[i, c])
    return lo, (hi - lo).max()


# boxes per side above which the padded grid (2 p n_boxes)^d of complex128 would pass ~4 GB: a map
# that wide has diverged (openTSNE's maps of a million points span a few hundred units)
_MAX_BOXES = {1: 10_000_000, 2: 3_000}


def _grid(Y, n_interpolation_points, min_num_intervals, ints_in_interval):
    """Boxes over Y's bounding square: -> (lower corner, box width, boxes per dimension).
    The number of boxes is rounded up (by at most a quarter) until the padded grid's side
    2 p n_boxes has only small prime factors, as openTSNE does for FFTW.

    The boxes stretch with the map (width = span / n_boxes), as in openTSNE. A fixed ladder of
    widths would let the kernel spectra be reused for many iterations (27 of 198 ms per iteration
    at 70k points, when the fit still transformed both kernels), but points then slide across a
    fixed grid, and the interpolation's error,
    periodic in the box, moves under them: on digits the final KL rose by 2.5% (mean of 5 seeds)."""
    lo, span = _bounds(Y)
    span = max(float(span), 1e-12)
    needed = span / ints_in_interval
    if not needed <= _MAX_BOXES[Y.shape[1]]:  # also NaN
        raise TSNEDiverged(f"t-SNE diverged: the map spans {span:.4g} units, which would take {needed:.4g} "
                           f"boxes of ints_in_interval={ints_in_interval} per side (at most "
                           f"{_MAX_BOXES[Y.shape[1]]} fit in memory); lower learning_rate or ints_in_interval")
    n_boxes = max(int(min_num_intervals), int(np.ceil(needed)))
    for more in range(n_boxes, n_boxes + n_boxes // 4 + 1):
        if _smooth(2 * n_interpolation_points * more):
            n_boxes = more
            break
    box = span / n_boxes * (1 + 1e-9)  # a point on the upper edge still falls in the last box
    return lo, box, n_boxes


def _basis_constants(p):
    """(nodes (p,), inv_den (p, p)): the nodes' places (k + 1/2) / p in a box (FIt-SNE eq. 7) and
    1 / (x_a - x_b) for a != b, the Lagrange basis's denominators, which are the same for every point."""
    nodes = (np.arange(p) + 0.5) / p
    diff = nodes[:, None] - nodes[None, :]
    return nodes, np.divide(1.0, diff, out=np.zeros((p, p)), where=diff != 0)


@numba.njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _lagrange(x, lo, inv_box, n_boxes, nodes, inv_den, out):
    """Box of coordinate x, and the Lagrange basis of its p equispaced nodes (``_basis_constants``)
    evaluated at x into out (p,): -> index of the box's first node. Multiplications only: with a
    division per factor (and Numba's zero test for each), the basis took most of a point's gather."""
    p = nodes.shape[0]
    rel = (x - lo) * inv_box
    k = min(max(int(np.floor(rel)), 0), n_boxes - 1)
    t = rel - k
    for a in range(p):
        v = 1.0
        for b in range(p):
            if b != a:
                v *= (t - nodes[b]) * inv_den[a, b]
        out[a] = v
    return k * p


@numba.njit(nogil=True, cache=True)
def _spread_part(first, last, bounds, points, lo, inv_box, n_boxes, nodes, inv_den, parts):
    """Parts [first, last) of the points (part t: rows bounds[t]:bounds[t + 1]), each onto parts[t]."""
    for t in range(first, last):
        _spread(bounds[t], bounds[t + 1], points, lo, inv_box, n_boxes, nodes, inv_den, parts[t])


@numba.njit(nogil=True, cache=True)
def _add_parts(start, stop, parts, m, grids):
    """grids[c, r, :m] = parts[0, c, r, :m] + parts[1, c, r, :m] + ..., in part order, rows [start, stop)."""
    for c in range(grids.shape[0]):
        for r in range(start, stop):
            for x in range(m):
                v = parts[0, c, r, x]
                for t in range(1, parts.shape[0]):
                    v += parts[t, c, r, x]
                grids[c, r, x] = v


@numba.njit(nogil=True, cache=True, fastmath=True)
def _spread(start, stop, points, lo, inv_box, n_boxes, nodes, inv_den, grids):
    """Add each point's charges (1, then its coordinates) to its box's nodes, weighted by the
    Lagrange basis: grids (1 + d, m, m or more) indexed [charge, node along y_1, node along y_0],
    (1 + d, 1, m or more) when d = 1 (the FFTs' last axis is coordinate 0's)."""
    d = points.shape[1]
    p = nodes.shape[0]
    p1 = p if d == 2 else 1
    wx = np.empty(p)
    wy = np.ones(p)
    for i in range(start, stop):
        fx = _lagrange(points[i, 0], lo[0], inv_box, n_boxes, nodes, inv_den, wx)
        fy = _lagrange(points[i, 1], lo[1], inv_box, n_boxes, nodes, inv_den, wy) if d == 2 else 0
        y0 = points[i, 0]
        y1 = points[i, 1] if d == 2 else 0.0
        # a grid row at a time, the charges written out (a loop over them made this 2x slower)
        for b in range(p1):
            for a in range(p):
                w = wx[a] * wy[b]
                grids[0, fy + b, fx + a] += w
                grids[1, fy + b, fx + a] += w * y0
                if d == 2:
                    grids[2, fy + b, fx + a] += w * y1


@numba.njit(nogil=True, cache=True, fastmath=True)
def _gather(start, stop, Y, lo, inv_box, n_boxes, nodes, inv_den, pots, with_z, z_offsets, repulse, row_z):
    """Interpolate the potentials pots laid out as ``_spread``'s grids back to points start..stop
    of Y: pots holds (Z's,) S's, then T's d potentials (Z's only when with_z).
    row_z = Z potential (0 without it) less the point's interpolated self term unless z_offsets is
    empty; repulse = y S - T (module docstring).

    The self term is w^T K w over the box's p^d nodes, K the kernel between nodes. The weights are a
    product, w_(a,b) = wx_a wy_b, and K depends only on the nodes' offsets, z_offsets[|a - a'|,
    |b - b'|] ((p, p), (p, 1) when d = 1), so w^T K w = sum_(u,v) m_u m_v Ax_u Ay_v z_offsets[u, v]
    with Ax_u = sum_a wx_a wx_(a+u), Ay_v likewise, and m = 1 at offset 0, 2 elsewhere: 3 p^2
    products a point instead of 2 p^4 (at p = 3 it had been 40% of the gather)."""
    d = Y.shape[1]
    p = nodes.shape[0]
    p1 = p if d == 2 else 1
    wx = np.empty(p)
    wy = np.ones(p)
    ax = np.empty(p)
    ay = np.ones(p1)
    first = 1 if with_z else 0
    for i in range(start, stop):
        fx = _lagrange(Y[i, 0], lo[0], inv_box, n_boxes, nodes, inv_den, wx)
        fy = _lagrange(Y[i, 1], lo[1], inv_box, n_boxes, nodes, inv_den, wy) if d == 2 else 0
        z = 0.0
        s = 0.0
        t0 = 0.0
        t1 = 0.0
        for b in range(p1):  # as in _spread
            for a in range(p):
                wab = wx[a] * wy[b]
                if with_z:
                    z += wab * pots[0, fy + b, fx + a]
                s += wab * pots[first, fy + b, fx + a]
                t0 += wab * pots[first + 1, fy + b, fx + a]
                if d == 2:
                    t1 += wab * pots[first + 2, fy + b, fx + a]
        if z_offsets.shape[0] > 0:
            for u in range(p):
                acc = 0.0
                for a in range(p - u):
                    acc += wx[a] * wx[a + u]
                ax[u] = acc if u == 0 else 2.0 * acc
            for v in range(p1):
                acc = 0.0
                for b in range(p1 - v):
                    acc += wy[b] * wy[b + v]
                ay[v] = acc if v == 0 else 2.0 * acc
            for u in range(p):
                for v in range(p1):
                    z -= ax[u] * ay[v] * z_offsets[u, v]
        row_z[i] = z
        repulse[i, 0] = Y[i, 0] * s - t0
        if d == 2:
            repulse[i, 1] = Y[i, 1] * s - t1


@numba.njit(nogil=True, cache=True)
def _kernel_values(out, m, spacing, alpha, power):
    """out[r, c] = b^power with b = 1 / (1 + |(r, c) spacing|^2 / alpha), for rows r < min(m, out's)
    and columns c < m (in float64, stored in out's precision); the rest of out is left alone."""
    for r in range(min(m, out.shape[0])):
        for c in range(m):
            b = 1.0 / (1.0 + ((r * spacing) ** 2 + (c * spacing) ** 2) / alpha)
            out[r, c] = b * b if power == 2.0 else (b if power == 1.0 else b ** power)


@functools.lru_cache(maxsize=2)
def _kernel_spectrum_of(m, spacing, d, alpha, power, dtype, dct):
    """The spectrum of the kernel b^power, b = 1 / (1 + r^2 / alpha), between the nodes of an
    m-node grid (m^d nodes, ``spacing`` apart), embedded in a (2m)^d circulant (offset m, the
    wrap-around, never separates two real nodes), in ``dtype``'s precision, read-only: real, since
    the kernel is even, and given at its frequencies 0..m per dimension, (m + 1, m + 1)
    (frequencies k and 2m - k have equal values; the kernel is symmetric in its two offsets, so
    this half serves the transposed spectra of ``_spectrum`` too), (1, m + 1) when d = 1.

    An even sequence's DFT is the DCT-I of its first half (x_0 + (-1)^k x_m + 2 sum_j x_j
    cos(pi j k / m)), a quarter of the 2-D FFT's work. Cached for ``transform``, where the fixed
    reference map usually sets the grid; ``dct``, the DCT-I in use, is part of the key."""
    half = np.zeros((m + 1,) * d, dtype=dtype)
    _kernel_values(half.reshape(-1, m + 1), m, spacing, alpha, power)
    spectrum = dct(half, type=1, **_fft_workers(in_place=True))
    spectrum = spectrum[None] if d == 1 else spectrum
    spectrum.flags.writeable = False
    return spectrum


def repulsion_fft(Y, dof=1.0, n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1.0,
                  exponent=None, sources=None, row_sums=True):
    """(repulse (n, d), row_z (n,)) as defined above, by FFT-accelerated interpolation; d = 1 or 2.
    The kernel is w = b^exponent, exponent (dof + 1) / 2 when None (``kl.kernel_shape``).

    Parameters are named as openTSNE's: ``n_interpolation_points`` p per box and dimension,
    ``min_num_intervals`` boxes per dimension at least, ``ints_in_interval`` the box width the
    number of boxes grows with when the embedding spreads out. With ``sources`` (m, d) the sums
    for each point of Y run over the sources instead of over Y itself (new points placed in a fixed
    embedding, ``transform.py``), and no self-pair is taken out of row_z.

    With ``row_sums`` False (the fit needs only the total) the second result is Z alone, a float,
    from the w b potentials that the forces use, so w's kernel is never transformed:
    w = w b (1 + r^2 / alpha), hence (FIt-SNE's identity, in the forces' terms)

        Z = sum_ij (w b)_ij + (1 / alpha) sum_ij (w b)_ij |y_i - y_j|^2 = sum_i S_i + (2 / alpha) sum_i y_i . repulse_i,

    with sum_i S_i from the charges' spectrum by Parseval's theorem, sum_x G(x) (K * G)(x) =
    (1/N) sum_k K_k |G_k|^2 over the N padded nodes, less the interpolated self terms. Its error,
    the w b interpolation's, is 1e-4 - 9e-4 of the exact Z on finished maps (w's own
    interpolation: 4e-5 - 3e-4), and the fits' KL on digits did not change (mean of 4 seeds).
    """
    n, d = Y.shape
    src = Y if sources is None else np.ascontiguousarray(sources, dtype=np.float64)
    p = int(n_interpolation_points)
    lo, box, n_boxes = _grid(Y if sources is None else np.vstack([Y, src]), p, min_num_intervals,
                             ints_in_interval)
    m = n_boxes * p
    shape = (m, m) if d == 2 else (1, m)  # a 1-D map is a grid one node high
    lo = np.append(lo, 0.0)

    alpha, expo, _ = kernel_shape(dof, exponent)
    # single-precision FFTs (1.5x faster at 70k points) where their rounding, ~1e-3 of the sums on a
    # spread-out map, stays well below the interpolation's own error (~1e-2 at p <= 3)
    fft_dtype = np.float32 if p <= SINGLE_PRECISION_UP_TO else np.float64
    kernel_wb = _kernel_spectrum_of(m, box / p, d, float(alpha), float(expo) + 1.0, fft_dtype, _dct)

    # charges 1 (for Z and S) and each coordinate of y (for T), spread in the FFTs' precision
    grids = _buffer("grids", (1 + d, shape[0], 2 * m), fft_dtype)  # the right half stays 0: the padding
    grids[..., :m] = 0.0
    inv_box = 1.0 / box
    nodes, inv_den = _basis_constants(p)
    if len(src) < _SPREAD_IN_PARTS_FROM:
        _spread(0, len(src), src, lo, inv_box, n_boxes, nodes, inv_den, grids)
    else:  # fixed parts, each onto a grid of its own, added in order: the same for any thread count
        parts = _buffer("grid parts", (_SPREAD_PARTS,) + grids.shape, fft_dtype)
        parts[..., :m] = 0.0
        bounds = [len(src) * t // _SPREAD_PARTS for t in range(_SPREAD_PARTS + 1)]
        run_in_chunks(_spread_part, _SPREAD_PARTS, np.array(bounds), src, lo, inv_box, n_boxes, nodes, inv_den,
                      parts)
        run_in_chunks(_add_parts, shape[0], parts, m, grids)
    kernel_w = _kernel_spectrum_of(m, box / p, d, float(alpha), float(expo), fft_dtype, _dct) if row_sums else None
    first = 1 if row_sums else 0  # pots: (Z's,) S's, then T's
    pots = _buffer("pots", (first + 1 + d,) + shape, fft_dtype)
    spec_buffer = _buffer("spectrum", (m + 1, 2 * m), np.result_type(fft_dtype, 1j)) if d == 2 else None
    for c in range(1 + d):  # one charge at a time, so that the buffers stay small
        spec = _spectrum(grids[c], d, spec_buffer)
        if c == 0 and row_sums:
            pots[0] = _potentials(_times_kernel(spec.copy(), kernel_w, d), d, *shape)
        if c == 0 and not row_sums:
            spec, s_total = _times_kernel(spec, kernel_wb, d, with_energy=True)
            s_total /= 4 * m * m if d == 2 else 2 * m
        else:
            spec = _times_kernel(spec, kernel_wb, d)
        pots[first + c] = _potentials(spec, d, *shape)

    z_offsets = np.zeros((0, 0))
    if sources is None:
        # w_ii is not a pair. Take out what the interpolation made of it, not 1: its error at
        # distance 0, the kernel's peak, is the largest, and n of them biased Z by ~0.2% on a
        # spread-out map (repulsion too weak, maps ~30% too small). The forces need no such
        # correction: the self terms of y_i S_i and T_i cancel exactly.
        offset = np.arange(p) * (box / p)  # between two nodes of one box, per coordinate
        r2 = offset[:, None] ** 2 + (offset[None, :] ** 2 if d == 2 else np.zeros((1, 1)))
        z_offsets = (1.0 / (1.0 + r2 / alpha)) ** (expo if row_sums else expo + 1.0)  # Z's kernel: w, or w b
    repulse, row_z = np.empty((n, d)), np.empty(n)
    run_in_chunks(_gather, n, Y, lo, inv_box, n_boxes, nodes, inv_den, pots, row_sums, z_offsets, repulse, row_z)
    if row_sums:
        return repulse, row_z
    # row_z holds minus each point's interpolated self term of S
    # not np.vdot: that is BLAS, whose threads then spin for a while and take the cores from the
    # FFT's and the Numba kernels' threads (a 20k fit used 40% more CPU time and ran 10% longer)
    return repulse, s_total + float(row_z.sum()) + 2.0 / alpha * float((Y * repulse).sum())


def kl_divergence_fft(P, Y, dof=1.0, compute_error=True, n_interpolation_points=3, min_num_intervals=50,
                      ints_in_interval=1.0, exponent=None):
    """KL(P || Q) and its gradient with the repulsion by ``repulsion_fft``, O(n) per iteration.

    P : SparseAffinities (n x n, symmetric); Y : (n, 1) or (n, 2) embedding; dof, exponent: the
    kernel (``kl.kernel_shape``).
    Returns (kl, grad (n, d)): kl over the non-zeros of P with Z from the interpolation (NaN when
    ``compute_error`` is False).
    """
    P = check_sparse(P, "kl_divergence_fft")
    alpha, expo, factor = kernel_shape(dof, exponent)
    Y = check_embedding(Y, P.n)
    if Y.shape[1] not in (1, 2):
        raise ValueError(f"Y: the FFT method needs 1 or 2 components, got {Y.shape[1]}")
    repulse, z = repulsion_fft(Y, alpha, n_interpolation_points, min_num_intervals, ints_in_interval, expo,
                               row_sums=False)
    attract = np.empty_like(Y)
    sparse_attraction(P.indptr, P.indices, P.data, Y, alpha, attract)

    def kl_rows(z, rows):
        sparse_kl_rows(P.indptr, P.indices, P.data, Y, alpha, expo, z, rows)

    return finish_gradient(attract, repulse, z, factor, kl_rows if compute_error else None)
