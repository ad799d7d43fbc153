"""The arithmetic shared by every sliding-window op (convolution, pooling, occlusion): sizes
given as an int or a pair, and the output size Ho = (H + 2 p - k) // s + 1 (PyTorch's)."""
from minigrad.argument_checks import size_pair


def pair(value, name, minimum):
    """An int or a pair of ints -> a pair of ints >= minimum, else an error naming ``name``."""
    return size_pair(value, name, minimum)


def output_size(in_hw, kernel, stride, padding, what):
    """(Ho, Wo) of a sliding window, with a ValueError when the kernel exceeds the padded input."""
    H, W = in_hw
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(f"{what}: kernel {kh}x{kw} is larger than the padded input "
                         f"{H + 2 * ph}x{W + 2 * pw} (input {H}x{W}, padding {ph}x{pw})")
    return (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def check_4d(x, what):
    """A ValueError unless ``x`` is (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{what}: expected input of shape (N, C, H, W), got shape {x.shape}")
