"""ImageNet's conventions: preprocess against a hand computation (torchvision's Resize(256),
CenterCrop(224), ToTensor, Normalize written out), deprocess as its inverse, the shipped class
names as torchvision's wheel lists them, top_k's order and probabilities, and bad inputs."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

import minigrad as mg
from demos import imagenet
from demos.imagenet import MEAN, STD, class_names, deprocess, preprocess, top_k

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402

RNG = np.random.default_rng(0)


def _normalised(crop_uint8):
    """ToTensor then Normalize, by hand: (H, W, 3) uint8 -> (3, H, W) float32."""
    x = crop_uint8.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    return (x - MEAN[:, None, None]) / STD[:, None, None]


def _halve(a, axis):
    """Pillow's antialiased bilinear 2x reduction away from the borders, by hand: each output pixel
    weighs the four inputs around its centre by the triangle filter stretched 2x, 1/8, 3/8, 3/8,
    1/8 (exact in Pillow's 22-bit fixed point), and rounds half up to 8 bits. Output index i covers
    inputs 2i-1 .. 2i+2, so the first and last outputs (clipped filters) are left as NaN."""
    a = np.moveaxis(a.astype(np.float64), axis, 0)
    out = np.full((a.shape[0] // 2,) + a.shape[1:], np.nan)
    i = np.arange(1, len(out) - 1)
    s = a[2 * i - 1] + 3 * a[2 * i] + 3 * a[2 * i + 1] + a[2 * i + 2]
    out[1:-1] = np.floor(s / 8 + 0.5)
    return np.moveaxis(out, 0, axis)


@pytest.mark.parametrize("shape", [(256, 320), (320, 256), (256, 256)], ids=["landscape", "portrait", "square"])
def test_preprocess_without_resizing_is_the_centre_crop_normalised(shape):
    # the shorter side is already 256: Resize leaves the image as it is, CenterCrop takes the
    # centre at offsets round((side - 224) / 2)
    img = RNG.integers(0, 256, shape + (3,), dtype=np.uint8)
    top, left = (shape[0] - 224) // 2, (shape[1] - 224) // 2
    expected = _normalised(img[top:top + 224, left:left + 224])
    for given in (img, Image.fromarray(img)):
        x = preprocess(given)
        assert x.shape == (3, 224, 224) and x.dtype == np.float32
        np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("shape", [(512, 640), (640, 512)], ids=["landscape", "portrait"])
def test_preprocess_halves_with_the_bilinear_filter_then_crops(shape):
    # 512 x 640 -> shorter side 256: 256 x 320, an exact 2x reduction; the 224 crop lies 16+ pixels
    # inside, where the hand filter above is defined
    img = RNG.integers(0, 256, shape + (3,), dtype=np.uint8)
    small = _halve(_halve(img, 1), 0)  # Pillow filters rows first, then columns
    h, w = small.shape[:2]
    assert min(h, w) == 256 and max(h, w) == 320
    top, left = (h - 224) // 2, (w - 224) // 2
    crop = small[top:top + 224, left:left + 224]
    assert not np.isnan(crop).any()
    np.testing.assert_array_equal(preprocess(img), _normalised(crop.astype(np.uint8)))


@pytest.mark.parametrize("shape, resized", [((300, 500), (256, 426)), ((500, 300), (426, 256)),
                                            ((100, 120), (256, 307)), ((1000, 333), (768, 256))],
                         ids=["landscape", "portrait", "enlarged", "tall"])
def test_preprocess_resizes_the_shorter_side_and_truncates_the_longer(shape, resized):
    # torchvision's Resize(256): short side 256, long side int(256 * long / short)
    img = RNG.integers(0, 256, shape + (3,), dtype=np.uint8)
    assert imagenet._resized_size(*shape, 256) == resized
    big = np.asarray(Image.fromarray(img).resize(resized[::-1], Image.BILINEAR))
    top, left = int(round((resized[0] - 224) / 2)), int(round((resized[1] - 224) / 2))
    np.testing.assert_array_equal(preprocess(img), _normalised(big[top:top + 224, left:left + 224]))


def test_preprocess_other_sizes_modes_and_float_images():
    img = RNG.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    x = preprocess(img, size=64, resize=72)
    assert x.shape == (3, 64, 64)
    # a float image in [0, 1] is filtered without rounding to 8 bits: within 1/255 of the uint8 path
    xf = preprocess(img / 255.0, size=64, resize=72)
    assert xf.dtype == np.float32 and np.abs(xf - x).max() <= 1.01 / 255 / STD.min()
    # a constant image stays constant: (v / 255 - mean) / std per channel, for any mode Pillow converts
    grey = Image.new("L", (50, 40), 128)
    np.testing.assert_allclose(preprocess(grey, size=32, resize=32),
                               np.broadcast_to(((128 / 255 - MEAN) / STD)[:, None, None], (3, 32, 32)), atol=1e-6)


def test_deprocess_inverts_preprocess_on_the_crop():
    img = RNG.integers(0, 256, (256, 300, 3), dtype=np.uint8)
    crop = img[16:240, 38:262].astype(np.float32) / 255  # round(76 / 2) = 38
    back = deprocess(preprocess(img))
    assert back.shape == (224, 224, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, crop, atol=1e-6)
    batch = deprocess(mg.Tensor(np.stack([preprocess(img), preprocess(img[:, ::-1])])))
    assert batch.shape == (2, 224, 224, 3)
    np.testing.assert_allclose(batch[1], crop[:, ::-1], atol=1e-6)
    # values outside the image's range are clipped for display
    assert deprocess(np.full((3, 2, 2), 10.0)).max() == 1.0 and deprocess(np.full((3, 2, 2), -10.0)).min() == 0.0


def test_class_names_are_torchvisions():
    names = class_names()
    assert len(names) == 1000 == len(set(names)) and all(n and n == n.strip() for n in names)
    assert names[:3] == ["tench", "goldfish", "great white shark"]
    assert names[281:286] == ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"]
    assert (names[207], names[417], names[999]) == ("golden retriever", "balloon", "toilet tissue")
    names[0] = "changed"
    assert class_names()[0] == "tench"  # each call a new list: the shipped names cannot be edited


def test_the_make_script_reads_the_list_without_running_the_file(tmp_path):
    # a stand-in for torchvision's wheel: _meta.py would fail if it were imported or executed
    import zipfile

    sys.path.insert(0, os.path.join(os.path.dirname(imagenet.__file__), "data"))
    import make_imagenet_classes as make

    wheel = tmp_path / "torchvision-0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(make.SOURCE, 'raise SystemExit("executed")\n_OTHER = ["x"]\n_IMAGENET_CATEGORIES = [\n'
                                '    "tench",\n    "goldfish",\n]\n')
    assert make.categories(str(wheel)) == ["tench", "goldfish"]
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(make.SOURCE, "_IMAGENET_CATEGORIES = load()\n")  # not a literal: refused, not called
    with pytest.raises(ValueError):
        make.categories(str(wheel))


def test_the_names_file_ships_with_the_package():
    import importlib.resources

    text = importlib.resources.files("demos").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    assert text.splitlines() == class_names()


def test_top_k_orders_classes_by_softmax_probability():
    logits = RNG.standard_normal((2, 1000)) * 3
    logits[0, 281], logits[1, 999] = 20.0, 15.0
    rows = top_k(logits, k=5)
    assert len(rows) == 2 and all(len(r) == 5 for r in rows)
    assert rows[0][0][:2] == (281, "tabby") and rows[1][0][:2] == (999, "toilet tissue")
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for i, row in enumerate(rows):
        probs = [q for _, _, q in row]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-12
        np.testing.assert_allclose(probs, np.sort(p[i])[::-1][:5], rtol=1e-12)
        assert [n for _, n, _ in row] == [class_names()[c] for c, _, _ in row]
    one = top_k(mg.Tensor(logits[0].astype(np.float32)), k=1000)  # one image: no batch list
    assert len(one) == 1000 and one[0][0] == 281 and abs(sum(q for _, _, q in one) - 1) < 1e-9
    assert top_k(np.zeros(1000), k=3) == [(0, "tench", 1e-3), (1, "goldfish", 1e-3), (2, "great white shark", 1e-3)]
    assert top_k(np.array([1e4] + [0.0] * 999), k=2)[0] == (0, "tench", 1.0)  # no overflow


def test_the_networks_default_layer_first_convolution_and_normalisation():
    import layers as L

    resnet, mobilenet, alexnet = L.resnet18(seed=0), L.mobilenet_v2(seed=0), L.alexnet(seed=0, dtype=np.float32)
    assert [imagenet.default_layer(m) for m in (resnet, mobilenet, alexnet)] == ["layer4", "features.18",
                                                                                 "features.11"]
    assert imagenet.first_conv(resnet) is resnet.conv1 and imagenet.first_conv(alexnet) is alexnet.features[0]
    # Normalized(m) on an image in [0, 1] is m on the image normalised as preprocess does
    x = RNG.random((2, 3, 40, 40))
    wrapped = imagenet.Normalized(resnet.eval())
    np.testing.assert_allclose(L.predict(wrapped, x), L.predict(resnet, (x - MEAN[:, None, None]) / STD[:, None, None]),
                               rtol=1e-5, atol=1e-6)
    assert wrapped.model is resnet and resnet.layer4 in wrapped.modules()  # its layers are still targets


def test_load_network_round_trips_a_checkpoint(tmp_path):
    import layers as L

    net = L.mobilenet_v2(seed=1)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}  # as DataParallel saves it
    np.savez(tmp_path / "w.npz", **state)
    loaded = imagenet.load_network("mobilenet_v2", tmp_path / "w.npz")
    assert not loaded.training and loaded.features[0][0].weight.dtype == np.float32
    np.testing.assert_array_equal(loaded.classifier[1].weight.data, net.classifier[1].weight.data.astype(np.float32))
    with pytest.raises(ValueError, match=r"weights: .* does not hold resnet18 weights: \d+ missing key\(s\)"):
        imagenet.load_network("resnet18", tmp_path / "w.npz")


_IMG = np.zeros((40, 50, 3), dtype=np.uint8)
TABLE = [
    ("image list", lambda: preprocess([[0, 0, 0]]), "image"),
    ("image 2-D", lambda: preprocess(np.zeros((40, 50), dtype=np.uint8)), "image"),
    ("image channels first", lambda: preprocess(np.zeros((3, 40, 50), dtype=np.uint8)), "image"),
    ("image empty", lambda: preprocess(np.zeros((0, 50, 3), dtype=np.uint8)), "image"),
    ("image int64", lambda: preprocess(np.zeros((40, 50, 3), dtype=np.int64)), "image"),
    ("image float above 1", lambda: preprocess(np.full((40, 50, 3), 255.0)), "image"),
    ("image nan", lambda: preprocess(np.full((40, 50, 3), np.nan)), "image"),
    ("size 0", lambda: preprocess(_IMG, size=0), "size"),
    ("size float", lambda: preprocess(_IMG, size=224.0), "size"),
    ("resize below size", lambda: preprocess(_IMG, size=224, resize=200), "resize"),
    ("deprocess 2-D", lambda: deprocess(np.zeros((224, 224))), "x"),
    ("deprocess channels last", lambda: deprocess(np.zeros((224, 224, 3))), "x"),
    ("deprocess strings", lambda: deprocess(np.array([["a"]])), "x"),
    ("logits 10 classes", lambda: top_k(np.zeros(10)), "logits"),
    ("logits 3-D", lambda: top_k(np.zeros((1, 1, 1000))), "logits"),
    ("logits nan", lambda: top_k(np.full(1000, np.nan)), "logits"),
    ("k 0", lambda: top_k(np.zeros(1000), k=0), "k"),
    ("k 1001", lambda: top_k(np.zeros(1000), k=1001), "k"),
    ("k float", lambda: top_k(np.zeros(1000), k=2.0), "k"),
    ("arch unknown", lambda: imagenet.load_network("resnet19", "w.pth"), "arch"),
    ("arch not a str", lambda: imagenet.load_network(18, "w.pth"), "arch"),
    ("weights missing", lambda: imagenet.load_network("resnet18", "/nonexistent/w.pth"), "weights"),
    ("default layer of a GAPNet", lambda: imagenet.default_layer(_gapnet()), "model"),
    ("first conv of an MLP", lambda: imagenet.first_conv(_mlp()), "model"),
    ("Normalized of an array", lambda: imagenet.Normalized(np.zeros(3)), "model"),
]


def _gapnet():
    import layers as L

    return L.GAPNet(num_classes=3, widths=(4, 4), seed=0)


def _mlp():
    import layers as L

    return L.MLP((4, 8, 2), seed=0)


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name):
    rejects(call, name)
