"""3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016).

Each 4x4 block of outputs is read from a 6x6 tile d of the (padded) input (tiles overlap by 2);
with the 3x3 filter g (Lavin & Gray eq. 8, matrices from their section 4.2),

    Y = A^T [ (G g G^T) (*) (B^T d B) ] A        ((*): elementwise)

    B^T = [4  0 -5  0  1  0]    G = [ 1/4     0     0 ]    A^T = [1  1  1  1  1  0]
          [0 -4 -4  1  1  0]        [-1/6  -1/6  -1/6 ]          [0  1 -1  2 -2  0]
          [0  4 -4 -1  1  0]        [-1/6   1/6  -1/6 ]          [0  1  1  4  4  0]
          [0 -2 -1  2  1  0]        [1/24  1/12   1/6 ]          [0  1 -1  8 -8  1]
          [0  2 -1 -2  1  0]        [1/24 -1/12   1/6 ]
          [0  4  0 -5  0  1]        [  0     0     1  ]

Summed over input channels, the elementwise product becomes 36 independent GEMMs, one per
position (i, j) of the transformed tile: M[ij] (T, O) = V[ij] (T, C) @ U[ij] (C, O), with
V = B^T d B for every (tile, c), U = G g G^T for every (c, o), T = the tiles of a batch chunk.
That is 36 multiply-adds per 16 outputs per (c, o) where im2col spends 144: 4x fewer. The
transforms are the price: V is 2.25x the input and M 2.25x the output, against im2col's 9x.

Channels last inside (V and M are (36, T, C) and (36, T, O)): every transform step is a loop
over a contiguous block of channels, so it vectorises at any map size (at 16x16 a row holds only
4 tiles), and V[ij] (T, C) @ U[ij] is faster than U^T V^T, the (C, T) orientation. The input is moved to channels last one row of tiles at a time, inside the transform,
and the output back likewise: no whole-batch layout copies.

Accuracy: float64 agrees with im2col to ~1e-14 of the largest output, float32 to a few 1e-6,
within the 1e-5 every kernel path is tested to (docs/performance.md has the measurements).

The input gradient of a 3x3 stride-1 convolution is the same kind of convolution (of g with the
filters transposed over (O, C) and flipped, padding 2 - p), so it takes this path too. Which
shapes do is decided in ``conv.py``; ``reference.py``'s loops are what every path is tested against.
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels import gemm
from minigrad.kernels.parallel_launch import parallel_kernel
from minigrad.kernels.scratch import scratch

_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
_GG = np.kron(_G, _G)  # (36, 9): G g G^T of a 3x3 filter g, flattened, is _GG @ g.ravel()


@njit(cache=True, inline="always")
def _bt(d0, d1, d2, d3, d4, d5, k):
    """B^T (d0, ..., d5). k holds the constants (2, 4, 5) in the data's dtype (Numba would compute
    float32 * 4 in float64)."""
    two, four, five = k[0], k[1], k[2]
    return (four * d0 - five * d2 + d4, d3 + d4 - four * (d1 + d2), four * (d1 - d2) + d4 - d3,
            two * (d3 - d1) + d4 - d2, two * (d1 - d3) + d4 - d2, four * d1 - five * d3 + d5)


@njit(cache=True, inline="always")
def _at(m0, m1, m2, m3, m4, m5, k):
    """A^T (m0, ..., m5); k holds the constants (2, 4, 8) in the data's dtype."""
    return (m0 + m1 + m2 + m3 + m4, m1 - m2 + k[0] * (m3 - m4), m1 + m2 + k[1] * (m3 + m4),
            m1 - m2 + k[2] * (m3 - m4) + m5)


@parallel_kernel()
def _input_tiles(x, ph, pw, th, tw, v):
    """v (36, N*th*tw, C) = B^T d B for every 6x6 tile d (step 4) of x (N, C, H, W) framed by zeros
    (ph rows above, pw columns left, as many below and right as whole tiles need).

    One row of tiles per task, channels last so that every loop runs over a contiguous block:
    the tile row's 6 image rows are copied to d (6, Wp, C); B^T combines them into e (6, Wp, C)
    (whole rows at once); B along each e_i gives the 36 planes, each a contiguous (tw, C) block."""
    N, C, H, W = x.shape
    Wp = 4 * tw + 2
    k = np.array([2, 4, 5], x.dtype)
    for task in prange(N * th):
        n = task // th
        r = task % th
        d = np.zeros((6, Wp, C), x.dtype)
        for i in range(6):
            h = 4 * r + i - ph
            if 0 <= h < H:
                for c in range(C):
                    row = x[n, c, h]
                    for w in range(W):
                        d[i, pw + w, c] = row[w]
        e = np.empty((6, Wp * C), x.dtype)
        d0, d1, d2, d3, d4, d5 = (d[0].reshape(-1), d[1].reshape(-1), d[2].reshape(-1), d[3].reshape(-1),
                                  d[4].reshape(-1), d[5].reshape(-1))
        e0, e1, e2, e3, e4, e5 = e[0], e[1], e[2], e[3], e[4], e[5]
        for q in range(Wp * C):
            e0[q], e1[q], e2[q], e3[q], e4[q], e5[q] = _bt(d0[q], d1[q], d2[q], d3[q], d4[q], d5[q], k)
        for i in range(6):
            ei = e[i].reshape(Wp, C)
            for b in range(tw):
                t = task * tw + b
                f0, f1, f2, f3, f4, f5 = ei[4 * b], ei[4 * b + 1], ei[4 * b + 2], ei[4 * b + 3], ei[4 * b + 4], \
                    ei[4 * b + 5]
                v0, v1, v2, v3, v4, v5 = (v[6 * i, t], v[6 * i + 1, t], v[6 * i + 2, t], v[6 * i + 3, t],
                                          v[6 * i + 4, t], v[6 * i + 5, t])
                for c in range(C):
                    v0[c], v1[c], v2[c], v3[c], v4[c], v5[c] = _bt(f0[c], f1[c], f2[c], f3[c], f4[c], f5[c], k)


