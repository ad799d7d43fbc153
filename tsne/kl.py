"""Exact t-SNE objective: KL(P || Q) and its gradient (van der Maaten & Hinton 2008, eq. 5).

With the Student-t kernel of alpha degrees of freedom (alpha = 1 in the paper, alpha =
max(n_components - 1, 1) in scikit-learn, after van der Maaten 2009; ``kernel_shape`` also gives
openTSNE's heavy-tailed (1 + d^2 / alpha)^-alpha, Kobak et al. 2019)

    w_ij = (1 + |y_i - y_j|^2 / alpha)^(-(alpha + 1) / 2),   q_ij = w_ij / Z,   Z = sum_{k != l} w_kl,
    KL   = sum_{i != j} p_ij log(p_ij / q_ij),
    dKL/dy_i = (2 (alpha + 1) / alpha) sum_j (p_ij - q_ij) (1 + |y_i - y_j|^2 / alpha)^(-1) (y_i - y_j),

which for alpha = 1 is the paper's 4 sum_j (p_ij - q_ij)(1 + |y_i - y_j|^2)^(-1)(y_i - y_j).
"""
import llvmlite.binding as llvm
import numba
import numpy as np
from numba import njit, prange

from tsne.chunked_threads import run_in_chunks
from tsne.input_checks import real_matrix

MACHINE_EPSILON = np.finfo(np.float64).eps


@njit(cache=True, fastmath=True, error_model="numpy")
def _row_kernel(Yt, i, alpha, expo):
    """(b_i., w_i.): the kernels of row i against every point (including j = i, where both are 1)."""
    dim, n = Yt.shape
    b = np.zeros(n)
    w = np.empty(n)
    for a in range(dim):  # column by column, so the j loops vectorise
        yi = Yt[a, i]
        col = Yt[a]
        for j in range(n):
            t = yi - col[j]
            b[j] += t * t
    inv_alpha = 1.0 / alpha
    for j in range(n):
        b[j] = 1.0 / (1.0 + b[j] * inv_alpha)
        w[j] = b[j] if expo == 1.0 else b[j] ** expo
    return b, w


