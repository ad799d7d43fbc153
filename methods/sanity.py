"""Sanity checks for saliency maps (Adebayo et al. 2018): re-initialise a trained model's layers
from the top down and measure how much each method's maps change."""
import numpy as np

from layers import Conv2d, Linear
from layers.init import default_weight_and_bias
from minigrad import argument_checks as check
from minigrad.argument_checks import array, boolean, function, integer


def rank_correlation(a, b):
    """Spearman's rho of two arrays of equal size (average ranks for ties); 0 when one is constant."""
    a, b = array(a, "a", min_size=2).ravel(), array(b, "b", min_size=2).ravel()
    if a.size != b.size:
        raise ValueError(f"a, b: expected arrays of the same size, got {a.size} and {b.size} values")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def _ranks(v):
    order = np.argsort(v, kind="mergesort")
    sorted_v = v[order]
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], len(v)]
    avg = (starts + ends - 1) / 2.0  # the mean 0-based position of each group of ties
    ranks = np.empty(len(v))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def ssim(a, b, window=7):
    """Mean structural similarity (Wang et al. 2004, eq. 13) of two 2-D maps, each first scaled to
    [0, 1], with a uniform window x window box and C1 = 0.01^2, C2 = 0.03^2 (scikit-image's defaults)."""
    a, b = (_unit(array(m, name, ndim=2).astype(np.float64)) for m, name in ((a, "a"), (b, "b")))
    if a.shape != b.shape:
        raise ValueError(f"a, b: expected two 2-D maps of the same shape, got {a.shape} and {b.shape}")
    window = integer(window, "window", low=2, high=min(a.shape))
    mean = lambda m: _box(m, window)  # noqa: E731
    mu_a, mu_b = mean(a), mean(b)
    n = window * window
    var_a = (mean(a * a) - mu_a ** 2) * n / (n - 1)
    var_b = (mean(b * b) - mu_b ** 2) * n / (n - 1)
    cov = (mean(a * b) - mu_a * mu_b) * n / (n - 1)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def _unit(m):
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _box(m, w):
    """Means over every w x w window that fits (valid positions only)."""
    c = np.pad(m, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (c[w:, w:] - c[:-w, w:] - c[w:, :-w] + c[:-w, :-w]) / (w * w)


def _as_maps(m):
    """(N, C, H, W) attributions summed over channels; (N, H, W) maps as they are."""
    return m.sum(axis=1) if m.ndim == 4 else m


def model_randomization(method, model, x, target, cascade=True, seed=0, return_maps=False, **options):
    """Re-initialise the layers with weights (Conv2d, Linear) from the output down -- cumulatively
    with ``cascade``, else one at a time -- and compare ``method``'s maps before and after.

    x must be a batch (N, C, H, W). The model's weights are restored afterwards.

    Returns a dict: 'layers' (names, top first) and (n_layers, N) arrays 'spearman',
    'spearman_abs' (both maps in absolute value) and 'ssim' (of the absolute maps); with
    ``return_maps`` also 'original' (N, H, W) and 'maps' (n_layers, N, H, W), the channel-summed maps.
    """
    function(method, "method")
    x = array(x, "x", ndim=4)
    boolean(cascade, "cascade")
    named = [(name, m) for name, m in model.named_modules() if isinstance(m, (Conv2d, Linear))][::-1]
    if not named:
        raise ValueError("model: has no Conv2d or Linear layer to randomise")
    original = model.state_dict()
    rng = check.rng(seed, "seed")
    before = _as_maps(method(model, x, target, **options))
    out = {"layers": [], "spearman": [], "spearman_abs": [], "ssim": [], "maps": []}
    try:
        for name, layer in named:
            if not cascade:
                model.load_state_dict(original)
            w, b = default_weight_and_bias(layer.weight.shape, layer.bias is not None, rng, layer.weight.dtype)
            layer.weight.data = w
            if b is not None:
                layer.bias.data = b
            after = _as_maps(method(model, x, target, **options))
            out["layers"].append(name)
            out["spearman"].append([rank_correlation(p, q) for p, q in zip(before, after)])
            out["spearman_abs"].append([rank_correlation(np.abs(p), np.abs(q)) for p, q in zip(before, after)])
            out["ssim"].append([ssim(np.abs(p), np.abs(q)) for p, q in zip(before, after)])
            if return_maps:
                out["maps"].append(after)
    finally:
        model.load_state_dict(original)
    if return_maps:
        out["original"] = before
    else:
        del out["maps"]
    return {k: (v if k == "layers" else np.array(v)) for k, v in out.items()}
