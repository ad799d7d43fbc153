"""Depthwise convolution (``groups == in_channels``): each input channel is filtered on its own.

MobileNetV2's depthwise 3x3 layers have one input channel per group, so the im2col + GEMM path
would run one tiny (m, 9) @ (9, N*Ho*Wo) product per channel, hundreds per layer. Here each
output plane is a direct sum over the kernel's taps instead, on the zero-padded input:

    out[n, o, oh, ow] = sum_{i,j} w[o, 0, i, j] xp[n, o // m, oh*sh + i*dh, ow*sw + j*dw]

with m = out_channels / in_channels filters per channel. The loops run over output columns
innermost, so with stride 1 they read contiguous rows and vectorise. One (n, o) plane per
parallel task for the forward pass and the input gradient (each task writes only its own plane
of dx), one filter per task for the weight gradient (summed over the batch in order), so the
result does not depend on the thread count. Tested against the grouped im2col path
(tests/test_kernels.py).
"""
import numpy as np
from numba import prange

from minigrad.kernels.im2col import zero_pad
from minigrad.kernels.parallel_launch import parallel_kernel


@parallel_kernel()
def _forward(xp, w, m, sh, sw, dh, dw, out):
    N, O, Ho, Wo = out.shape
    kh, kw = w.shape[2], w.shape[3]
    for t in prange(N * O):
        n = t // O
        o = t % O
        c = o // m
        Wp = xp.shape[3]
        row = np.empty(Wo, out.dtype)  # a row's sums, local, so the compiler need not fear aliasing
        # with stride s > 1, an input row split into its s phases (phase p holds columns p, p + s,
        # ...): tap q = j dw of output ow reads phase q % s at ow + q // s, a stride-1 loop again
        phases = np.empty((sw, -(-Wp // sw)), out.dtype)
        for oh in range(Ho):
            row[:] = 0
            for i in range(kh):
                h = oh * sh + i * dh
                if sw > 1:
                    for p in range(sw):
                        src = xp[n, c, h, p:]
                        dst = phases[p]
                        for k in range((Wp - p + sw - 1) // sw):
                            dst[k] = src[k * sw]
                for j in range(kw):
                    v = w[o, 0, i, j]
                    # 1-D views indexed from 0: Numba drops its negative-index test, and with a
                    # literal stride of 1 the loop vectorises (a runtime stride of 1 does not)
                    if sw == 1:
                        src = xp[n, c, h, j * dw:]
                    else:
                        src = phases[(j * dw) % sw, (j * dw) // sw:]
                    for ow in range(Wo):
                        row[ow] += v * src[ow]
            out[n, o, oh, :] = row


@parallel_kernel()
def _input_grad(g, w, m, sh, sw, dh, dw, dxp):
    # one input plane per task: it gathers the m output planes that read it, so no two tasks write
    # the same element
    N, C = dxp.shape[:2]
    Ho, Wo = g.shape[2], g.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    for t in prange(N * C):
        n = t // C
        c = t % C
        dxp[n, c] = 0
        for k in range(m):
            o = c * m + k
            for oh in range(Ho):
                src = g[n, o, oh]
                for i in range(kh):
                    for j in range(kw):
                        v = w[o, 0, i, j]
                        dst = dxp[n, c, oh * sh + i * dh, j * dw:]
                        if sw == 1:
                            for ow in range(Wo):
                                dst[ow] += v * src[ow]
                        else:
                            for ow in range(Wo):
                                dst[ow * sw] += v * src[ow]


@parallel_kernel()
def _weight_grad(g, xp, m, sh, sw, dh, dw, gw):
    N, O, Ho, Wo = g.shape
    kh, kw = gw.shape[2], gw.shape[3]
    for o in prange(O):
        c = o // m
        for i in range(kh):
            for j in range(kw):
                s = 0.0
                for n in range(N):
                    for oh in range(Ho):
                        h = oh * sh + i * dh
                        for ow in range(Wo):
                            s += g[n, o, oh, ow] * xp[n, c, h, ow * sw + j * dw]
                gw[o, 0, i, j] = s


def forward(x, w, b, stride, padding, dilation, size):
    """x (N, C, H, W), w (C*m, 1, kh, kw), b (C*m,) or None -> out (N, C*m, Ho, Wo)."""
    out = np.empty((x.shape[0], w.shape[0]) + tuple(size), x.dtype)
    _forward(zero_pad(x, padding), np.ascontiguousarray(w), w.shape[0] // x.shape[1], *stride, *dilation, out)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def input_grad(g, x_shape, w, stride, padding, dilation):
    """dL/dx (N, C, H, W) from g (N, C*m, Ho, Wo): each tap's weight times g, added back where it read."""
    (ph, pw), (N, C, H, W) = padding, x_shape
    dxp = np.empty((N, C, H + 2 * ph, W + 2 * pw), g.dtype)
    _input_grad(np.ascontiguousarray(g), np.ascontiguousarray(w), w.shape[0] // C, *stride, *dilation, dxp)
    return np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W])


def weight_grad(g, x, w_shape, stride, padding, dilation):
    """dL/dw (C*m, 1, kh, kw) from g (N, C*m, Ho, Wo) and the input x (N, C, H, W)."""
    gw = np.empty(w_shape, g.dtype)
    _weight_grad(np.ascontiguousarray(g), zero_pad(x, padding), w_shape[0] // x.shape[1], *stride, *dilation, gw)
    return gw
