"""Reading MNIST from the standard IDX files (LeCun et al.), gzipped or not. Never downloads."""
import gzip
import os

import numpy as np

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path):
    """Parse one IDX file: magic (0, 0, type code, ndim), ndim big-endian uint32 sizes, data."""
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read IDX file: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{path}: bad IDX magic number {raw[:4].hex() or 'empty file'}; "
                         f"expected 0000 then a type code in {sorted(_TYPES)} and ndim")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, expected {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX data has {len(raw) - header} bytes, expected {expected} "
                         f"for shape {shape} of {dtype} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(directory, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{directory}: no {stem} or {stem}.gz (download MNIST's IDX files there)")


def load_mnist(directory, split="train"):
    """images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,) from ``directory``.

    split: 'train' (train-*-idx?-ubyte[.gz]) or 'test' (t10k-*).
    """
    if split not in _FILES:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    img_path, lab_path = (_find(directory, s) for s in _FILES[split])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise ValueError(f"{img_path}: expected a 3-D image array (N, rows, cols), got shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{lab_path}: expected a 1-D label array, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{directory}: {len(images)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        raise ValueError(f"{lab_path}: MNIST labels are digits 0-9, got {len(bad)} outside (e.g. {int(labels[bad[0]])} "
                         f"at item {int(bad[0])}): not an MNIST label file, or a corrupt one")
    return (images[:, None] / 255.0).astype(np.float32), labels.astype(np.int64)
