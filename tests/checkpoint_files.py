"""What the two checkpoint test files share: exact-equality and refusal checks, the safetensors
reader fixture (the package's, then our own parser), and safetensors bytes written by hand."""
import json
import re
import struct

import pytest

from layers import checkpoint, load_checkpoint


def same(got, want):
    """Bit-exact equality (NaN, -0.0 included), and the array is one the caller may keep and write."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()
    assert got.flags.c_contiguous and got.flags.writeable


def refuses(path, *patterns, **options):
    """load_checkpoint(path) raises a ValueError naming the path and matching every pattern."""
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, **options)
    for pattern in (re.escape(repr(str(path))), *patterns):
        assert re.search(pattern, str(info.value)), f"{pattern!r} not in: {info.value}"
    return str(info.value)


@pytest.fixture(params=["safetensors package", "own parser"])
def safetensors_reader(request, monkeypatch):
    if request.param == "own parser":
        monkeypatch.setattr(checkpoint, "_safetensors_numpy", None)
    elif checkpoint._safetensors_numpy is None:
        pytest.skip("safetensors is not installed")
    return request.param


def safetensors_bytes(header, data, width=0):
    text = json.dumps(header).ljust(width).encode()  # the format pads its header with spaces
    return struct.pack("<Q", len(text)) + text + data