@njit(parallel=True, cache=True, fastmath=True)
def _forces(P, dense, Yt, alpha, expo, attract, repulse, row_z):
    """Per row: sum_j w_ij b_ij (y_i - y_j), sum_{j != i} w_ij and, if ``dense``, the attraction
    sum_j p_ij b_ij (y_i - y_j) from the dense P (a sparse P's attraction is ``sparse_attraction``).
    Each row's sums stay in that row (no prange reduction, whose order would follow the threads):
    Z is summed afterwards over row_z, in row order (``finish_gradient``)."""
    dim, n = Yt.shape
    for i in prange(n):
        b, w = _row_kernel(Yt, i, alpha, expo)
        z = 0.0
        for j in range(n):
            z += w[j]
            w[j] *= b[j]
            b[j] = P[i, j] * b[j] if dense else 0.0
        row_z[i] = z - 1.0  # w_ii = 1 is not a pair; its force terms vanish since y_i - y_i = 0
        for a in range(dim):
            yi = Yt[a, i]
            col = Yt[a]
            fa = 0.0
            fr = 0.0
            for j in range(n):
                t = yi - col[j]
                fa += b[j] * t
                fr += w[j] * t
            if dense:
                attract[i, a] = fa
            repulse[i, a] = fr


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _forces_2d(start, stop, P, dense, Yt, alpha, attract, repulse, row_z):
    """``_forces`` for rows start..stop of a 2-D map with w = b (expo 1: the Student t of every 2-D map
    scikit-learn draws), in one pass over each row: the general kernel's five passes (distance per
    axis, kernels, forces per axis) took 1.7 ms an iteration on 1,000 points, this one 0.44 on one
    thread. error_model="numpy": under Numba's default every division checks for zero to raise
    ZeroDivisionError, and that branch kept LLVM from vectorising the loop (1.9 ms; 1 + d^2 > 0).
    fastmath vectorises the sums, so their order is the compiled code's: the rows are shared out by
    ``run_in_chunks`` (Python threads) to this one serial function, never compiled again as a
    ``prange`` body (whose vectorisation differed: a forked child, which runs parallel kernels
    serially, got other bits). Each row's sums stay in that row: no dependence on the threads."""
    y0 = Yt[0]
    y1 = Yt[1]
    n = y0.size
    inv_alpha = 1.0 / alpha
    for i in range(start, stop):
        a0 = y0[i]
        a1 = y1[i]
        z = 0.0
        fa0 = 0.0
        fa1 = 0.0
        fr0 = 0.0
        fr1 = 0.0
        for j in range(n):
            t0 = a0 - y0[j]
            t1 = a1 - y1[j]
            b = 1.0 / (1.0 + (t0 * t0 + t1 * t1) * inv_alpha)
            z += b
            fr0 += b * b * t0
            fr1 += b * b * t1
            if dense:
                pb = P[i, j] * b
                fa0 += pb * t0
                fa1 += pb * t1
        row_z[i] = z - 1.0  # w_ii = 1 is not a pair
        if dense:
            attract[i, 0] = fa0
            attract[i, 1] = fa1
        repulse[i, 0] = fr0
        repulse[i, 1] = fr1


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _kl_rows(start, stop, P, Yt, alpha, expo, z, out):
    """out_i = sum_{j != i} p_ij log(p_ij / q_ij) for rows start..stop of a dense P (``run_in_chunks``:
    as a ``prange`` kernel its parallel lowering took 1.5 s of a first exact fit's 3.7 s compiling)."""
    dim, n = Yt.shape
    for i in range(start, stop):
        b, w = _row_kernel(Yt, i, alpha, expo)
        s = 0.0
        for j in range(n):
            p = P[i, j]
            if j != i and p > 0.0:
                s += p * np.log(max(p, MACHINE_EPSILON) / max(w[j] / z, MACHINE_EPSILON))
        out[i] = s


def sparse_attraction(indptr, indices, pvals, Y, alpha, attract):
    """attract_i = sum_j p_ij b_ij (y_i - y_j), b_ij = 1 / (1 + |y_i - y_j|^2 / alpha), over the
    non-zeros of a CSR matrix (indptr (n+1,), indices and pvals (nnz,)); Y and attract (n, d)."""
    if Y.shape[1] <= 3:
        kernel = _sparse_attraction_vectorised if GATHERS_PAY else _sparse_attraction_upto3
        run_in_chunks(kernel, len(Y), indptr, indices, pvals, Y, alpha, attract)
        return
    rows = np.repeat(np.arange(len(Y)), np.diff(indptr))
    diff = Y[rows] - Y[indices]
    pb = pvals / (1.0 + np.einsum("kd,kd->k", diff, diff) / alpha)
    for a in range(Y.shape[1]):
        attract[:, a] = np.bincount(rows, weights=pb * diff[:, a], minlength=len(Y))


def _gathers_pay():
    """Whether the sparse attraction's loop should be vectorised, loading y_j with gather
    instructions: yes, except on AMD CPUs with AVX-512 (Zen 4 on). Measured with the same P and
    map: on an AMD EPYC Zen 4 (znver4, AVX-512) the vectorised loop took 5.1 against 2.9 ms at
    10,000 points (one thread), its 512-bit gathers costing more than they save; on an AMD EPYC
    Zen 3 (znver3, AVX2) 0.70-0.90x the scalar one's time from 10,000 to 1,000,000 points (2
    threads; 1 thread 0.76-0.83x), as four divisions go in one instruction; on an Intel Xeon with
    AVX-512 (LLVM's 'rocketlake') 0.76-0.95x at 10,000-500,000 points (2 threads; 1 thread
    0.67-0.97x). The choice is fixed per machine (a fit's bits never depend on a timing), and
    each loop sums every row in its own fixed order, whatever the threads."""
    name = numba.config.CPU_NAME or llvm.get_host_cpu_name()
    features = numba.config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()
    return not (name.startswith("znver") and "+avx512f" in features.split(","))


