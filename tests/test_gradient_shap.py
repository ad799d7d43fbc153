"""GradientSHAP (methods.gradient_shap): number for number against Captum 0.9's GradientShap in
float64 with Captum's own random draws replayed through ``draws=`` (torch twins of a conv, ReLU,
max-pool, linear network; with and without noise, tuple inputs, extra forward arguments), and its
expectation checked statistically (tolerances in standard errors, stated in each test)."""
import os
import sys
import warnings

import numpy as np
import pytest

import layers as L
from methods.gradient_shap import gradient_shap, gradient_shap_draws

sys.path.insert(0, os.path.dirname(__file__))
from test_deeplift import RELU_POOL, X, REFS, TARGET, _TwoInputs, assert_close, twins  # noqa: E402

N, S, B = len(X), 6, len(REFS)


def captum_with_draws(model, x, baselines, stdevs, seed=3, **kw):
    """Captum's GradientShap result and deltas, and its draws replayed in ``draws=``'s layout.

    Captum (one batch of all samples) draws, in order: each input's reference indices
    ``np.random.choice(B, N * S)``, each input's noise ``torch.normal(0, stdev)``, then the path
    points ``np.random.uniform(0, 1, N * S)``; row i * S + k is draw k of sample i."""
    import torch
    from captum.attr import GradientShap
    xs = x if isinstance(x, tuple) else (x,)
    bs = baselines if isinstance(baselines, tuple) else (baselines,)
    sds = stdevs if isinstance(stdevs, tuple) else (stdevs,) * len(xs)
    np.random.seed(seed)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tuple(torch.tensor(a) for a in xs)
        attributions, delta = GradientShap(model).attribute(
            t if isinstance(x, tuple) else t[0], tuple(torch.tensor(b) for b in bs) if isinstance(x, tuple)
            else torch.tensor(bs[0]), n_samples=S, stdevs=stdevs, target=TARGET, return_convergence_delta=True, **kw)
    np.random.seed(seed)
    torch.manual_seed(seed)
    indices = [np.random.choice(len(b), N * S) for b in bs]
    noise = [torch.normal(0, torch.tensor(sd).repeat((N * S,) + a.shape[1:])).double().numpy() for a, sd in zip(xs, sds)]
    alphas = np.random.uniform(0.0, 1.0, N * S)

    def draw_major(v):  # Captum's sample-major rows -> (S, N, ...)
        return np.swapaxes(np.asarray(v).reshape((N, S) + np.shape(v)[1:]), 0, 1)

    pick = tuple if isinstance(x, tuple) else (lambda parts: parts[0])
    draws = {"baselines": pick([draw_major(i) for i in indices]), "alphas": draw_major(alphas),
             "noise": pick([draw_major(e) for e in noise])}
    return attributions, delta.detach().numpy(), draws


@pytest.mark.parametrize("stdevs", [0.0, 0.3])
def test_matches_captum_with_its_draws(stdevs):
    theirs, ours = twins(RELU_POOL)
    expected, delta, draws = captum_with_draws(theirs, X, REFS, stdevs)
    got, our_delta = gradient_shap(ours, X, TARGET, REFS, return_convergence_delta=True, draws=draws)
    assert_close(got, expected)
    assert our_delta.shape == (N, S)
    assert np.allclose(our_delta.reshape(-1), -delta, rtol=0, atol=1e-10)  # Captum's: flattened, negated
    grads = gradient_shap(ours, X, TARGET, REFS, multiply_by_inputs=False, draws=draws)
    assert np.abs(grads - got).max() > 1e-3 * np.abs(got).max()  # the option changes the result


def test_tuple_inputs_and_additional_forward_args_match_captum():
    """Two inputs, each drawing its own references and noise (Captum's order), one shared path point."""
    import torch
    theirs, ours = _TwoInputs.pair(RELU_POOL)
    rng = np.random.default_rng(5)
    xs = (X, rng.standard_normal(X.shape))
    bases = (REFS, rng.standard_normal((B,) + X.shape[1:]))
    scale = rng.uniform(0.5, 2.0, (N, 1, 1, 1))
    expected, delta, draws = captum_with_draws(theirs, xs, bases, (0.2, 0.1),
                                               additional_forward_args=(torch.tensor(scale),))
    got, our_delta = gradient_shap(ours, xs, TARGET, bases, return_convergence_delta=True, draws=draws,
                                   additional_forward_args=(scale,))
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, expected):
        assert_close(g, e)
    assert np.allclose(our_delta.reshape(-1), -delta, rtol=0, atol=1e-10)


