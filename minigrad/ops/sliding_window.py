"""The arithmetic shared by every sliding-window op (convolution, pooling, occlusion): sizes
given as an int or a pair, and the output size Ho = (H + 2 p - k) // s + 1 (PyTorch's)."""
import numpy as np


def pair(value, name, minimum):
    """An int or a pair of ints -> a pair of ints >= minimum, else a ValueError naming ``name``."""
    v = (value, value) if np.isscalar(value) else tuple(value)
    if len(v) != 2 or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in v):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(v) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return int(v[0]), int(v[1])


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
