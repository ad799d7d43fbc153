"""Bad inputs to demos: data makers and file readers raise ValueError/TypeError naming the argument
or the path."""
import os
import sys

import pytest

from demos.images import photograph, procedural_texture
from demos.mnist import load_mnist, read_idx
from demos.shapes import make_shapes

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402


def _write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


TABLE = [
    ("shapes n 0", lambda t: make_shapes(0), "n"),
    ("shapes n float", lambda t: make_shapes(2.5), "n"),
    ("shapes size 4", lambda t: make_shapes(3, size=4), "size"),
    ("shapes channels 2", lambda t: make_shapes(3, channels=2), "channels"),
    ("shapes noise negative", lambda t: make_shapes(3, noise=-0.1), "noise"),
    ("shapes noise nan", lambda t: make_shapes(3, noise=float("nan")), "noise"),
    ("photograph size 2", lambda t: photograph(2), "size"),
    ("texture kind", lambda t: procedural_texture(16, kind="plaid"), "kind"),
    ("texture size float", lambda t: procedural_texture(16.5), "size"),
    ("idx missing", lambda t: read_idx(os.path.join(t, "nothing-idx1-ubyte")), "nothing-idx1-ubyte"),
    ("idx bad magic", lambda t: read_idx(_write(t, "bad-idx1-ubyte", b"\x01\x02\x03\x04")), "bad-idx1-ubyte"),
    ("idx empty", lambda t: read_idx(_write(t, "empty-idx1-ubyte", b"")), "empty-idx1-ubyte"),
    ("idx truncated", lambda t: read_idx(_write(t, "short-idx1-ubyte", b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")),
     "short-idx1-ubyte"),
    ("mnist split", lambda t: load_mnist(t, split="valid"), "split"),
    ("mnist empty directory", lambda t: load_mnist(t), "train-images-idx3-ubyte"),
]


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name, tmp_path):
    rejects(lambda: call(str(tmp_path)), name, errors=(ValueError, TypeError, FileNotFoundError))
