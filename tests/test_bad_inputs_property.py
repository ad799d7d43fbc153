"""Property: a random invalid value of any numeric parameter never returns a result silently; the
call raises ValueError/TypeError naming the parameter."""
import os
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import layers as L
import methods
from methods import regularizers as R
from minigrad import relevance
from tsne import TSNE

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import rejects  # noqa: E402

NET = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
X = np.random.default_rng(0).uniform(0, 1, (1, 3, 8, 8))
TX = np.random.default_rng(0).random((30, 4))
NAN_INF = st.sampled_from([float("nan"), float("inf"), float("-inf")])


def below(low, strict=True):
    """Floats < low (<= low when not ``strict``), NaN and infinities."""
    return st.one_of(NAN_INF, st.floats(max_value=low, exclude_max=strict, allow_nan=False, allow_infinity=False))


def outside(low, high):
    return st.one_of(NAN_INF, st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False),
                     st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False))


def ints_below(low):
    return st.integers(max_value=low - 1)


def tsne_fit(name):
    return lambda v: TSNE(**{"perplexity": 5, name: v}).fit_transform(TX)


PARAMETERS = [
    ("angle", tsne_fit("angle"), outside(0.0, 1.0)),
    ("perplexity", tsne_fit("perplexity"), st.one_of(below(0.0, strict=False), st.floats(min_value=30, max_value=1e9))),
    ("early_exaggeration", tsne_fit("early_exaggeration"), below(1.0)),
    ("learning_rate", tsne_fit("learning_rate"), below(0.0, strict=False)),
    ("max_iter", tsne_fit("max_iter"), ints_below(250)),
    ("min_grad_norm", tsne_fit("min_grad_norm"), below(0.0)),
    ("callback_every", tsne_fit("callback_every"), ints_below(1)),
    ("lr", lambda v: L.Adam(NET.parameters(), lr=v), below(0.0, strict=False)),
    ("betas[0]", lambda v: L.Adam(NET.parameters(), betas=(v, 0.999)), outside(0.0, 1.0 - 1e-16)),
    ("betas[1]", lambda v: L.Adam(NET.parameters(), betas=(0.9, v)), outside(0.0, 1.0 - 1e-16)),
    ("eps", lambda v: L.Adam(NET.parameters(), eps=v), below(0.0)),
    ("momentum", lambda v: L.SGD(NET.parameters(), momentum=v), below(0.0)),
    ("weight_decay", lambda v: L.SGD(NET.parameters(), weight_decay=v), below(0.0)),
    ("p", lambda v: L.Dropout(v), outside(0.0, 1.0 - 1e-16)),
    ("batch_size", lambda v: methods.occlusion(NET, X, 1, window=2, batch_size=v), ints_below(1)),
    ("window", lambda v: methods.occlusion(NET, X, 1, window=v), ints_below(1)),
    ("n_steps", lambda v: methods.integrated_gradients(NET, X, 1, n_steps=v), ints_below(1)),
    ("noise_level", lambda v: methods.smoothgrad(methods.saliency, NET, X, 1, noise_level=v), below(0.0)),
    ("n_samples", lambda v: methods.smoothgrad(methods.saliency, NET, X, 1, n_samples=v), ints_below(1)),
    ("steps", lambda v: methods.optimize_input(NET, methods.objectives.class_score(0), X, v, 0.1), ints_below(1)),
    ("lr", lambda v: methods.optimize_input(NET, methods.objectives.class_score(0), X, 2, v),
     below(0.0, strict=False)),
    ("eps", lambda v: methods.fgsm(NET, X, 1, eps=v), below(0.0)),
    ("step", lambda v: methods.pgd(NET, X, 1, eps=0.1, step=v, steps=2), below(0.0)),
    ("window", lambda v: methods.ssim(X[0, 0], X[0, 1], window=v), st.one_of(ints_below(2), st.integers(9, 10**6))),
    ("size", lambda v: methods.bilinear_resize(X[0], (v, 4)), ints_below(1)),
    ("weight", lambda v: R.L2(v), below(0.0)),
    ("theta", lambda v: R.Decay(v), outside(0.0, 1.0 - 1e-16)),
    ("sigma", lambda v: R.GaussianBlur(v), below(0.0, strict=False)),
    ("epsilon", lambda v: relevance.epsilon(v), below(0.0)),
]


@pytest.mark.parametrize("name, call, invalid", PARAMETERS, ids=[f"{i}-{p[0]}" for i, p in enumerate(PARAMETERS)])
@given(data=st.data())
def test_invalid_numeric_values_never_pass_silently(name, call, invalid, data):
    value = data.draw(invalid)
    rejects(lambda: call(value), name)
