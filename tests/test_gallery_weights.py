"""The learned-weights figures (demos/figures_weights.py) show what their captions claim."""
import os
from types import SimpleNamespace

import numpy as np
import pytest

from demos import figures_weights, gallery_models

LINEAR = {
    "shipped": lambda cache: gallery_models.gallery_model("digits_linear"),  # what the gallery shows
    "another seed": lambda cache: gallery_models.gallery_model("digits_linear", out=cache, seed=3),
}


@pytest.mark.parametrize("mode", list(LINEAR))
def test_linear_templates_resemble_their_class_mean_minus_the_mean_image(tmp_path, mode):
    linear = LINEAR[mode](str(tmp_path / "cache"))
    ctx = SimpleNamespace(out=str(tmp_path), seed=0, quick=True, mode="quick", progress=False, linear=linear)
    figure = figures_weights.linear_templates(ctx)
    assert os.path.getsize(tmp_path / figure.file) > 0
    claims = figure.claims
    assert claims["template_correlation_min"] >= 0.5, claims
    assert claims["held_out_accuracy"] >= 0.9, claims
    # the claims again, with NumPy's own Pearson correlation
    W = linear.model[1].weight.data
    X, y = linear.data["X_train"].reshape(len(linear.data["X_train"]), -1), linear.data["y_train"]
    r = [np.corrcoef(W[c], X[y == c].mean(axis=0) - X.mean(axis=0))[0, 1] for c in range(10)]
    np.testing.assert_allclose([claims["template_correlation_min"], claims["template_correlation_mean"]],
                               [min(r), np.mean(r)], rtol=1e-6)  # float32 images
