"""2-D convolution as a single op, so that a backward rule acts on a whole layer.

The kernel work (im2col + GEMM, the layout chosen per shape) is in ``minigrad/kernels/conv.py``; inside
``minigrad.kernels("reference")`` the readable loops of ``minigrad/kernels/reference.py`` run instead.
"""
from minigrad.argument_checks import integer
from minigrad.graph import Op
from minigrad.kernels import conv as fast, reference
from minigrad.kernels.choice import current
from minigrad.ops.sliding_window import check_4d, output_size, pair
from minigrad.tensor import as_tensor


class Conv2d(Op):
    name = "conv2d"
    backward_reads_output = False

    def forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        ctx.size = output_size(x.shape[2:], w.shape[2:], stride, padding, "conv2d", dilation)
        run = reference.conv2d_forward if current().reference else fast.forward
        return run(x, w, b, stride, padding, ctx.size, dilation, groups)

    def backward(ctx, g):
        x, w = ctx.arrays[:2]
        need, has_bias = ctx.needs_input_grad, len(ctx.arrays) == 3
        ref = current().reference
        parameter_grads = reference.conv2d_parameter_grads if ref else fast.parameter_grads
        gw, gb = parameter_grads(g, x, w.shape, has_bias, need[1], has_bias and need[2], **ctx.kwargs, size=ctx.size)
        input_grad = reference.conv2d_input_grad if ref else fast.input_grad
        gx = input_grad(g, x.shape, w, **ctx.kwargs, size=ctx.size) if need[0] else None
        return (gx, gw, gb) if has_bias else (gx, gw)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o] = sum_c x[n, c] (cross-correlated with) weight[o, c] + bias[o].

    x (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,) or None -> (N, O, Ho, Wo) with
    Ho = (H + 2 ph - dh (kh - 1) - 1) // sh + 1. ``dilation`` spaces the kernel's taps;
    ``groups`` splits the channels into groups convolved separately (output group g sees only
    input group g; groups = C is a depthwise convolution). Backward: dx = the transposed
    convolution of g with the weight (col2im of W^T g), dW = sum_n g_n cols_n^T, db = sum of g
    over (N, Ho, Wo), each per group.
    """
    x, weight = as_tensor(x, "conv2d: argument x"), as_tensor(weight, "conv2d: argument weight")
    check_4d(x, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (O, C / groups, kh, kw), got shape {weight.shape}")
    groups = integer(groups, "groups", 1)
    if x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels and weight {weight.shape} with groups={groups}; "
                         f"expected C = weight.shape[1] * groups and O divisible by groups")
    kw = dict(stride=pair(stride, "stride", 1), padding=pair(padding, "padding", 0),
              dilation=pair(dilation, "dilation", 1), groups=groups)
    args = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*args, **kw)
