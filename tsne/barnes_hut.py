"""Barnes-Hut t-SNE gradient (van der Maaten 2014, sec. 4.2) with a quadtree (2-D) or octree (3-D),
and a binary tree over the line for a 1-D map, which runs as a 2-D one on the line y = 0 (``_on_a_plane``).

dKL/dy_i = c (F_attr,i - F_rep,i / Z), c = 2 (alpha + 1) / alpha (``kl.kernel_shape``), with
F_attr,i = sum_j p_ij b_ij (y_i - y_j) over the sparse P (eq. 11's attractive part) and
F_rep,i  = sum_j w_ij b_ij (y_i - y_j), Z = sum_{k != l} w_kl estimated on the tree: a cell whose
side s and distance d to y_i satisfy s / d < angle is summarised by its centre of mass and its
number of points (eq. 13). Here d is taken to the bounding box of a block of _BLOCK points that
are neighbours in Z-order, never more than the distance to y_i itself: the block shares one
traversal and one list of cells (an interaction list, as in fast-multipole codes), and each point
is at least as accurate as with its own traversal. w_ij = (1 + |y_i - y_j|^2 / alpha)^(-(alpha + 1) / 2), b_ij = (1 + |y_i - y_j|^2 / alpha)^(-1).

At angle 0 every cell is opened down to its leaves and the result is the exact gradient for
the given P. Each point's sums are kept in per-point arrays and added in a fixed order, so the
result does not depend on the number of threads.
"""
import numpy as np
from numba import njit

from tsne.affinities import check_sparse
from tsne.chunked_threads import beside, run_in_chunks

from tsne.kl import check_embedding, finish_gradient, kernel_shape, sparse_attraction, sparse_kl_rows

_MAX_DEPTH = 60
_BLOCK = 32  # Z-order neighbours sharing one interaction list (16-64 measured within 10%)


@njit(cache=True)
def _quadrant(Y, i, center, cell):
    q = 0
    for a in range(Y.shape[1]):
        if Y[i, a] > center[cell, a]:
            q |= 1 << a
    return q


# _SPREAD[d][v]: the 8 bits of v spread d places apart (bit b of v at bit b d)
_SPREAD = {d: np.array([sum(((v >> b) & 1) << (b * d) for b in range(8)) for v in range(256)], dtype=np.int64)
           for d in (2, 3)}


def _morton_keys(Y):
    """Z-order keys: the bits of the quantised coordinates interleaved, so that sorting by key
    puts points of the same tree cell next to each other (cache-friendly build and traversal).
    NumPy, a byte of each coordinate at a time through a table of spread bytes (compiling it with
    Numba cost 1.3 s of a first fit; one bit plane at a time took 1.37 ms a call at 10k points, this
    0.76 ms, median of 30: the same keys, tested)."""
    n, dim = Y.shape
    bits = 62 // dim
    lo = Y.min(axis=0)
    span = float((Y.max(axis=0) - lo).max())
    span = span if span > 0 else 1.0
    q = ((Y - lo) / span * float((1 << bits) - 1)).astype(np.int64)
    keys = np.zeros(n, dtype=np.int64)
    spread = _SPREAD[dim]
    for a in range(dim):
        for first in range(0, bits, 8):
            keys |= spread[(q[:, a] >> first) & 255] << (first * dim + a)
    return keys


@njit(cache=True)
def _open_child(cell, q, child, children, center, half):
    """Make cell number ``child`` the q-th quadrant/octant of ``cell``; returns ``child``."""
    children[cell, q] = child
    half[child] = 0.5 * half[cell]
    for a in range(center.shape[1]):
        center[child, a] = center[cell, a] + (half[child] if (q >> a) & 1 else -half[child])
    return child


def _build_tree(Y, order):
    """Insert the points one by one in ``order``; a leaf holds one point, or several identical ones (or
    points closer than 2^-60 of the box). Returns the cell arrays, centres of mass divided out.
    Room for 2n cells nearly always suffices; otherwise the build starts again with twice as much
    (simpler, and 2 s quicker to compile, than growing the arrays inside the kernel)."""
    n, dim = Y.shape
    cap = 2 * n + 4 * _MAX_DEPTH
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    while True:
        arrays = (np.full((cap, 1 << dim), -1, dtype=np.int64), np.zeros(cap, dtype=np.int64), np.zeros((cap, dim)),
                  np.zeros((cap, dim)), np.zeros(cap), np.ones(cap, dtype=np.bool_), np.full(cap, -1, dtype=np.int64))
        arrays[3][0] = 0.5 * (lo + hi)
        arrays[4][0] = 0.5 * float((hi - lo).max()) * (1.0 + 1e-6) + 1e-12
        n_cells = _build_tree_within(Y, order, *arrays)
        if n_cells >= 0:
            return tuple(a[:n_cells] for a in arrays[:6])
        cap *= 2