@parallel_kernel()
def _output_tiles(mt, th, tw, bias, out):
    """out (N, O, Ho, Wo) = A^T M A + bias for every tile, from mt (36, N*th*tw, O).

    One row of tiles per task: A^T down the 6x6 positions gives z (4, 6, tw*O), each a whole
    contiguous block at once; A along z's rows gives each of the tile row's 4 output rows as
    y (4 tw, O), which is written out channels first."""
    N, O, Ho, Wo = out.shape
    k = np.array([2, 4, 8], mt.dtype)
    for task in prange(N * th):
        n = task // th
        r = task % th
        block = slice(task * tw, (task + 1) * tw)
        z = np.empty((4, 6, tw * O), mt.dtype)
        for j in range(6):
            m0, m1, m2 = mt[j, block].reshape(-1), mt[6 + j, block].reshape(-1), mt[12 + j, block].reshape(-1)
            m3, m4, m5 = mt[18 + j, block].reshape(-1), mt[24 + j, block].reshape(-1), mt[30 + j, block].reshape(-1)
            z0, z1, z2, z3 = z[0, j], z[1, j], z[2, j], z[3, j]
            for q in range(tw * O):
                z0[q], z1[q], z2[q], z3[q] = _at(m0[q], m1[q], m2[q], m3[q], m4[q], m5[q], k)
        y = np.empty((4 * tw, O), mt.dtype)
        for p in range(min(4, Ho - 4 * r)):
            zp = z[p].reshape(6, tw, O)
            for b in range(tw):
                g0, g1, g2, g3, g4, g5 = zp[0, b], zp[1, b], zp[2, b], zp[3, b], zp[4, b], zp[5, b]
                y0, y1, y2, y3 = y[4 * b], y[4 * b + 1], y[4 * b + 2], y[4 * b + 3]
                for o in range(O):
                    y0[o], y1[o], y2[o], y3[o] = _at(g0[o], g1[o], g2[o], g3[o], g4[o], g5[o], k)
            for o in range(O):
                row = out[n, o, 4 * r + p]
                bo = bias[o]
                for w in range(Wo):
                    row[w] = y[w, o] + bo


def filter_transform(w):
    """U (36, C, O) = G g G^T for every 3x3 filter g of w (O, C, 3, 3), in w's dtype: one GEMM
    (G (x) G) (36, 9) @ (9, O*C). U is returned as a view of the (36, O, C) result, which BLAS
    reads transposed in place (a contiguous copy cost as much as the GEMM)."""
    O, C = w.shape[:2]
    u = gemm.matmul(_GG.astype(w.dtype, copy=False), w.reshape(O * C, 9).T)
    return u.reshape(36, O, C).transpose(0, 2, 1)


def conv3x3(x, u, bias, padding, size, out, tiles_per_gemm):
    """out (N, O, Ho, Wo) = the 3x3 stride-1 convolution of x (N, C, H, W) with padding (ph, pw),
    from the transformed filters u (36, C, O) (``filter_transform``), plus bias (O,) if not None,
    by F(4x4, 3x3). The batch is taken in chunks of about ``tiles_per_gemm`` tiles (at least one
    sample)."""
    N, C = x.shape[:2]
    O = u.shape[2]
    (Ho, Wo), (ph, pw) = size, padding
    th, tw = -(-Ho // 4), -(-Wo // 4)
    bias = np.zeros(O, x.dtype) if bias is None else bias.astype(x.dtype, copy=False)
    x = np.ascontiguousarray(x)
    step = max(1, tiles_per_gemm // (th * tw))
    for n in range(0, N, step):  # each chunk's temporaries stay in the cache from step to step
        s = slice(n, min(N, n + step))
        v = scratch((36, (s.stop - s.start) * th * tw, C), x.dtype, slot=0)
        _input_tiles(x[s], ph, pw, th, tw, v)
        mt = gemm.matmul(v, u, out=scratch(v.shape[:2] + (O,), x.dtype, slot=1))
        _output_tiles(mt, th, tw, bias, out[s])
    return out
