"""The project's data: make_shapes, scikit-learn's digits, and MNIST IDX files written here."""
import gzip
import struct

import numpy as np
import pytest

from demos.digits import load_digits
from demos.mnist import load_mnist, read_idx
from demos.shapes import CLASSES, make_shapes


def test_make_shapes_is_balanced_seeded_and_masks_match_the_objects():
    X, y, m = make_shapes(60, size=32, seed=3)
    assert X.shape == (60, 3, 32, 32) and X.dtype == np.float32 and y.shape == (60,) and m.shape == (60, 32, 32)
    assert np.bincount(y).tolist() == [10] * len(CLASSES)
    assert 0 <= X.min() and X.max() <= 1
    X2, y2, m2 = make_shapes(60, size=32, seed=3)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, make_shapes(60, size=32, seed=4)[0])
    for i in range(60):
        frac = m[i].mean()
        assert 0.02 < frac < 0.5, (CLASSES[y[i]], frac)
        # the object is brighter than its background in its brightest channel
        inside, outside = X[i][:, m[i]].mean(axis=1), X[i][:, ~m[i]].mean(axis=1)
        assert (inside - outside).max() > 0.25
    ring, disc = m[y == CLASSES.index("ring")], m[y == CLASSES.index("disc")]
    assert ring.mean() < disc.mean()  # rings have holes


def test_make_shapes_labels_every_pixel_with_concepts():
    from demos.shapes import COLOURS, TEXTURES, concept_masks, concept_names

    X, y, m, labels = make_shapes(40, seed=5, labels_out=True)
    assert X.shape == (40, 3, 48, 48)
    np.testing.assert_array_equal(X, make_shapes(40, seed=5)[0])  # labels_out changes nothing else
    c = concept_masks(y, m, labels)
    names = concept_names()
    assert c.shape == (40, len(names), 48, 48) and len(set(names)) == len(names)
    k = {name: i for i, name in enumerate(names)}
    for i in range(40):
        assert (c[i, k[CLASSES[y[i]]]] == m[i]).all() and c[i, :len(CLASSES)].sum() == m[i].sum()
        edge, interior = c[i, k["edge"]], c[i, k["interior"]]
        assert not (edge & interior).any() and ((edge | interior) == m[i]).all() and edge.any()
        colour = list(COLOURS)[labels.colour[i]]
        assert (c[i, k[f"{colour} object"]] == m[i]).all()
        # the objects' pixels have the named colour (within the jitter and noise; thin bars have no interior)
        if interior.sum() >= 5:
            np.testing.assert_allclose(X[i][:, interior].mean(axis=1), COLOURS[colour], atol=0.08)
        texture = list(TEXTURES)[labels.texture[i]]
        assert (c[i, k[f"{texture} background"]] == ~m[i]).all()
    # a textured background varies more than a plain one
    plain = [X[i][:, ~m[i]].std(axis=1).mean() for i in range(40) if labels.texture[i] == 0]
    striped = [X[i][:, ~m[i]].std(axis=1).mean() for i in range(40) if labels.texture[i] == 1]
    assert max(plain) < min(striped)


def test_make_shapes_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n: expected a positive int"):
        make_shapes(0)
    with pytest.raises(ValueError, match="channels: expected 1 or 3"):
        make_shapes(5, channels=2)
    with pytest.raises(ValueError, match="size"):
        make_shapes(5, size=4)


def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.max() == 1.0 and set(y) == set(range(10))


def write_idx(path, array, type_code=0x08, magic=None, truncate=0):
    header = magic if magic is not None else bytes([0, 0, type_code, array.ndim])
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    data = header + array.astype(">u1").tobytes()
    data = data[:len(data) - truncate]
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_mnist_reads_idx_files(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels)
    X, y = load_mnist(tmp_path, "test")
    assert X.shape == (5, 1, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(y, labels)


def test_bad_idx_files_raise_clear_errors(tmp_path):
    arr = np.zeros((3, 4), dtype=np.uint8)
    write_idx(tmp_path / "bad_magic", arr, magic=b"\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="bad IDX magic number"):
        read_idx(tmp_path / "bad_magic")
    write_idx(tmp_path / "short", arr, truncate=3)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "short")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        read_idx(tmp_path / "empty")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
