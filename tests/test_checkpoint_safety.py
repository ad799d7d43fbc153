"""load_checkpoint refuses broken and hostile files without running anything: hand-built torch pickles
opcode by opcode, damaged and truncated files, and payloads that fire when a file is loaded unsafely."""
import collections
import os
import pickle
import re
import shlex
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from layers import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ["float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]
from checkpoint_files import refuses, safetensors_bytes, safetensors_reader, same  # noqa: F401  (a fixture)


# --- torch checkpoints written by hand, opcode by opcode (no torch needed) ------------------------------------------

def _op_str(s):
    return b"X" + struct.pack("<I", len(s.encode())) + s.encode()  # BINUNICODE


def _op_int(i):
    return b"J" + struct.pack("<i", i)  # BININT


def _op_tuple(*items):
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _op_global(dotted):
    module, _, name = dotted.rpartition(".")
    return b"c" + f"{module}\n{name}\n".encode()  # GLOBAL


def _tensor_ops(storage, key, numel, offset, size, stride):
    """What torch.save writes for one tensor: _rebuild_tensor_v2(<storage>, offset, size, stride, False, {})."""
    pid = _op_tuple(_op_str("storage"), _op_global(f"torch.{storage}"), _op_str(key), _op_str("cpu"), _op_int(numel))
    return _op_global("torch._utils._rebuild_tensor_v2") + _op_tuple(
        pid + b"Q", _op_int(offset), _op_tuple(*map(_op_int, size)), _op_tuple(*map(_op_int, stride)), b"\x89",
        _op_global("collections.OrderedDict") + b")R") + b"R"


def _torch_zip(path, entries, records, byteorder=b"little", data_pkl=None):
    """A file laid out as torch.save writes it; ``entries`` maps keys to opcodes, ``records`` storage keys
    to bytes."""
    body = b"".join(_op_str(k) + ops for k, ops in entries.items())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data_pkl or b"\x80\x02" + _op_global("collections.OrderedDict") + b")R(" +
                   body + b"u.")
        if byteorder is not None:
            z.writestr("archive/byteorder", byteorder)
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")
    return path


def _two_views(tmp_path, byteorder):
    order = "<" if byteorder == b"little" else ">"
    entries = {"w": _tensor_ops("FloatStorage", "0", 8, 1, (2, 3), (1, 2)),  # offset 1, transposed
               "i": _tensor_ops("ShortStorage", "1", 3, 0, (3,), (1,))}
    records = {"0": np.arange(8, dtype=f"{order}f4").tobytes(), "1": np.array([-2, 0, 300], f"{order}i2").tobytes()}
    return _torch_zip(tmp_path / f"{byteorder.decode()}.pt", entries, records, byteorder)


@pytest.mark.parametrize("byteorder", [b"little", b"big"])
def test_hand_built_checkpoints_read_in_either_byte_order(tmp_path, byteorder):
    sd = load_checkpoint(_two_views(tmp_path, byteorder))
    same(sd["w"], np.arange(1, 7, dtype=np.float32).reshape(3, 2).T.copy())
    same(sd["i"], np.array([-2, 0, 300], np.int16))


def test_hand_built_checkpoints_are_what_torch_reads(tmp_path):
    torch = pytest.importorskip("torch")
    for byteorder in (b"little", b"big"):
        path = _two_views(tmp_path, byteorder)
        ours, theirs = load_checkpoint(path), torch.load(path, weights_only=True)
        for k in ours:
            same(ours[k], theirs[k].contiguous().numpy())


