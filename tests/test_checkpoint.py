"""load_checkpoint: PyTorch zip, safetensors and .npz files read into exact NumPy arrays in a process
where torch cannot be imported (broken and hostile files: test_checkpoint_safety.py)."""
import collections
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import layers as L
from layers import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ["float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]
from checkpoint_files import refuses, safetensors_bytes, safetensors_reader, same  # noqa: F401  (a fixture)


# --- files written by torch -------------------------------------------------------------------------------------

def _torch_state_dict(torch):
    """Views of every kind over shared storages, and every dtype (each a transposed, offset view)."""
    g = torch.Generator().manual_seed(0)
    base = torch.arange(24, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["slice"] = base[3:9]                              # storage offset 3
    sd["transposed"] = base.view(4, 6).t()               # non-contiguous
    sd["shared.0"], sd["shared.1"] = base[:12].view(3, 4), base[12:].view(2, 6)  # all four share base's storage
    sd["expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)  # stride 0
    sd["scalar"] = torch.tensor(7, dtype=torch.int64)
    sd["empty"] = torch.zeros(0, 3)
    for name in DTYPES:
        dtype = getattr(torch, name)
        if dtype == torch.bool:
            values = torch.rand(19, generator=g) > 0.5
        elif dtype.is_floating_point:  # large, tiny (subnormal), signed zero, infinities, NaN
            special = torch.tensor([float("inf"), -float("inf"), float("nan"), -0.0, 1e-40, 6e-8], dtype=torch.float64)
            values = torch.cat([torch.randn(13, generator=g, dtype=torch.float64) * 1e3, special]).to(dtype)
        else:
            info = torch.iinfo(dtype)
            values = torch.cat([torch.tensor([info.min, info.max]), torch.randint(-100, 100, (17,), generator=g)])
            values = values.to(dtype)
        sd[name] = values[1:].view(3, 6).t()
    return sd


def _numpy(t):
    """What load_checkpoint must give for tensor t: bfloat16 widened to float32 (exact, as torch does)."""
    return (t.float() if str(t.dtype) == "torch.bfloat16" else t).contiguous().numpy()


_READ_WITHOUT_TORCH = r"""
import json, sys
sys.modules["torch"] = None  # from here on, `import torch` raises ImportError
try:
    import torch
except ImportError:
    pass
else:
    raise SystemExit("torch could be imported")
import numpy as np
from layers import load_checkpoint
files, out = json.loads(sys.argv[1]), sys.argv[2]
np.savez(out, **{f"{name}|{k}": v for name, path in files.items() for k, v in load_checkpoint(path).items()})
assert [m for m in sys.modules if m.split(".")[0] == "torch"] == ["torch"] and sys.modules["torch"] is None
print("import torch raised ImportError")
"""


def test_torch_safetensors_and_npz_files_read_exactly_in_a_process_without_torch(tmp_path):
    torch = pytest.importorskip("torch")
    sd = _torch_state_dict(torch)
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(2)
    opt.step()  # an optimizer's state (tensors too) is saved beside the weights, and not returned
    saved = {"plain.pt": sd, "state_dict.pt": {"epoch": 3, "state_dict": sd, "optimizer": opt.state_dict(),
                                               "lr": 0.1, "arch": "gapnet"},
             "model.pt": {"model": sd, "epoch": 7, "best": [0.5, 0.25]}}
    files = {}
    for name, obj in saved.items():
        torch.save(obj, tmp_path / name)
        files[name] = str(tmp_path / name)
    want = collections.OrderedDict((k, _numpy(v)) for k, v in sd.items())
    np.savez(tmp_path / "weights.npz", **want)
    files["weights.npz"] = str(tmp_path / "weights.npz")
    expected = {name: want for name in files}
    try:
        from safetensors.torch import save_file
        flat = {k: v.contiguous().clone() for k, v in sd.items()}  # safetensors refuses shared storages
        save_file(flat, tmp_path / "weights.safetensors", metadata={"format": "pt"})
        files["weights.safetensors"] = str(tmp_path / "weights.safetensors")
        order = _header_keys(tmp_path / "weights.safetensors")
        expected["weights.safetensors"] = collections.OrderedDict((k, want[k]) for k in order)
    except ImportError:
        pass
    out = tmp_path / "out.npz"
    run = subprocess.run([sys.executable, "-c", _READ_WITHOUT_TORCH, json.dumps(files), str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "import torch raised ImportError" in run.stdout
    with np.load(out) as f:
        got = {name: collections.OrderedDict((k.split("|", 1)[1], f[k]) for k in f.files if k.startswith(name + "|"))
               for name in files}
    for name in files:
        assert list(got[name]) == list(expected[name]), name  # file order
        for k, v in expected[name].items():
            same(got[name][k], v)


def test_views_of_one_storage_come_back_as_separate_owned_arrays(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(_torch_state_dict(torch), tmp_path / "w.pt")
    sd = load_checkpoint(tmp_path / "w.pt")
    assert sd["bfloat16"].dtype == np.float32 and isinstance(sd, collections.OrderedDict)
    assert not np.shares_memory(sd["shared.0"], sd["shared.1"]) and not np.shares_memory(sd["slice"], sd["shared.0"])
    sd["shared.0"][...] = -1  # writing one leaves the others as stored
    np.testing.assert_array_equal(sd["slice"], np.arange(3, 9))
    torch.save(_torch_state_dict(torch), tmp_path / "w4.pt", pickle_protocol=4)  # FRAME, MEMOIZE, STACK_GLOBAL
    for k, v in load_checkpoint(tmp_path / "w4.pt").items():
        same(v, load_checkpoint(tmp_path / "w.pt")[k])


def test_strip_prefix_removes_what_data_parallel_adds_and_the_weights_load_into_layers(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.save(torch.nn.DataParallel(net).state_dict(), tmp_path / "dp.pt")
    assert list(load_checkpoint(tmp_path / "dp.pt")) == ["module.0.weight", "module.0.bias", "module.2.weight",
                                                         "module.2.bias"]  # stripped on request only
    sd = load_checkpoint(tmp_path / "dp.pt", strip_prefix="module.")
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    ours = L.Sequential(L.Linear(3, 4, dtype=np.float32), L.ReLU(), L.Linear(4, 2, dtype=np.float32))
    ours.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, net(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    np.savez(tmp_path / "two.npz", **{"module.a": np.zeros(1), "a": np.ones(1)})
    refuses(tmp_path / "two.npz", "strip_prefix='module.' gives two arrays the same name", strip_prefix="module.")


def test_key_picks_the_nested_state_dict_and_other_values_are_refused_not_dropped(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"epoch": 3, "state_dict": {"w": torch.ones(2)}, "ema": {"w": torch.zeros(2)}}, tmp_path / "c.pt")
    same(load_checkpoint(tmp_path / "c.pt")["w"], np.ones(2, np.float32))
    same(load_checkpoint(tmp_path / "c.pt", key="ema")["w"], np.zeros(2, np.float32))
    refuses(tmp_path / "c.pt", r"key='best' is not an entry of the checkpoint; its entries: \['epoch', "
             r"'state_dict', 'ema'\]", key="best")
    refuses(tmp_path / "c.pt", "entry 'epoch' holds int 3, not a state dict", key="epoch")
    torch.save({"epoch": 3, "weights": {"w": torch.ones(2)}}, tmp_path / "d.pt")
    refuses(tmp_path / "d.pt", r"entry 'epoch' holds int 3, not a tensor .*pick the state dict with key=, one of "
             r"\['weights'\]")
    torch.save({"w": torch.ones(2), "note": "hello"}, tmp_path / "e.pt")
    refuses(tmp_path / "e.pt", "state dict entry 'note' holds str 'hello', not a tensor")
    np.savez(tmp_path / "f.npz", w=np.ones(2))
    refuses(tmp_path / "f.npz", "key='model' picks an entry of a PyTorch checkpoint", key="model")


def test_parameters_with_attributes_read_and_lazy_views_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.arange(4.0))
    p.note = "kept by _rebuild_parameter_with_state"
    torch.save({"p": p}, tmp_path / "p.pt")
    same(load_checkpoint(tmp_path / "p.pt")["p"], np.arange(4, dtype=np.float32))
    torch.save({"n": torch.arange(3.0)._neg_view()}, tmp_path / "n.pt")  # stored bytes are not its values
    refuses(tmp_path / "n.pt", r"metadata \{'neg': True\}, which is not supported")


def test_a_pickled_module_and_a_legacy_file_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")
    refuses(tmp_path / "module.pt", "global 'torch.nn.modules.linear.Linear', refused without running it")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    refuses(tmp_path / "legacy.pt", "it is a pickle .*saved before 1.6")
    torch.save({"w": torch.ones(1000)}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:2000])
    refuses(tmp_path / "cut.pt", "starts as a zip archive but is truncated or damaged")


# --- safetensors and .npz ------------------------------------------------------------------------------------------

def _header_keys(path):
    """The tensors' names in the order of a safetensors header (its writer sorts by dtype size, then name)."""
    data = path.read_bytes()
    header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
    return [k for k in header if k != "__metadata__"]


def test_safetensors_written_by_the_package_read_exactly(tmp_path, safetensors_reader):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    arrays = {f"x.{d}": (rng.standard_normal((3, 4)) * 100).astype(d) for d in ("f2", "f4", "f8")}
    for d in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"):  # the whole range of each
        arrays[f"x.{d}"] = rng.integers(np.iinfo(d).min, np.iinfo(d).max, (3, 4), dtype=d, endpoint=True)
    arrays["mask"], arrays["scalar"], arrays["empty"] = rng.random((2, 5)) > 0.5, np.array(3.5, "f4"), np.zeros((0, 4))
    st.save_file(arrays, tmp_path / "w.safetensors", metadata={"epoch": "3"})
    sd = load_checkpoint(tmp_path / "w.safetensors")
    assert list(sd) == _header_keys(tmp_path / "w.safetensors") and sorted(sd) == sorted(arrays)
    for k, v in arrays.items():
        same(sd[k], np.array(v, order="C"))


def test_safetensors_bfloat16_widens_exactly(tmp_path, safetensors_reader):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    t = torch.tensor([1.0, -2.5, 3.0e38, 1e-40, -0.0, float("inf"), float("nan")], dtype=torch.bfloat16)
    st.save_file({"b": t.view(7, 1), "a": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "b.safetensors")
    sd = load_checkpoint(tmp_path / "b.safetensors")
    same(sd["b"], t.float().numpy().reshape(7, 1))
    assert list(sd) == ["a", "b"]


def test_our_safetensors_parser_reads_the_documented_format_by_hand(tmp_path, safetensors_reader):
    bf16 = np.array([0x3F80, 0xC020, 0x7F80], "<u2")  # 1.0, -2.5, inf: the top halves of float32s
    header = {"__metadata__": {"format": "np"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "h": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}
    path = tmp_path / "w.bin"  # the extension does not matter: the content tells the format
    data = np.arange(4, dtype="<f4").tobytes() + bf16.tobytes()
    path.write_bytes(safetensors_bytes(header, data, width=384))  # its length's first byte is \x80, as a pickle's
    sd = load_checkpoint(path)
    assert list(sd) == ["w", "h"]
    same(sd["w"], np.arange(4, dtype=np.float32).reshape(2, 2))
    same(sd["h"], np.array([1.0, -2.5, np.inf], np.float32))
    path.write_bytes(path.read_bytes()[:-3])
    refuses(path, "safetensors entry 'h' is .*data offsets within the 19 bytes of data \\(truncated\\?\\)")
    path.write_bytes(safetensors_bytes({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))
    refuses(path, "safetensors entry 'w' is .*expected a known dtype")
    path.write_bytes(struct.pack("<Q", 5) + b"{oops")
    refuses(path, "its safetensors header is not JSON")
    path.write_bytes(struct.pack("<Q", 500) + b"{}")
    refuses(path, "its safetensors header claims 500 bytes but only 2 follow")


def test_npz_files_read_in_order_in_native_byte_order(tmp_path):
    arrays = {"z": np.arange(6, dtype=">f4").reshape(2, 3), "a": np.array([True, False]),
              "m": np.arange(4, dtype=np.int16)}
    np.savez(tmp_path / "w.npz", **arrays)
    sd = load_checkpoint(tmp_path / "w.npz")
    assert list(sd) == ["z", "a", "m"]
    same(sd["z"], np.arange(6, dtype=np.float32).reshape(2, 3))
    net = L.MLP((4, 3, 2), seed=0)
    net.save(tmp_path / "net.npz")
    for k, v in net.state_dict().items():
        same(load_checkpoint(tmp_path / "net.npz")[k], v)