GATHERS_PAY = _gathers_pay()


@njit(inline="always")
def _attraction_rows(start, stop, indptr, indices, pvals, Y, alpha, attract):
    """attract_i = sum_j p_ij b_ij (y_i - y_j) for rows [start, stop), maps of 1-3 components;
    inlined into the two compiled kernels below, which differ only in how a division is lowered."""
    dim = Y.shape[1]
    inv_alpha = 1.0 / alpha
    for i in range(start, stop):
        # sums in registers, 3x faster than summing into attract[i] (reloaded at every term)
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        y1 = Y[i, 1] if dim > 1 else 0.0
        y2 = Y[i, 2] if dim > 2 else 0.0
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            t0 = Y[i, 0] - Y[j, 0]
            t1 = y1 - Y[j, 1] if dim > 1 else 0.0
            t2 = y2 - Y[j, 2] if dim > 2 else 0.0
            pb = pvals[k] / (1.0 + (t0 * t0 + t1 * t1 + t2 * t2) * inv_alpha)
            f0 += pb * t0
            f1 += pb * t1
            f2 += pb * t2
        attract[i, 0] = f0
        if dim > 1:
            attract[i, 1] = f1
        if dim > 2:
            attract[i, 2] = f2


@njit(nogil=True, cache=True, fastmath=True)
def _sparse_attraction_upto3(start, stop, indptr, indices, pvals, Y, alpha, attract):
    """The scalar loop: Numba's default error model tests each division for zero, and that branch
    keeps LLVM from vectorising (``GATHERS_PAY`` False)."""
    _attraction_rows(start, stop, indptr, indices, pvals, Y, alpha, attract)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _sparse_attraction_vectorised(start, stop, indptr, indices, pvals, Y, alpha, attract):
    """The vectorised loop: without the zero test (1 + d^2 / alpha > 0), LLVM vectorises over a
    row's non-zeros, loading y_j with gathers (``GATHERS_PAY`` True)."""
    _attraction_rows(start, stop, indptr, indices, pvals, Y, alpha, attract)


def sparse_kl_rows(indptr, indices, pvals, Y, alpha, expo, z, out):
    """out_i = sum_j p_ij log(p_ij / q_ij) over the non-zeros of row i, q_ij = w_ij / z."""
    run_in_chunks(_sparse_kl_rows, len(Y), indptr, indices, pvals, Y, alpha, expo, z, out)


@njit(nogil=True, cache=True)
def _sparse_kl_rows(start, stop, indptr, indices, pvals, Y, alpha, expo, z, out):
    dim = Y.shape[1]
    for i in range(start, stop):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            d2 = 0.0
            for a in range(dim):
                t = Y[i, a] - Y[j, a]
                d2 += t * t
            b = 1.0 / (1.0 + d2 / alpha)
            w = b if expo == 1.0 else b ** expo
            p = pvals[k]
            s += p * np.log(max(p, MACHINE_EPSILON) / max(w / z, MACHINE_EPSILON))
        out[i] = s


