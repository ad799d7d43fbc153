"""The fast code behind the ops: Numba kernels, kernel choice per shape, process settings.

Nothing here knows about tensors or graphs: each function takes and returns NumPy arrays, and
the ops in ``minigrad/ops`` call them. Read the ops first; come here for how they are fast.

    process_settings  OpenBLAS, glibc and Numba settings made once on import (read it first:
                      it must run before NumPy loads)
    reference         convolution and pooling as plain loops, written to be read: start here
    choice            ``minigrad.kernels(...)``: the scoped choice of reference or fast kernels
    conv              which path a convolution takes (im2col + GEMM layouts, or Winograd)
    im2col            patches <-> columns (the plainest fast convolution path)
    pool              max and average pooling
    relu              ReLU and its backward as single parallel passes
    channel_affine    x * scale[c] + shift[c]: batch normalisation in eval mode, one parallel pass
    scatter_add       np.add.at for fancy indexing's gradient, as one compiled loop
    scratch           reusable buffers (one per slot) for large temporaries
    depthwise         direct loops for depthwise convolutions (one input channel per group)
    few_filters       direct loops for convolutions with few output channels
    weight_gradient   a convolution's weight gradient when it is small (few filters, small kernel)
    winograd          3x3 stride-1 convolutions by Winograd's F(4x4, 3x3)
"""
import sys
import types


class _CallableModule(types.ModuleType):
    """This package, callable: ``minigrad.kernels("reference")`` is ``choice.kernels("reference")``,
    the scoped choice of kernels for a ``with`` block, while ``minigrad.kernels.conv`` and every
    ``import minigrad.kernels.<module>`` stay the modules they are."""

    def __call__(self, path=None, **forced):
        return self.choice.kernels(path, **forced)  # the submodule, imported by the ops before any call


sys.modules[__name__].__class__ = _CallableModule
