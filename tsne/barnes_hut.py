"""Barnes-Hut t-SNE gradient (van der Maaten 2014, sec. 4.2) with a quadtree (2-D) or octree (3-D).

dKL/dy_i = c (F_attr,i - F_rep,i / Z), c = 2 (alpha + 1) / alpha, with
F_attr,i = sum_j p_ij b_ij (y_i - y_j) over the sparse P (eq. 11's attractive part) and
F_rep,i  = sum_j w_ij b_ij (y_i - y_j), Z = sum_{k != l} w_kl estimated on the tree: a cell whose
side s and distance d to y_i satisfy s / d < angle is summarised by its centre of mass and its
number of points (eq. 13). w_ij = (1 + |y_i - y_j|^2 / alpha)^(-(alpha + 1) / 2), b_ij = (1 + |y_i - y_j|^2 / alpha)^(-1).

At angle 0 every cell is opened down to its leaves and the result is the exact gradient for
the given P. Each point's sums are kept in per-point arrays and added in a fixed order, so the
result does not depend on the number of threads.
"""
import numpy as np
from numba import njit, prange

from tsne.kl import MACHINE_EPSILON, check_embedding, sparse_attraction, sparse_kl_rows

_MAX_DEPTH = 60
_BLOCK = 256  # consecutive points (in Z-order) per parallel task


@njit(cache=True)
def _grow(children, count, com, center, half, is_leaf, leaf_point):
    """Double the capacity of every cell array."""
    extra = len(count)
    return (np.concatenate((children, -np.ones((extra, children.shape[1]), dtype=np.int64))),
            np.concatenate((count, np.zeros(extra, dtype=np.int64))),
            np.concatenate((com, np.zeros((extra, com.shape[1])))),
            np.concatenate((center, np.zeros((extra, center.shape[1])))),
            np.concatenate((half, np.zeros(extra))),
            np.concatenate((is_leaf, np.ones(extra, dtype=np.bool_))),
            np.concatenate((leaf_point, -np.ones(extra, dtype=np.int64))))


@njit(cache=True)
def _quadrant(y, c):
    q = 0
    for a in range(y.shape[0]):
        if y[a] > c[a]:
            q |= 1 << a
    return q


@njit(cache=True)
def _morton_keys(Y):
    """Z-order keys: the bits of the quantised coordinates interleaved, so that sorting by key
    puts points of the same tree cell next to each other (cache-friendly build and traversal)."""
    n, dim = Y.shape
    bits = 62 // dim
    scale = float((1 << bits) - 1)
    lo = np.empty(dim)
    span = 0.0
    for a in range(dim):
        lo[a] = Y[:, a].min()
        span = max(span, Y[:, a].max() - lo[a])
    span = span if span > 0 else 1.0
    keys = np.zeros(n, dtype=np.int64)
    for i in range(n):
        key = 0
        for a in range(dim):
            q = int((Y[i, a] - lo[a]) / span * scale)
            for b in range(bits):
                key |= ((q >> b) & 1) << (b * dim + a)
        keys[i] = key
    return keys


@njit(cache=True, inline="always")
def _open_child(cell, q, child, children, center, half):
    """Make cell number ``child`` the q-th quadrant/octant of ``cell``; returns ``child``."""
    children[cell, q] = child
    half[child] = 0.5 * half[cell]
    for a in range(center.shape[1]):
        center[child, a] = center[cell, a] + (half[child] if (q >> a) & 1 else -half[child])
    return child


@njit(cache=True)
def _build_tree(Y, order):
    """Insert the points one by one in ``order``; a leaf holds one point, or several identical ones (or
    points closer than 2^-60 of the box). Returns the cell arrays, centres of mass divided out."""
    n, dim = Y.shape
    cap = 2 * n + 4 * _MAX_DEPTH
    children = -np.ones((cap, 1 << dim), dtype=np.int64)
    count = np.zeros(cap, dtype=np.int64)
    com = np.zeros((cap, dim))  # sums while building
    center = np.zeros((cap, dim))
    half = np.zeros(cap)
    is_leaf = np.ones(cap, dtype=np.bool_)
    leaf_point = -np.ones(cap, dtype=np.int64)
    h = 0.0
    for a in range(dim):
        lo, hi = Y[:, a].min(), Y[:, a].max()
        center[0, a] = 0.5 * (lo + hi)
        h = max(h, 0.5 * (hi - lo))
    half[0] = h * (1.0 + 1e-6) + 1e-12
    n_cells = 1
    for i in order:
        if n_cells + 2 * _MAX_DEPTH + 2 > len(count):  # room for the deepest possible insertion
            children, count, com, center, half, is_leaf, leaf_point = _grow(
                children, count, com, center, half, is_leaf, leaf_point)
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
                    child = _open_child(cell, _quadrant(Y[j], center[cell]), n_cells, children, center, half)
                    n_cells += 1
                    com[child] = com[cell]
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
            q = _quadrant(Y[i], center[cell])
            child = children[cell, q]
            if child < 0:
                child = _open_child(cell, q, n_cells, children, center, half)
                n_cells += 1
            cell = child
            depth += 1
    for c in range(n_cells):
        for a in range(dim):
            com[c, a] /= count[c]
    return children[:n_cells], count[:n_cells], com[:n_cells], center[:n_cells], half[:n_cells], is_leaf[:n_cells]