@njit(nogil=True, cache=True)
def _build_tree_within(Y, order, children, count, com, center, half, is_leaf, leaf_point):
    """The insertion loop of ``_build_tree`` into arrays of ``len(count)`` cells (the root's centre
    and half-side set): -> the number of cells used, or -1 when they ran out."""
    n, dim = Y.shape
    cap = len(count)
    n_cells = 1
    for k in range(n):
        i = order[k]
        if n_cells + 2 * _MAX_DEPTH + 2 > cap:  # no room for the deepest possible insertion
            return -1
        cell = 0
        depth = 0
        while True:
            if is_leaf[cell] and count[cell] > 0:
                j = leaf_point[cell]
                same = True
                for a in range(dim):
                    if Y[i, a] != Y[j, a]:
                        same = False
                if not (same or depth >= _MAX_DEPTH):
                    # split: the leaf's points (all at y_j) move into a new child; i goes on below
                    child = _open_child(cell, _quadrant(Y, j, center, cell), n_cells, children, center, half)
                    n_cells += 1
                    for a in range(dim):
                        com[child, a] = com[cell, a]
                    count[child] = count[cell]
                    leaf_point[child] = j
                    is_leaf[cell] = False
                    continue
            count[cell] += 1
            for a in range(dim):
                com[cell, a] += Y[i, a]
            if is_leaf[cell]:  # an empty root, or a duplicate of the leaf's point
                leaf_point[cell] = i if leaf_point[cell] < 0 else leaf_point[cell]
                break
            q = _quadrant(Y, i, center, cell)
            child = children[cell, q]
            if child < 0:
                child = _open_child(cell, q, n_cells, children, center, half)
                n_cells += 1
            cell = child
            depth += 1
    for c in range(n_cells):
        for a in range(dim):
            com[c, a] /= count[c]
    return n_cells


def _pack(count, com, half, is_leaf):
    """One row per cell: centre of mass, number of points, then the squared side for an
    internal cell or -1 for a leaf, so that a visit reads one cache line."""
    n_cells, dim = com.shape
    node = np.empty((n_cells, dim + 2))
    node[:, :dim] = com
    node[:, dim] = count
    node[:, dim + 1] = np.where(is_leaf, -1.0, 4.0 * half * half)
    return node


@njit(cache=True)
def _interaction_list(Y, order, k0, k1, children, node, center, theta2):
    """The cells that points order[k0:k1] interact with, as a (dim + 1, L) array of centres of
    mass and counts. A cell is summarised when side^2 < angle^2 d^2 with d its distance to the
    block's bounding box, which is at most the distance to any point of the block, so every point
    gets a summary at least as accurate as its own traversal would give. Cells overlapping the box
    are always opened, so each point's own leaf is on the list."""
    dim = Y.shape[1]
    lo = np.full(dim, np.inf)
    hi = np.full(dim, -np.inf)
    for k in range(k0, k1):
        for a in range(dim):
            lo[a] = min(lo[a], Y[order[k], a])
            hi[a] = max(hi[a], Y[order[k], a])
    stack = np.empty(_MAX_DEPTH * children.shape[1] + 8, dtype=np.int64)
    cells = np.empty(256, dtype=np.int64)
    n_list = 0
    top = 1
    stack[0] = 0
    while top > 0:
        top -= 1
        c = stack[top]
        side2 = node[c, dim + 1]
        if side2 >= 0:  # an internal cell: open it, or summarise it
            h = 0.5 * np.sqrt(side2)
            overlaps = True
            d2 = 0.0
            for a in range(dim):
                if center[c, a] - h > hi[a] or center[c, a] + h < lo[a]:
                    overlaps = False
                t = node[c, a]
                gap = lo[a] - t if t < lo[a] else (t - hi[a] if t > hi[a] else 0.0)
                d2 += gap * gap
            if overlaps or side2 >= theta2 * d2:
                for q in range(children.shape[1]):
                    if children[c, q] >= 0:
                        stack[top] = children[c, q]
                        top += 1
                continue
        if n_list == len(cells):
            cells = np.concatenate((cells, np.empty(n_list, dtype=np.int64)))
        cells[n_list] = c
        n_list += 1
    # contiguous rows so that the per-point loop streams through them
    listed = np.empty((dim + 1, n_list))
    for l in range(n_list):
        for a in range(dim + 1):
            listed[a, l] = node[cells[l], a]
    return listed