def test_seeded_draws_repeat_and_one_image_drops_the_batch_axis():
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    a = gradient_shap(net, X, 1, REFS, seed=4, stdevs=0.1)
    assert np.array_equal(a, gradient_shap(net, X, 1, REFS, seed=4, stdevs=0.1))
    assert np.array_equal(a, gradient_shap(net, X, 1, REFS, draws=gradient_shap_draws(X, REFS, 5, 0.1, seed=4)))
    assert not np.array_equal(a, gradient_shap(net, X, 1, REFS, seed=5, stdevs=0.1))
    one, delta = gradient_shap(net, X[0], 1, REFS, seed=np.random.default_rng(0), return_convergence_delta=True)
    assert one.shape == X[0].shape and delta.shape == (5,)


def test_expectation_on_a_linear_model():
    """f(x) = w . x + c has a constant gradient w, so a draw's attribution is (x + e - x'_b) w with
    mean (x - mean_b x'_b) w and variance w^2 (Var_b x'_b + stdevs^2). With 2000 draws every
    element lies within 5 standard errors of that mean (about 1 in 10^4 that one of the 384 elements
    would not; the seed is fixed)."""
    net = L.Sequential(L.Flatten(), L.Linear(192, 3, rng=0))
    x, refs, sd, draws = X[:2], REFS, 0.2, 2000
    got = gradient_shap(net, x, 2, refs, n_samples=draws, stdevs=sd, seed=0)
    w = net[1].weight.data[2].reshape(x.shape[1:])
    expected = (x - refs.mean(axis=0)) * w
    standard_error = np.sqrt(w ** 2 * (refs.var(axis=0) + sd ** 2) / draws)
    assert np.all(np.abs(got - expected) <= 5 * standard_error)
    assert np.abs(got - expected).max() > 0  # sampled, not exact


def test_attributions_sum_in_expectation_to_the_mean_output_difference():
    """Over alpha ~ U(0, 1) a draw's attributions sum in expectation to f(x) - f(x'_b) (the
    fundamental theorem of calculus along the path), so the mean over draws estimates
    f(x) - mean_b f(x'_b) on a ReLU/max-pool network. Checked within 5 standard errors of the
    per-draw sums (computed from the returned deltas), with 400 draws."""
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    x, draws = X[:2], 400
    got, delta = gradient_shap(net, x, TARGET[:2], REFS, n_samples=draws, seed=1, return_convergence_delta=True)
    f_x = net(x).data[np.arange(2), TARGET[:2]]
    f_refs = net(REFS).data[:, TARGET[:2]].T  # (2, B)
    expected = f_x - f_refs.mean(axis=1)
    d = gradient_shap_draws(x, REFS, draws, seed=1)
    per_draw = f_x[:, None] - f_refs[np.arange(2)[:, None], d["baselines"].T] - delta  # sums of each draw
    standard_error = per_draw.std(axis=1, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(got.reshape(2, -1).sum(axis=1) - expected) <= 5 * standard_error)
    assert np.allclose(got.reshape(2, -1).sum(axis=1), per_draw.mean(axis=1), rtol=1e-12)


@pytest.mark.parametrize("options, argument", [
    (dict(n_samples=0), "n_samples"),
    (dict(stdevs=-1.0), "stdevs"),
    (dict(seed=-1), "seed"),
    (dict(baselines=0.0), "baselines"),
    (dict(baselines=np.zeros((3, 3, 8, 9))), "baselines"),
    (dict(draws={"alphas": np.zeros((2, 3))}), "draws"),
    (dict(draws={"baselines": np.zeros((2, 3), int), "alphas": np.full((2, 3), 2.0), "noise": np.zeros((2,) + X.shape)}),
     "alphas"),
    (dict(draws={"baselines": np.full((2, 3), 9), "alphas": np.zeros((2, 3)), "noise": np.zeros((2,) + X.shape)}),
     "baselines"),
    (dict(draws={"baselines": np.zeros((2, 3), int), "alphas": np.zeros((2, 3)), "noise": np.zeros(X.shape)}),
     "noise"),
])
def test_bad_options_name_the_argument(options, argument):
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
    kw = dict(baselines=REFS, **options) if "baselines" not in options else options
    with pytest.raises((ValueError, TypeError), match=argument):
        gradient_shap(net, X, 0, **kw)
