"""The inverse real 2-D FFT as an op: the Fourier image parameterisation (Olah et al. 2017)."""
import numpy as np

from minigrad.graph import Op


class IRFFT2(Op):
    name = "irfft2"

    def forward(ctx, re, im, size):
        return np.fft.irfft2(re + 1j * im, s=size).astype(re.dtype)

    def backward(ctx, g):
        # irfft2 = (irfft over the last axis) o (ifft over the one before), both linear: the adjoint
        # is fft o rfft with the same 1/(H W) scale, and the last axis's columns that stand for a
        # Hermitian pair (1 <= k < W/2) count twice
        H, W = ctx.kwargs["size"]
        G = np.fft.rfft2(g) / (H * W)
        G[..., 1:(W + 1) // 2] *= 2
        return G.real.astype(g.dtype), G.imag.astype(g.dtype)


def irfft2(re, im, size):
    """The real image y (..., H, W) whose 2-D spectrum is re + i im (..., H, W // 2 + 1):
    ``np.fft.irfft2(re + 1j * im, s=size)``. Backward: (Re, Im) of rfft2(g) c_k / (H W), with
    c_k = 2 on the columns 1 <= k < W/2 that irfft counts twice, else 1."""
    return IRFFT2.apply(re, im, size=tuple(size))