@njit(cache=True, fastmath=True, error_model="numpy")
def _sum_interactions(Y, order, k0, k1, listed, alpha, expo, repulse, row_z):
    """F_rep,i and sum_j w_ij for points order[k0:k1] over their interaction list. (error_model="numpy"
    drops the zero test of each division, which kept the loop from vectorising: 10k points, one
    thread, 13.6 -> 7.2 ms an iteration.)"""
    dim = Y.shape[1]
    inv_alpha = 1.0 / alpha
    for k in range(k0, k1):
        i = order[k]
        # sums in registers (the third coordinate is 0 in 2-D)
        z = 0.0
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        y2 = Y[i, 2] if dim == 3 else 0.0
        for l in range(listed.shape[1]):
            t0 = Y[i, 0] - listed[0, l]
            t1 = Y[i, 1] - listed[1, l]
            t2 = y2 - listed[2, l] if dim == 3 else 0.0
            b = 1.0 / (1.0 + (t0 * t0 + t1 * t1 + t2 * t2) * inv_alpha)
            mw = listed[dim, l] * (b if expo == 1.0 else b ** expo)
            z += mw
            f0 += mw * b * t0
            f1 += mw * b * t1
            f2 += mw * b * t2
        repulse[i, 0] = f0
        repulse[i, 1] = f1
        if dim == 3:
            repulse[i, 2] = f2
        # point i's own leaf is listed: it added w_ii = 1 and no force; take it out of Z
        row_z[i] = z - 1.0


@njit(nogil=True, cache=True)
def _repulsion(start, stop, Y, order, children, node, center, angle, alpha, expo, repulse, row_z):
    """F_rep and the row sums of Z, one interaction list per block of _BLOCK Z-order neighbours,
    for blocks [start, stop) (``run_in_chunks``)."""
    n = Y.shape[0]
    for blk in range(start, stop):
        k0 = blk * _BLOCK
        k1 = min(n, k0 + _BLOCK)
        listed = _interaction_list(Y, order, k0, k1, children, node, center, angle * angle)
        _sum_interactions(Y, order, k0, k1, listed, alpha, expo, repulse, row_z)


def _on_a_plane(Y):
    """A 1-D map (n, 1) as the 2-D map (y_i, 0) (n, 2); 2-D and 3-D maps as they are.

    On the line y = 0 the quadtree is a binary tree over the line: every point falls on the same
    side of each cell's centre in y, so a cell has at most two children, its side and its distance to
    a point are the 1-D ones, and the second coordinate's terms are exactly 0: the same sums as a
    1-D tree's. (A 1-D branch in the 2-D/3-D summing loop slowed 2-D maps by 6-10%, 10k points.)"""
    return np.column_stack([Y, np.zeros(len(Y))]) if Y.shape[1] == 1 else Y


def kl_divergence_bh(P, Y, angle=0.5, dof=1.0, compute_error=True, exponent=None):
    """Barnes-Hut estimate of KL(P || Q) and its gradient, O(n log n).

    Parameters
    ----------
    P : SparseAffinities (n x n, symmetric), e.g. from ``joint_probabilities_nn``
    Y : (n, 1), (n, 2) or (n, 3) embedding
    angle : the trade-off theta; 0 gives the exact gradient for this P
    dof, exponent : the kernel (1 + d^2 / dof)^-exponent (``kl.kernel_shape``)

    Returns
    -------
    kl : float, sum_ij p_ij log(p_ij / q_ij) over the non-zeros of P with Z from the tree
         (NaN when ``compute_error`` is False)
    grad : (n, n_components) float64
    """
    P = check_sparse(P, "kl_divergence_bh")
    alpha, expo, factor = kernel_shape(dof, exponent)
    Y = check_embedding(Y, P.n)
    if Y.shape[1] not in (1, 2, 3):
        raise ValueError(f"Y: Barnes-Hut needs 1, 2 or 3 components, got {Y.shape[1]}")
    if not angle >= 0:
        raise ValueError(f"angle: expected a value >= 0, got {angle}")
    Y_tree = _on_a_plane(Y)
    repulse, attract = np.empty_like(Y_tree), np.empty_like(Y)
    # the tree is built on one thread: the attraction (independent of it) runs beside it
    with beside(sparse_attraction, P.indptr, P.indices, P.data, Y, alpha, attract):
        order = np.argsort(_morton_keys(Y_tree), kind="stable")
        children, count, com, center, half, is_leaf = _build_tree(Y_tree, order)
    row_z = np.empty(len(Y))
    run_in_chunks(_repulsion, (len(Y) + _BLOCK - 1) // _BLOCK, Y_tree, order, children,
                  _pack(count, com, half, is_leaf), center, float(angle), alpha, expo, repulse, row_z)
    repulse = repulse[:, :Y.shape[1]]

    def kl_rows(z, rows):
        sparse_kl_rows(P.indptr, P.indices, P.data, Y, alpha, expo, z, rows)

    return finish_gradient(attract, repulse, row_z, factor, kl_rows if compute_error else None)