def check_embedding(Y, n):
    Y = real_matrix(Y, "Y")
    if Y.shape[0] != n:
        raise ValueError(f"Y: expected an embedding of shape ({n}, n_components), got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("Y: the embedding contains NaN or inf")
    return Y


def kernel_shape(dof, exponent=None):
    """(alpha, e, c) of the kernel w = (1 + d^2 / alpha)^-e and the gradient's factor c = 4 e / alpha.

    ``exponent`` None: van der Maaten's Student t with ``dof`` degrees of freedom, e = (alpha + 1) / 2
    (scikit-learn; c = 2 (alpha + 1) / alpha); openTSNE's and Kobak et al.'s (2019) heavy tails set
    e = alpha = dof. Both are the Cauchy kernel at dof = 1.
    """
    alpha = float(dof)
    if not alpha > 0 or not np.isfinite(alpha):
        raise ValueError(f"dof: expected a finite value > 0, got {dof}")
    if exponent is None:
        return alpha, (alpha + 1.0) / 2.0, 2.0 * (alpha + 1.0) / alpha
    e = float(exponent)
    return alpha, e, 4.0 * e / alpha


def kl_divergence(P, Y, dof=1.0, compute_error=True, exponent=None):
    """KL(P || Q) and its exact gradient, O(n^2) time and O(n) memory beyond P.

    Parameters
    ----------
    P : (n, n) joint probabilities (``joint_probabilities``; may be exaggerated; float32 halves the
        memory traffic of the O(n^2) loop, the sums stay float64), or a
        ``SparseAffinities`` (``joint_probabilities_nn``): then the attraction runs over its
        non-zeros and Z over all pairs, which is the exact objective that Barnes-Hut approximates
    Y : (n, n_components) embedding
    dof, exponent : the kernel (1 + d^2 / dof)^-exponent, exponent (dof + 1) / 2 when None
        (``kernel_shape``)

    Returns
    -------
    kl : float (NaN when ``compute_error`` is False)
    grad : (n, n_components) float64
    """
    return exact_objective(P, dof, exponent)(Y, compute_error)


def exact_objective(P, dof=1.0, exponent=None):
    """``kl_divergence`` for one P as a function of the map, objective(Y, compute_error) -> (kl, grad),
    for an optimiser that calls it a thousand times: P (arguments as ``kl_divergence``) is checked
    once, here (on 1,000 points the check of the dense P cost 64 us a call, a seventh of the gradient)."""
    alpha, expo, factor = kernel_shape(dof, exponent)
    dense = not hasattr(P, "indptr")
    if dense:
        P = real_matrix(P, "P", keep_float32=True)
        if P.shape[0] != P.shape[1]:
            raise ValueError(f"P: expected a square (n, n) matrix, got shape {P.shape}")
    n = P.shape[0] if dense else P.n
    P_dense = P if dense else np.zeros((1, 1))

    def objective(Y, compute_error=True):
        Y = check_embedding(Y, n)
        Yt = np.ascontiguousarray(Y.T)
        attract, repulse = np.empty_like(Y), np.empty_like(Y)
        row_z = np.empty(len(Y))
        if Y.shape[1] == 2 and expo == 1.0:  # every row costs the same: one chunk per thread
            run_in_chunks(_forces_2d, len(Y), P_dense, dense, Yt, alpha, attract, repulse, row_z,
                          chunks_per_thread=1)
        else:
            _forces(P_dense, dense, Yt, alpha, expo, attract, repulse, row_z)
        if not dense:
            sparse_attraction(P.indptr, P.indices, P.data, Y, alpha, attract)

        def kl_rows(z, rows):
            if dense:
                run_in_chunks(_kl_rows, n, P, Yt, alpha, expo, z, rows, chunks_per_thread=1)
            else:
                sparse_kl_rows(P.indptr, P.indices, P.data, Y, alpha, expo, z, rows)

        return finish_gradient(attract, repulse, row_z, factor, kl_rows if compute_error else None)

    return objective


def finish_gradient(attract, repulse, row_z, factor, kl_rows=None):
    """The gradient dC/dy_i = c (attract_i - repulse_i / Z) (van der Maaten 2014, eq. 3; c from
    ``kernel_shape``: 2 (a + 1) / a for Student-t degrees of freedom a), and KL from
    ``kl_rows(Z, out)`` filling one value per point, or NaN when it is None. Z = sum of
    ``row_z`` (n,) (or row_z itself when it is already the total), kept >= machine epsilon.
    -> (kl, grad (n, n_components))."""
    z = max(float(np.sum(row_z)), MACHINE_EPSILON)
    grad = factor * (attract - repulse / z)
    if kl_rows is None:
        return np.nan, grad
    rows = np.empty(len(attract))
    kl_rows(z, rows)
    return float(rows.sum()), grad
