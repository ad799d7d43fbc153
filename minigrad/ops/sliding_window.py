"""The arithmetic shared by every sliding-window op (convolution, pooling, occlusion): sizes
given as an int or a pair, and the output size Ho = (H + 2 p - d (k - 1) - 1) // s + 1 (PyTorch's;
dilation d spaces the kernel's taps, d = 1 is the ordinary window)."""
from minigrad.argument_checks import size_pair


def pair(value, name, minimum):
    """An int or a pair of ints -> a pair of ints >= minimum, else an error naming ``name``."""
    return size_pair(value, name, minimum)


def output_size(in_hw, kernel, stride, padding, what, dilation=(1, 1), ceil_mode=False):
    """(Ho, Wo) of a sliding window, with a ValueError when the kernel exceeds the padded input.

    ``ceil_mode`` (pooling) rounds up, keeping a last partial window only if it starts inside the
    input or its left padding (PyTorch's rule)."""
    (H, W), (kh, kw), (ph, pw), (dh, dw) = in_hw, kernel, padding, dilation
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    if spans[0] > H + 2 * ph or spans[1] > W + 2 * pw:
        dilated = f" (dilation {dh}x{dw}: spans {spans[0]}x{spans[1]})" if (dh, dw) != (1, 1) else ""
        raise ValueError(f"{what}: kernel {kh}x{kw}{dilated} is larger than the padded input "
                         f"{H + 2 * ph}x{W + 2 * pw} (input {H}x{W}, padding {ph}x{pw})")
    sizes = []
    for n, span, s, p in zip(in_hw, spans, stride, padding):
        out = -(-(n + 2 * p - span) // s) + 1 if ceil_mode else (n + 2 * p - span) // s + 1
        sizes.append(out - 1 if ceil_mode and (out - 1) * s >= n + p else out)
    return tuple(sizes)


def check_4d(x, what):
    """A ValueError unless ``x`` is (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{what}: expected input of shape (N, C, H, W), got shape {x.shape}")
