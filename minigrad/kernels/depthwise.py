"""Depthwise convolution (``groups == in_channels``): each input channel is filtered on its own.

MobileNetV2's depthwise 3x3 layers have one input channel per group, so the im2col + GEMM path
would run one tiny (m, 9) @ (9, N*Ho*Wo) product per channel, hundreds per layer. Here each
output plane is a direct sum over the kernel's taps instead:

    out[n, o, oh, ow] = sum_{i,j} w[o, 0, i, j] xp[n, o // m, oh*sh + i*dh, ow*sw + j*dw]

with m = out_channels / in_channels filters per channel and xp the input framed by its zero
padding. Each task first writes its input plane, framed, into its own buffer, split into the
sh x sw stride phases (``_plane_phases``; one phase at stride 1), each phase a flat row-major
array Wph = ceil(Wp / sw) wide. Tap (i, j) of every output then reads one phase at one offset
(``_tap_start``), so a tap is a single contiguous multiply-add over the whole output plane laid
Wph wide (the columns past Wo are computed and dropped): one loop of Ho * Wph per tap instead of
Ho loops of Wo, whose set-up cost more than their work on 7x7 and 14x14 maps, and no zero-padded
copy of the whole input (7% of MobileNetV2's forward pass). The input gradient adds each tap's
weight times g into the phases the same way (taps in reverse row order, so every dx entry adds
its terms in the order the loops over output rows did; g is 0 in the dropped columns, so only
a weight of inf or NaN makes them matter: 0 * inf = NaN is then added where they land) and
joins them into dx; the weight
gradient takes each tap's dot product of g with its shifted phase, over the batch in order, in
float64. A block of up to 16 (n, c) planes per parallel task for the forward pass and the input
gradient (sharing one buffer; each plane writes only its own output), one filter per task for the
weight gradient, so the result does not depend on the thread count, and every sum adds its terms
in the same order as the loops before this layout (the same bits, checked on 1,092 shapes when it
was written). Tested against the grouped im2col path (tests/test_real_network_layers.py).
"""
import numpy as np
from numba import njit, prange

from minigrad.kernels.parallel_launch import parallel_kernel