@njit(cache=True)
def _pack(count, com, half, is_leaf):
    """One row per cell: centre of mass, number of points, then the squared side for an
    internal cell or -1 for a leaf, so that a visit reads one cache line."""
    n_cells, dim = com.shape
    node = np.empty((n_cells, dim + 2))
    for c in range(n_cells):
        for a in range(dim):
            node[c, a] = com[c, a]
        node[c, dim] = count[c]
        node[c, dim + 1] = -1.0 if is_leaf[c] else 4.0 * half[c] * half[c]
    return node


@njit(parallel=True, cache=True)
def _repulsion(Y, order, children, node, center, angle, alpha, repulse, row_z):
    n, dim = Y.shape
    nchild = children.shape[1]
    expo = (alpha + 1.0) / 2.0
    theta2 = angle * angle
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        stack = np.empty(_MAX_DEPTH * nchild + 8, dtype=np.int64)
        force = np.empty(dim)
        for k in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            i = order[k]  # neighbouring points in turn: their traversals share cells in cache
            own = 0  # the leaf holding i: follow the quadrants down
            while node[own, dim + 1] >= 0:
                own = children[own, _quadrant(Y[i], center[own])]
            top = 1
            stack[0] = 0
            z = 0.0
            force[:] = 0.0
            while top > 0:
                top -= 1
                c = stack[top]
                d2 = 0.0
                for a in range(dim):
                    t = Y[i, a] - node[c, a]
                    d2 += t * t
                side2 = node[c, dim + 1]
                m = node[c, dim]
                if side2 < 0:  # a leaf
                    if c == own:
                        m -= 1.0
                        if m == 0.0:
                            continue
                elif side2 >= theta2 * d2:  # too close to summarise: open it
                    for q in range(nchild):
                        if children[c, q] >= 0:
                            stack[top] = children[c, q]
                            top += 1
                    continue
                b = 1.0 / (1.0 + d2 / alpha)
                w = b if alpha == 1.0 else b ** expo
                z += m * w
                for a in range(dim):
                    force[a] += m * w * b * (Y[i, a] - node[c, a])
            for a in range(dim):
                repulse[i, a] = force[a]
            row_z[i] = z


def kl_divergence_bh(P, Y, angle=0.5, dof=1.0, compute_error=True):
    """Barnes-Hut estimate of KL(P || Q) and its gradient, O(n log n).

    Parameters
    ----------
    P : SparseAffinities (n x n, symmetric), e.g. from ``joint_probabilities_nn``
    Y : (n, 2) or (n, 3) embedding
    angle : the trade-off theta; 0 gives the exact gradient for this P
    dof : alpha, the Student-t degrees of freedom

    Returns
    -------
    kl : float, sum_ij p_ij log(p_ij / q_ij) over the non-zeros of P with Z from the tree
         (NaN when ``compute_error`` is False)
    grad : (n, n_components) float64
    """
    Y = check_embedding(Y, P.n)
    if Y.shape[1] not in (2, 3):
        raise ValueError(f"Y: Barnes-Hut needs 2 or 3 components, got {Y.shape[1]}")
    if not angle >= 0:
        raise ValueError(f"angle: expected a value >= 0, got {angle}")
    order = np.argsort(_morton_keys(Y), kind="stable")
    children, count, com, center, half, is_leaf = _build_tree(Y, order)
    repulse, attract = np.empty_like(Y), np.empty_like(Y)
    row_z = np.empty(len(Y))
    _repulsion(Y, order, children, _pack(count, com, half, is_leaf), center, float(angle), float(dof),
               repulse, row_z)
    sparse_attraction(P.indptr, P.indices, P.data, Y, float(dof), attract)
    z = max(row_z.sum(), MACHINE_EPSILON)
    grad = (2.0 * (dof + 1.0) / dof) * (attract - repulse / z)
    kl = np.nan
    if compute_error:
        rows = np.empty(len(Y))
        sparse_kl_rows(P.indptr, P.indices, P.data, Y, float(dof), z, rows)
        kl = float(rows.sum())
    return kl, grad
