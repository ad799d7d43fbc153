"""The main job: ``minigrad gallery --quick`` writes a page whose every image exists, opens, is not
blank and has a caption, and which headless Chromium loads with every image decoded; the command
line's error cases exit with status 2 and one line."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from PIL import Image

import layers as L
from demos import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def gallery_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    assert cli.main(["gallery", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def _figures(page):
    return re.findall(r'<figure id="[^"]*"><img src="([^"]+)" alt="[^"]*"><figcaption><h3>([^<]+)</h3><p>([^<]+)</p>',
                      page)


def test_every_figure_exists_opens_is_not_blank_and_has_a_caption(gallery_dir):
    page = (gallery_dir / "index.html").read_text()
    figures = _figures(page)
    assert len(figures) == len(re.findall(r"<img ", page)) >= 20
    for src, title, caption in figures:
        with Image.open(gallery_dir / src) as img:
            pixels = np.asarray(img.convert("L"), dtype=np.float64)
        assert pixels.std() > 5, src  # not a blank canvas
        assert len(title) > 5 and len(caption) > 40, src
    assert 'class="error"' not in page
    for section in ("Learned weights", "Optimising the input", "Network dissection", "t-SNE", "Sanity"):
        assert section in page


def test_a_second_run_loads_the_shipped_weights(gallery_dir):
    from demos import gallery, gallery_models

    ctx = gallery.Context(str(gallery_dir), 0, "quick", False)
    summary = gallery.train_all(ctx)
    assert all("shipped" in v for v in summary.values()), summary
    assert isinstance(ctx.shapes, gallery_models.GalleryModel)


# --- every caption's claim, measured while the figure was drawn (claims.json) ----------------------
@pytest.fixture(scope="module")
def claims(gallery_dir):
    with open(gallery_dir / "claims.json") as f:
        return json.load(f)


def test_the_filters_are_smooth_and_moved_while_training(claims):
    c = claims["conv1_filters.png"]
    assert c["kernel_size"] >= 5 and c["smoothness"] >= 0.5 and abs(c["smoothness_fresh_init"]) < 0.2
    e = claims["filter_evolution.png"]
    assert e["epochs"][0] == 0 and len(e["relative_change"]) == len(e["epochs"]) - 1
    assert min(e["relative_change"]) > 0.01 and e["smoothness"][-1] > e["smoothness"][0]


def test_linear_templates_look_like_their_class(claims):
    assert claims["linear_templates.png"]["template_correlation_min"] >= 0.5


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    """The second network trained here from its recipe (another architecture and seed than the
    shapes network, on its own renderings of the data; ~3 minutes): the judge the gallery's caption
    quotes, made again rather than loaded, so that the test does not rest on the shipped file."""
    from demos.gallery_models import gallery_model

    return gallery_model("shapes_check", out=str(tmp_path_factory.mktemp("judge")), retrain=True)


def test_class_models_are_recognised_by_independent_networks_and_not_saturated(gallery_dir, claims, judge):
    c = claims["class_models.png"]
    n = c["classes"]
    assert judge.info["accuracy"] >= 0.95
    from demos.gallery_models import gallery_model

    shipped = gallery_model("shapes_check")  # the recipe made the shipped weights: the same decisions
    X = shipped.data["X_test"]
    agree = (L.predict(judge.model, X).argmax(1) == L.predict(shipped.model, X).argmax(1)).mean()
    assert agree >= 0.99, agree
    with np.load(gallery_dir / c["file"]) as f:
        images = {k: f[k] for k in f.files}
    assert set(images) == {"no_prior", "simonyan", "cs231n", "yosinski", "lucid"}
    assert set(c["priors"]) == {"cs231n", "yosinski", "lucid"}
    # Chance is 1 of 6. Two trainings of the judge's recipe that differ only in the order of one sum
    # (the weight gradient's, issue 30: weights 2.4 apart, both 100% accurate) recognised the Yosinski
    # images 5 and 4 of 6 and the others 6 of 6: so each prior at least n - 2, together at least 3 (n - 1)
    total = 0
    for preset in c["priors"]:
        img = images[preset]
        recognised = int((L.predict(judge.model, img.astype(np.float32)).argmax(1) == np.arange(n)).sum())
        saturated = float(((img <= 0.01) | (img >= 0.99)).mean())
        assert c[f"recognised_{preset}"] >= n - 2 and recognised >= n - 2, (preset, recognised, c)
        assert saturated <= 0.05 and c[f"saturated_{preset}"] == pytest.approx(saturated), preset
        total += recognised
    assert total >= len(c["priors"]) * (n - 1), (total, c)
    # the baselines are shown because they fail: without a prior the image runs into the clamp
    assert c["saturated_no_prior"] > 0.05


def test_unit_visualisations_beat_every_test_image(claims):
    c = claims["unit_visualizations.png"]
    assert c["units_above_best_test_image"] == c["units"] and c["min_ratio_to_best_test_image"] > 1


def test_fooling_images_are_small_changes(claims):
    c = claims["fooling.png"]
    assert c["images"] == 20 and c["reached_target"] >= 18 and c["median_linf"] <= 0.1
    assert 0 <= c["min_pixel"] and c["max_pixel"] <= 1


def test_the_maps_change_when_the_model_is_randomised(claims):
    c = claims["sanity.png"]
    assert c["layers"][0] == "fc" and len(c["rho_gradient"]) == len(c["layers"])
    # with every layer random, neither map keeps the trained one's ranking
    assert c["rho_gradient"][-1] < 0.5 and c["rho_guided_backprop"][-1] < 0.5


def test_dissection_finds_several_concepts(claims):
    assert claims["dissection.png"]["distinct_concepts_iou_0.2"] >= 3


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def test_the_page_loads_in_headless_chromium_with_every_image_decoded(gallery_dir):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs chromium-headless-shell)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=10000"]
    url = (gallery_dir / "index.html").as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    n = len(_figures((gallery_dir / "index.html").read_text()))
    assert f'data-decoded="{n}/{n}"' in dom, dom[:300]
    shot = gallery_dir / "screenshot.png"
    subprocess.run(flags + ["--window-size=1200,2000", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    with Image.open(shot) as img:
        assert img.size == (1200, 2000) and np.asarray(img.convert("L")).std() > 5


# --- the command line's errors: status 2, one line, no traceback -------------------------------
def _minigrad(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "demos", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "gapnet.npz"
    L.GAPNet(num_classes=6, widths=(4, 8), seed=0).save(path)
    return path


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    from demos.shapes import make_shapes

    path = tmp_path_factory.mktemp("img") / "shape.png"
    x, _, _ = make_shapes(1, size=24, seed=1)
    Image.fromarray((x[0].transpose(1, 2, 0) * 255).astype(np.uint8)).save(path)
    return path


def test_cli_errors(tmp_path, model_file, png):
    bad_image = tmp_path / "not_an_image.png"
    bad_image.write_text("hello")
    empty_mnist = tmp_path / "mnist"
    empty_mnist.mkdir()
    cases = [
        (["explain", str(tmp_path / "missing.png"), "--model", str(model_file)], "missing.png: no such file"),
        (["explain", str(png), "--method", "sailency", "--model", str(model_file)], "accepted: saliency"),
        (["explain", str(png), "--layer", "features.99", "--model", str(model_file)], "not a layer of the model"),
        (["explain", str(bad_image), "--model", str(model_file)], "Pillow cannot read it"),
        (["explain", str(png), "--model", str(tmp_path / "nope.npz")], "--model"),
        (["explain", str(png), "--target", "hexagon", "--model", str(model_file)], "class name"),
        (["gallery", "--mnist", str(empty_mnist), "--out", str(tmp_path / "g")], "IDX files"),
        (["train", "--mnist", str(tmp_path / "absent")], "no such directory"),
        (["tsne", str(tmp_path / "absent.csv")], "no such file"),
        (["tsne", str(bad_image)], "expected a .npy or .csv"),
    ]
    for args, message in cases:
        r = _minigrad(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "g").exists()  # the MNIST check came before any work


def test_explain_round_trips_a_png(tmp_path, model_file, png):
    for method in ("gradcam", "saliency", "guided_backprop"):
        out = tmp_path / f"{method}.png"
        assert cli.main(["explain", str(png), "--method", method, "--model", str(model_file), "--out", str(out)]) == 0
        with Image.open(out) as img:
            assert img.size[0] > 100 and np.asarray(img.convert("L")).std() > 5


def test_tsne_command_writes_embedding_and_plot(tmp_path):
    X = np.random.default_rng(0).standard_normal((60, 5))
    np.savetxt(tmp_path / "data.csv", X, delimiter=",", header="a,b,c,d,e", comments="")
    assert cli.main(["tsne", str(tmp_path / "data.csv"), "--perplexity", "10", "--method", "exact"]) == 0
    Y = np.load(tmp_path / "data_tsne.npy")
    assert Y.shape == (60, 2) and np.all(np.isfinite(Y)) and (tmp_path / "data_tsne.png").exists()
    assert cli.main(["tsne", str(tmp_path / "data.csv"), "--perplexity", "100"]) == 2