def test_damaged_torch_checkpoints_are_refused_before_reading_outside_a_storage(tmp_path):
    f4 = np.zeros(4, "<f4").tobytes()
    cases = {
        "reaches element 5 of storage '0', which holds 4": (
            {"w": _tensor_ops("FloatStorage", "0", 4, 2, (2, 2), (2, 1))}, {"0": f4}),
        "expected ints >= 0 and one stride per dimension": (
            {"w": _tensor_ops("FloatStorage", "0", 4, 0, (2,), (1, 1))}, {"0": f4}),
        "the storage record 'archive/data/0' of tensor 'w' is missing": (
            {"w": _tensor_ops("FloatStorage", "0", 4, 0, (4,), (1,))}, {}),
        "the storage record of tensor 'w' holds 2 elements, expected 4": (
            {"w": _tensor_ops("FloatStorage", "0", 4, 0, (4,), (1,))}, {"0": f4[:8]}),
        "global 'torch.UntypedStorage', refused": ({"w": _tensor_ops("UntypedStorage", "0", 16, 0, (4,), (1,))},
                                                   {"0": f4}),
    }
    for i, (message, (entries, records)) in enumerate(cases.items()):
        refuses(_torch_zip(tmp_path / f"{i}.pt", entries, records), re.escape(message))
    refuses(_torch_zip(tmp_path / "order.pt", {}, {}, byteorder=b"middle"), "byteorder record is b'middle'")
    refuses(_torch_zip(tmp_path / "junk.pt", {}, {}, data_pkl=b"\x80\x02junk"), "data.pkl is not a pickled dict")
    refuses(_torch_zip(tmp_path / "buffer.pt", {}, {}, data_pkl=pickle.dumps(bytearray(b"x"), protocol=5)),
             r"data.pkl uses the opcode BYTEARRAY8 \(byte 11\), which a tensor checkpoint never needs")
    refuses(_torch_zip(tmp_path / "ext.pt", {}, {}, data_pkl=b"\x80\x02\x82\x01."), "the opcode EXT1 .byte 2.")
    refuses(_torch_zip(tmp_path / "list.pt", {}, {}, data_pkl=pickle.dumps([1, 2])),
             r"it holds list \[1, 2\], not a dict of tensors")


def test_bad_files_are_refused_with_what_was_expected(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello, these are not weights\n")
    (tmp_path / "bare.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    np.save(tmp_path / "one.npy", np.ones(3))
    np.savez(tmp_path / "none.npz")
    with zipfile.ZipFile(tmp_path / "docs.zip", "w") as z:
        z.writestr("docs/readme.txt", "hello")
    np.savez(tmp_path / "whole.npz", w=np.ones(1000))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:3000])
    np.savez_compressed(tmp_path / "packed.npz", w=np.arange(1000.0))
    packed = bytearray((tmp_path / "packed.npz").read_bytes())
    packed[200:260] = bytes(60)  # inside the deflated member: zipfile's CRC or zlib catches it
    (tmp_path / "damaged.npz").write_bytes(packed)
    whole = _two_views(tmp_path, b"little").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[:len(whole) // 2])
    refuses(tmp_path / "missing.pt", "no such file")
    refuses(tmp_path, "it is not a file")
    refuses(tmp_path / "empty.pt", "it is not a checkpoint: it is empty; expected a PyTorch zip, safetensors or .npz")
    refuses(tmp_path / "notes.txt", "it is not a checkpoint: it starts with b'hello, th'")
    refuses(tmp_path / "bare.pkl", "it is a pickle .*refused, as unpickling can run code")
    refuses(tmp_path / "one.npy", "an .npy file holding one array, not a state dict")
    refuses(tmp_path / "none.npz", "it holds no arrays")
    refuses(tmp_path / "docs.zip", r"neither a PyTorch checkpoint .* it holds \['docs/readme.txt'\]")
    refuses(tmp_path / "cut.npz", "truncated or damaged")
    refuses(tmp_path / "damaged.npz", "entry 'w' cannot be read as a plain array")
    refuses(tmp_path / "cut.pt", "truncated or damaged")
    for name in ("strip_prefix", "key"):
        with pytest.raises(TypeError, match=f"load_checkpoint: {name}: expected a str or None, got int 3"):
            load_checkpoint(tmp_path / "whole.npz", **{name: 3})


def test_randomly_damaged_files_raise_value_error_and_nothing_else(tmp_path, safetensors_reader):
    rng = np.random.default_rng(0)
    np.savez_compressed(tmp_path / "w.npz", w=np.ones((3, 4)), i=np.arange(4))
    (tmp_path / "w.safetensors").write_bytes(safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
         "i": {"dtype": "I16", "shape": [3], "data_offsets": [16, 22]}}, bytes(range(22))))
    with zipfile.ZipFile(_two_views(tmp_path, b"big")) as z:
        data_pkl = z.read("archive/data.pkl")
    for whole in (_two_views(tmp_path, b"big"), tmp_path / "w.npz", tmp_path / "w.safetensors", "data.pkl"):
        data = data_pkl if whole == "data.pkl" else whole.read_bytes()  # zipfile's CRC would stop most changes
        for trial in range(100):
            damaged = bytearray(data[:rng.integers(len(data))] if trial % 2 else data)  # cut short, or
            if trial % 2 == 0:  # one to three bytes overwritten
                for i in rng.integers(len(data), size=rng.integers(1, 4)):
                    damaged[i] = rng.integers(256)
            if whole == "data.pkl":  # the pickle itself damaged, in a sound zip
                _torch_zip(tmp_path / "damaged", {}, {"0": bytes(32), "1": bytes(6)}, b"big", data_pkl=bytes(damaged))
            else:
                (tmp_path / "damaged").write_bytes(damaged)
            try:
                load_checkpoint(tmp_path / "damaged")  # a changed value byte still reads
            except ValueError as e:
                assert str(e).startswith(f"load_checkpoint: cannot read {str(tmp_path / 'damaged')!r}: ")


