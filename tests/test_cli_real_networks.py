"""``minigrad explain --arch NAME --weights FILE`` and the gallery's section on an ImageNet network, on
random seeded weights saved as torchvision checkpoints (``torch.save`` of a state dict; ``Module.save``
when torch is absent): the top classes printed, the map written, every explain method, the one-line
usage errors, and the section's figures."""

import numpy as np
import pytest
from PIL import Image

import layers as L
from demos import cli, figures_network, gallery, imagenet
from demos.images import photograph

SIZE = 64  # small crops keep each run to a second or two; the networks take any size >= 32


def _save_checkpoint(model, path):
    """``path`` holding ``model``'s state dict as torchvision's downloads do (a torch zip), or an .npz."""
    try:
        import torch
    except ImportError:
        model.save(path.with_suffix(".npz"))
        return path.with_suffix(".npz")
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {arch: _save_checkpoint(getattr(L, arch)(seed=0, dtype=np.float32), folder / f"{arch}.pth")
            for arch in ("resnet18", "mobilenet_v2")}


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    """A landscape photograph, so preprocessing resizes and crops."""
    path = tmp_path_factory.mktemp("img") / "photo.png"
    img = (photograph(96).transpose(1, 2, 0) * 255).astype(np.uint8)
    Image.fromarray(img).resize((120, 90), Image.BILINEAR).save(path)
    return path


def _explain(capsys, *args):
    status = cli.main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def _top_lines(out, k):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"top {k} classes"))
    rows = [line.split(None, 2) for line in lines[start + 1:start + 1 + k]]
    return [(int(c), name, float(p)) for p, c, name in rows]


def test_explain_prints_the_top_classes_and_writes_the_map(capsys, checkpoints, png, tmp_path):
    out_png = tmp_path / "map.png"
    status, out, err = _explain(capsys, png, "--arch", "resnet18", "--weights", checkpoints["resnet18"],
                                "--size", SIZE, "--out", out_png)
    assert status == 0, err
    top = _top_lines(out, 5)
    names = imagenet.class_names()
    assert [name for _, name, _ in top] == [names[c] for c, _, _ in top]
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    # the same numbers by hand: the checkpoint's network on the preprocessed image
    model = imagenet.load_network("resnet18", checkpoints["resnet18"])
    x = imagenet.preprocess(Image.open(png), size=SIZE, resize=round(SIZE * 256 / 224))
    expected = imagenet.top_k(L.predict(model, x[None])[0], k=5)
    assert [c for c, _, _ in top] == [c for c, _, _ in expected]
    np.testing.assert_allclose(probs, [p for _, _, p in expected], atol=1e-4)
    assert f"gradcam for class {top[0][1]} " in out and str(out_png) in out
    with Image.open(out_png) as img:
        assert img.size[0] > 100 and np.asarray(img.convert("L")).std() > 5


def test_explain_takes_a_target_by_name_a_layer_and_top(capsys, checkpoints, png, tmp_path):
    out_png = tmp_path / "tabby.png"
    status, out, err = _explain(capsys, png, "--arch", "resnet18", "--weights", checkpoints["resnet18"], "--size",
                                SIZE, "--target", "tabby", "--layer", "layer4.1.conv2", "--top", 3, "--out", out_png)
    assert status == 0, err
    assert len(_top_lines(out, 3)) == 3 and "gradcam for class tabby " in out and out_png.exists()
    status, out, err = _explain(capsys, png, "--arch", "mobilenet_v2", "--weights", checkpoints["mobilenet_v2"],
                                "--size", SIZE, "--target", 281, "--out", tmp_path / "m.png")
    assert status == 0 and "gradcam for class tabby " in out, err  # the default layer: features.18


@pytest.mark.parametrize("method", cli.METHOD_NAMES)
def test_every_explain_method_runs_on_a_resnet(capsys, checkpoints, png, tmp_path, method):
    out_png = tmp_path / f"{method}.png"
    status, out, err = _explain(capsys, png, "--arch", "resnet18", "--weights", checkpoints["resnet18"],
                                "--size", 40, "--method", method, "--out", out_png)  # layer4 still 2x2
    assert status == 0, err
    with Image.open(out_png) as img:
        assert np.asarray(img.convert("L")).std() > 5