@njit(inline="always")
def _plane_phases(plane, sh, sw, ph, pw, Wph, planes):
    """Write plane (H, W), framed by (ph, pw) zeros, into its sh*sw stride phases: padded pixel
    (hp, wp) goes to planes[(hp % sh) sw + wp % sw, (hp // sh) Wph + wp // sw]. ``planes`` is zero
    where no pixel lands (the frame, and a row of slack at the end)."""
    H, W = plane.shape
    for r in range(H):
        hp = r + ph
        for b in range(sw):
            col = (b - pw) % sw  # the first input column whose padded column is b mod sw
            dst = planes[(hp % sh) * sw + b, (hp // sh) * Wph + (col + pw) // sw:]
            src = plane[r, col:]
            if sw == 1:
                for k in range(W - col):
                    dst[k] = src[k]
            else:
                for k in range((W - col + sw - 1) // sw):
                    dst[k] = src[k * sw]


@njit(inline="always")
def _tap_start(i, j, sh, sw, dh, dw, Wph):
    """(phase, offset): output (oh, ow) of tap (i, j) reads planes[phase, offset + oh Wph + ow]."""
    return ((i * dh) % sh) * sw + (j * dw) % sw, ((i * dh) // sh) * Wph + (j * dw) // sw


@njit(inline="always")
def _add_scaled(dst, v, src, count):
    """dst[:count] += v src[:count]: one tap over a whole output plane (1-D views indexed from 0, so
    the loop vectorises)."""
    for q in range(count):
        dst[q] += v * src[q]


@njit(inline="always")
def _per_block(tasks):
    """Planes per parallel task: up to 16, so that small planes share one buffer's allocation and
    zeroing, but at least 8 tasks where there are 8 planes (the block is fixed by the shape: each
    plane is computed the same way whatever its block, so the bits do not depend on it)."""
    return max(1, min(16, tasks // 8))


@parallel_kernel()
def _forward(x, w, m, sh, sw, ph, pw, dh, dw, out):
    N, C, H, W = x.shape
    Hph, Wph = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)
    tasks, per_block = N * C, _per_block(N * C)
    for block in prange(-(-tasks // per_block)):
        planes = np.zeros((sh * sw, (Hph + 1) * Wph), x.dtype)  # the frame and slack stay 0
        acc = np.empty(out.shape[2] * Wph, out.dtype)
        for t in range(block * per_block, min(tasks, (block + 1) * per_block)):
            _plane_phases(x[t // C, t % C], sh, sw, ph, pw, Wph, planes)
            _forward_plane(w, m, t // C, t % C, sh, sw, dh, dw, Wph, planes, acc, out)


@njit(inline="always")
def _forward_plane(w, m, n, c, sh, sw, dh, dw, Wph, planes, acc, out):
    """The m output planes of input plane (n, c), from its phases."""
    Ho, Wo = out.shape[2], out.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    for k in range(m):
        o = c * m + k
        acc[:] = 0
        for i in range(kh):
            for j in range(kw):
                v = w[o, 0, i, j]
                phase, start = _tap_start(i, j, sh, sw, dh, dw, Wph)
                _add_scaled(acc, v, planes[phase, start:], Ho * Wph)
        for oh in range(Ho):
            out[n, o, oh, :] = acc[oh * Wph:oh * Wph + Wo]


@parallel_kernel()
def _input_grad(g, w, m, sh, sw, ph, pw, dh, dw, dx):
    N, C, H, W = dx.shape
    Hph, Wph = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)
    tasks, per_block = N * C, _per_block(N * C)
    for block in prange(-(-tasks // per_block)):
        planes = np.empty((sh * sw, (Hph + 1) * Wph), dx.dtype)
        rows = np.zeros(g.shape[2] * Wph, g.dtype)  # g's rows Wph apart; the columns past Wo stay 0
        for t in range(block * per_block, min(tasks, (block + 1) * per_block)):
            planes[:] = 0
            _input_grad_plane(g, w, m, t // C, t % C, sh, sw, ph, pw, dh, dw, Wph, planes, rows, dx)


@njit(inline="always")
def _input_grad_plane(g, w, m, n, c, sh, sw, ph, pw, dh, dw, Wph, planes, rows, dx):
    """dx[n, c] from the m output planes that read it (no other plane writes there)."""
    H, W = dx.shape[2], dx.shape[3]
    Ho, Wo = g.shape[2], g.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    for k in range(m):
        o = c * m + k
        for oh in range(Ho):
            rows[oh * Wph:oh * Wph + Wo] = g[n, o, oh]
        # taps in reverse row order, so that each dx entry adds its terms by increasing oh, then j,
        # as the loops over output rows did
        for i in range(kh - 1, -1, -1):
            for j in range(kw):
                v = w[o, 0, i, j]
                phase, start = _tap_start(i, j, sh, sw, dh, dw, Wph)
                _add_scaled(planes[phase, start:], v, rows, Ho * Wph)
    for r in range(H):
        hp = r + ph
        for b in range(sw):
            col = (b - pw) % sw
            src = planes[(hp % sh) * sw + b, (hp // sh) * Wph + (col + pw) // sw:]
            dst = dx[n, c, r, col:]
            if sw == 1:
                for q in range(W - col):
                    dst[q] = src[q]
            else:
                for q in range((W - col + sw - 1) // sw):
                    dst[q * sw] = src[q]


@parallel_kernel()
def _weight_grad(g, x, m, sh, sw, ph, pw, dh, dw, gw):
    N, C, H, W = x.shape
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    kh, kw = gw.shape[2], gw.shape[3]
    Hph, Wph = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)
    L = Ho * Wph
    for o in prange(O):
        c = o // m
        planes = np.zeros((sh * sw, (Hph + 1) * Wph), x.dtype)
        rows = np.zeros(L, g.dtype)
        sums = np.zeros((kh, kw))  # each tap's sum runs over n, oh, ow in that order, in float64
        for n in range(N):
            _plane_phases(x[n, c], sh, sw, ph, pw, Wph, planes)
            for oh in range(Ho):
                rows[oh * Wph:oh * Wph + Wo] = g[n, o, oh]
            for i in range(kh):
                for j in range(kw):
                    phase, start = _tap_start(i, j, sh, sw, dh, dw, Wph)
                    src = planes[phase, start:]
                    s = sums[i, j]
                    # row by row, leaving out the dropped columns: their 0 * x would turn an
                    # infinite input into NaN in entries the loops over outputs leave infinite
                    for oh in range(Ho):
                        g_row, x_row = rows[oh * Wph:], src[oh * Wph:]
                        for ow in range(Wo):
                            s += g_row[ow] * x_row[ow]
                    sums[i, j] = s
        for i in range(kh):
            for j in range(kw):
                gw[o, 0, i, j] = sums[i, j]


def forward(x, w, b, stride, padding, dilation, size):
    """x (N, C, H, W), w (C*m, 1, kh, kw), b (C*m,) or None -> out (N, C*m, Ho, Wo)."""
    out = np.empty((x.shape[0], w.shape[0]) + tuple(size), x.dtype)
    _forward(np.ascontiguousarray(x), np.ascontiguousarray(w), w.shape[0] // x.shape[1], *stride, *padding,
             *dilation, out)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def input_grad(g, x_shape, w, stride, padding, dilation):
    """dL/dx (N, C, H, W) from g (N, C*m, Ho, Wo): each tap's weight times g, added back where it read."""
    dx = np.empty(x_shape, g.dtype)
    _input_grad(np.ascontiguousarray(g), np.ascontiguousarray(w), w.shape[0] // x_shape[1], *stride, *padding,
                *dilation, dx)
    return dx


def weight_grad(g, x, w_shape, stride, padding, dilation):
    """dL/dw (C*m, 1, kh, kw) from g (N, C*m, Ho, Wo) and the input x (N, C, H, W)."""
    gw = np.empty(w_shape, g.dtype)
    _weight_grad(np.ascontiguousarray(g), np.ascontiguousarray(x), w_shape[0] // x.shape[1], *stride, *padding,
                 *dilation, gw)
    return gw
