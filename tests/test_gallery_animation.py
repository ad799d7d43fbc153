"""The t-SNE animation (demos/figures_animation.py): a looping GIF whose frames are the maps TSNE's
callback hands over, early exaggeration included, labelled with the true KL, and whose claims
agree with the frames, the callback and the estimator."""
import os
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import layers as L
from demos import figures_animation, gallery_model
from tsne import TSNE


def _animate(shapes, out):
    """Run the figure with TSNE's callback wrapped, so the test sees what the callback received.
    -> (Figure, list of (iteration, kl) as the callback got them)."""
    calls = []

    class RecordingTSNE(TSNE):
        def fit_transform(self, X, y=None):
            figure_callback = self.callback

            def record(iteration, Y, kl):
                calls.append((iteration, kl))
                figure_callback(iteration, Y, kl)

            self.callback = record
            return super().fit_transform(X, y)

    ctx = SimpleNamespace(out=str(out), seed=0, quick=True, mode="quick", progress=False, shapes=shapes)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures_animation, "TSNE", RecordingTSNE)
        figure = figures_animation.tsne_animation(ctx)
    return figure, calls


@pytest.fixture(scope="module")
def animation(tmp_path_factory):
    shapes = gallery_model("shapes")
    out = tmp_path_factory.mktemp("gallery")
    figure, calls = _animate(shapes, out)
    return out, figure, calls


def _frames(path):
    with Image.open(path) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
            durations.append(gif.info["duration"])
        return frames, durations, gif.info.get("loop")


def test_the_gif_loops_over_the_claimed_frames_which_all_differ(animation):
    out, figure, _ = animation
    assert figure.file == "tsne_animation.gif"
    assert sorted(os.listdir(out)) == ["tsne_animation.gif"]  # the temporary file is gone
    path = out / figure.file
    assert os.path.getsize(path) == figure.claims["gif_bytes"] < 1.5e6
    frames, durations, loop = _frames(path)
    assert len(frames) == figure.claims["frames"] and loop == 0
    assert durations[-1] > durations[0]  # the final map is held before the loop restarts
    # the gallery's blank-image check reads the first frame only
    with Image.open(path) as gif:
        assert np.asarray(gif.convert("L"), dtype=np.float64).std() > 5
    for a, b in zip(frames, frames[1:]):
        assert a.shape == b.shape and np.any(a != b)
    # beyond the changing text (about 0.3 % of the pixels from one frame to the next): the map moves
    assert np.mean(np.any(frames[0] != frames[-1], axis=2)) > 0.02


def test_the_frames_are_the_callbacks_maps_from_both_phases(animation):
    _, figure, calls = animation
    c = figure.claims
    iterations = np.array([it for it, _ in calls])
    assert np.all(np.diff(iterations) > 0)
    assert len(iterations) == c["frames"]
    assert (iterations[0], iterations[-1]) == (c["first_iteration"], c["last_iteration"])
    early = int(np.sum(iterations <= c["exaggeration_iterations"]))
    assert c["exaggeration_frames"] == early >= 1 and early < c["frames"]


def test_the_frames_show_the_true_kl_not_the_exaggerated_objective(animation):
    _, figure, calls = animation
    c = figure.claims
    kl_at = dict(calls)
    a = c["exaggeration"]
    # what the callback receives in the first phase: sum a p log(a p / q) = a (KL + ln a), of the map
    # one update earlier (hence the tolerance; by iteration 250 the map hardly moves)
    assert kl_at[c["exaggeration_iterations"]] == pytest.approx(a * (c["kl_exaggeration_end"] + np.log(a)), rel=1e-2)
    assert kl_at[c["exaggeration_iterations"]] > 10 * c["kl_exaggeration_end"]
    # after it, the callback's value is the true KL (one update earlier) and the last frame's is the estimator's
    assert kl_at[c["last_iteration"]] == pytest.approx(c["kl_final"], rel=1e-2)
    assert c["kl_final"] == pytest.approx(c["kl_estimator"], rel=1e-9)
    assert c["kl_first"] > c["kl_exaggeration_end"] > c["kl_final"] > 0


def test_the_map_spreads_out_once_exaggeration_ends(animation):
    c = animation[1].claims
    assert c["half_width_final"] > 5 * c["half_width_exaggeration_end"]


def test_the_penultimate_features_are_the_last_linears_input_and_the_classes_separate(tmp_path):
    # six clusters of 16 pixels: Flatten, a projection to 10 features kept positive (so that the
    # ReLU passes them unchanged), then the classifier; 2-D PCA (the first map) mixes the clusters
    rng = np.random.default_rng(0)
    n, d = 180, 16
    y = rng.permutation(np.arange(n) % 6)
    X = np.clip(rng.uniform(0.2, 0.8, (6, d))[y] + 0.05 * rng.standard_normal((n, d)), 0, 1)
    model = L.Sequential(L.Flatten(), L.Linear(d, 10), L.ReLU(), L.Linear(10, 6)).float()
    model[1].weight.data[...] = np.linalg.qr(rng.standard_normal((d, 10)))[0].T
    model[1].bias.data[...] = 3.0
    model.train()  # the figure runs the model in eval mode and leaves it as it was
    shapes = SimpleNamespace(model=model, data=dict(X_test=X.reshape(n, 1, 4, 4).astype(np.float32), y_test=y))
    figure, _ = _animate(shapes, tmp_path)
    c = figure.claims
    assert model.training
    assert c["features"] == 10 and c["points"] == n
    assert c["knn_features"] > 0.95
    assert c["knn_first"] < 0.7 and c["knn_final"] > 0.95