def test_usage_errors_are_one_line_with_status_2(capsys, checkpoints, png, tmp_path):
    bad = tmp_path / "notes.pth"
    bad.write_text("not a checkpoint")
    resnet = checkpoints["resnet18"]
    cases = [
        (["--arch", "resnet18"], "needs --weights"),
        (["--arch", "resnet19", "--weights", resnet], "unknown architecture; accepted: alexnet"),
        (["--arch", "resnet34", "--weights", resnet], "does not hold resnet34 weights: "),
        (["--arch", "mobilenet_v2", "--weights", resnet], "missing key(s), e.g. features.0.0.weight"),
        (["--arch", "resnet18", "--weights", tmp_path / "absent.pth"], "no such file"),
        (["--arch", "resnet18", "--weights", bad], "--weights"),
        (["--arch", "resnet18", "--weights", resnet, "--layer", "layer5"], "--layer layer5: not a layer"),
        (["--arch", "resnet18", "--weights", resnet, "--target", "unicorn"], "--target unicorn"),
        (["--arch", "resnet18", "--weights", resnet, "--top", 0], "--top 0"),
        (["--arch", "resnet18", "--weights", resnet, "--size", 16], "--size 16"),
        (["--arch", "mobilenet_v2", "--weights", checkpoints["mobilenet_v2"], "--method", "cam"], "--method cam"),
        (["--weights", resnet], "--weights needs --arch"),
    ]
    for args, message in cases:
        status, out, err = _explain(capsys, png, "--size", SIZE, *args)
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and message in lines[0], (args, err)
    assert not list(tmp_path.glob("*.png"))
    assert cli.main(["gallery", "--arch", "vgg16", "--out", str(tmp_path / "g")]) == 2
    assert "needs --weights" in capsys.readouterr().err and not (tmp_path / "g").exists()


# --- the gallery's section ----------------------------------------------------------------------
def _context(out, arch, model):
    ctx = gallery.Context(str(out), 0, "quick", False)
    ctx.arch, ctx.network = arch, model
    return ctx


def _looks_drawn(path):
    with Image.open(path) as img:
        return img.size[0] > 200 and np.asarray(img.convert("L"), dtype=np.float64).std() > 5


def test_the_gallery_adds_a_section_on_the_network(tmp_path, checkpoints, monkeypatch):
    # only the new section: the small networks' training and figures are test_gallery's
    monkeypatch.setattr(gallery, "SECTIONS", [])
    monkeypatch.setattr(gallery, "train_all", lambda ctx, mnist_dir=None: {})
    out = tmp_path / "g"
    assert cli.main(["gallery", "--quick", "--no-progress", "--out", str(out), "--arch", "resnet18", "--weights",
                     str(checkpoints["resnet18"])]) == 0
    page = (out / "index.html").read_text()
    assert "An ImageNet network: resnet18" in page and 'class="error"' not in page
    assert figures_network.style_transfer not in figures_network.section("resnet18")[2]
    for file in ("network_filters.png", "network_gradcam.png", "network_class_models.png"):
        assert _looks_drawn(out / file) and f'src="{file}"' in page, file
    # the numbers on the page are the measured ones
    ctx = _context(tmp_path, "resnet18", imagenet.load_network("resnet18", checkpoints["resnet18"]))
    x = figures_network._photograph_input(ctx)
    c, name, p = imagenet.top_k(L.predict(ctx.network, x[None])[0], k=5)[0]
    assert f"top 1: <b>{name} ({c}), p = {p:.4f}</b>" in page and "layer: <b>layer4</b>" in page
    names = imagenet.class_names()
    assert all(f"{names[c]} ({c}): <b>logit " in page for c in figures_network.CLASS_MODEL_CLASSES)
    assert "64x64 pixels instead of 224 and 6 steps" in page


class _VGGFeatures(L.Module):
    """VGG-19's convolutional part with a small head: style transfer reads only ``features``, and
    the real classifier's 10^8 weights would cost more than the whole test."""

    def __init__(self, batch_norm=False):
        from layers.vgg import CFGS, make_layers

        self.features = make_layers(CFGS["E"], batch_norm, rng=0, dtype=np.float32)

    def forward(self, x):
        return self.features(x).mean(axis=(2, 3))


def test_gatys_layers_are_the_rectified_convolutions():
    plain = figures_network._gatys_layers(_VGGFeatures().features)
    assert [plain[n] for n in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")] == \
        [1, 6, 11, 20, 22, 29]
    bn = figures_network._gatys_layers(_VGGFeatures(batch_norm=True).features)
    assert [bn[n] for n in ("conv1_1", "conv2_1", "conv5_1")] == [2, 9, 42]
    assert "style_transfer" in [f.__name__ for f in figures_network.section("vgg19_bn")[2]]


def test_style_transfer_lowers_the_style_loss(tmp_path):
    fig = figures_network.style_transfer(_context(tmp_path, "vgg19", _VGGFeatures()))
    assert _looks_drawn(tmp_path / fig.file)
    before, after = (float(v) for v in fig.numbers["weighted style loss"].split(" -> "))
    assert after < before and fig.numbers["content loss"].startswith("0 -> ")