# --- hostile files: the payload fires when loaded unsafely, and never through load_checkpoint ------------------

class _Shell:
    """Unpickling this runs a shell command (GLOBAL 'posix system') that creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(self.marker)}",)


class _Exec(_Shell):
    """Unpickling this runs Python (GLOBAL 'builtins exec') that creates the marker file."""

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def _fires(code, path, marker):
    """Loading ``path`` unsafely (``code``, in a throwaway process) creates ``marker``; then it is removed."""
    assert not marker.exists()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, timeout=600)
    assert marker.exists(), "the payload did not fire: this test would prove nothing"
    marker.unlink()


@pytest.mark.parametrize("payload, protocol, name", [(_Shell, 2, "posix.system"), (_Exec, 4, "builtins.exec")])
def test_a_torch_zip_whose_pickle_runs_code_is_refused_without_running_it(tmp_path, payload, protocol, name):
    marker = tmp_path / "marker"
    path = _torch_zip(tmp_path / "evil.pt", {}, {}, data_pkl=pickle.dumps(payload(marker), protocol=protocol))
    _fires("import pickle, sys, zipfile; pickle.loads(zipfile.ZipFile(sys.argv[1]).read('archive/data.pkl'))",
           path, marker)
    refuses(path, f"data.pkl asks for the global '{re.escape(name)}', refused without running it")
    assert not marker.exists()


def test_a_payload_hidden_in_a_state_dict_value_is_refused_without_running_it(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "marker"
    state = collections.OrderedDict(weight=torch.ones(2, 2), bias=_Shell(marker))
    torch.save({"epoch": 3, "state_dict": state}, tmp_path / "evil.pt")
    _fires("import sys, torch; torch.load(sys.argv[1], weights_only=False)", tmp_path / "evil.pt", marker)
    refuses(tmp_path / "evil.pt", "global 'posix.system', refused without running it")
    assert not marker.exists()


def test_an_npz_object_array_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    evil = np.empty(1, dtype=object)
    evil[0] = _Shell(marker)
    np.savez(tmp_path / "evil.npz", weight=np.ones(3), evil=evil)
    _fires("import sys, numpy; numpy.load(sys.argv[1], allow_pickle=True)['evil']", tmp_path / "evil.npz", marker)
    refuses(tmp_path / "evil.npz", r"entry 'evil' cannot be read as a plain array \(ValueError: Object arrays")
    assert not marker.exists()
