"""Read PyTorch, safetensors and ``.npz`` checkpoints into NumPy arrays, without torch and without
ever running code from the file.

A checkpoint is untrusted input: ``torch.load(weights_only=False)`` and ``np.load(allow_pickle=True)``
run whatever its pickles ask for. The format is told by the first bytes, never by the file's name:

- ``PK``: a zip. ``torch.save`` (since 1.6) writes ``<archive>/data.pkl`` (the pickled object),
  ``<archive>/data/<key>`` (each storage's raw bytes), ``<archive>/byteorder`` (``little`` or
  ``big``), ``<archive>/version`` and some bookkeeping records. A zip of ``.npy`` members is an ``.npz``.
- a little-endian 8-byte length, then ``{``: safetensors (a JSON header giving each tensor's
  ``dtype``, ``shape`` and ``data_offsets`` into the bytes that follow, and ``__metadata__``).
- ``\\x80`` (pickle's PROTO opcode): a legacy (pre-1.6) torch file or a bare pickle: refused.

How ``data.pkl`` holds one tensor (``pickletools.dis`` of a file written by torch 2.13)::

    GLOBAL 'torch._utils _rebuild_tensor_v2'      the callable, looked up through find_class
    MARK                                          its arguments:
      MARK 'storage' GLOBAL 'torch FloatStorage' '0' 'cpu' 24 TUPLE BINPERSID
                                                  -> persistent_load(('storage', type, key, location, numel))
      3 (6,) (1,) False OrderedDict()             storage offset, size, stride (in elements), requires_grad, hooks
    TUPLE REDUCE                                  the call itself

A state dict is ``GLOBAL 'collections OrderedDict'`` ``REDUCE`` then ``SETITEMS`` (and a ``BUILD`` that
sets its ``_metadata``); an ``nn.Parameter`` wraps its tensor in ``torch._utils _rebuild_parameter``
(``_rebuild_parameter_with_state`` when it carries attributes). Every GLOBAL / STACK_GLOBAL / INST / OBJ
goes through ``find_class``, the only door to code, and ours opens it to the names in ``_ALLOWED`` only,
each mapped to a pure-NumPy stand-in (the opcodes themselves are listed by ``pickletools.genops`` first, and
any outside ``_OPCODES`` refused). torch 2.13 names storages by the legacy typed classes
(``torch FloatStorage``, ...), never ``torch.storage.UntypedStorage`` / ``TypedStorage``, so those are
refused like any other name. The stand-ins only record what they are given; bytes are read, bounds
checked, after unpickling and only for the state dict that is returned.

NumPy has no bfloat16: a bfloat16 is the top 16 bits of a float32, so it is widened to float32
exactly (its bits shifted up by 16). Arrays come back owned, C-contiguous, in native byte order.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import zipfile
import zlib

import numpy as np

try:  # optional: the format's reference reader; our own parser reads the file without it
    import safetensors.numpy as _safetensors_numpy
except ImportError:
    _safetensors_numpy = None

_StorageType = collections.namedtuple("_StorageType", "kind")  # stands for torch.FloatStorage etc. (not callable)
_StorageRef = collections.namedtuple("_StorageRef", "kind key numel")
_TensorRef = collections.namedtuple("_TensorRef", "storage offset size stride")
# element kinds: a NumPy type code, or bf16 / bool (stored as uint16 / one byte, converted once read)
_TORCH_STORAGES = {"FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
                   "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
                   "ByteStorage": "u1", "BoolStorage": "bool"}
_SAFETENSORS_DTYPES = {"F64": "f8", "F32": "f4", "F16": "f2", "BF16": "bf16", "I64": "i8", "I32": "i4",
                       "I16": "i2", "I8": "i1", "U64": "u8", "U32": "u4", "U16": "u2", "U8": "u1", "BOOL": "bool"}


class _Unreadable(Exception):
    """Why a file cannot be read; ``load_checkpoint`` puts the path in front."""


def _naturals(values):
    """Is ``values`` a tuple of ints >= 0 (not bools, not floats)? Sizes, strides, offsets, counts."""
    return isinstance(values, tuple) and all(type(v) is int and v >= 0 for v in values)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: checks and records the view, reads nothing."""
    if not isinstance(storage, _StorageRef):
        raise _Unreadable(f"a tensor's storage is a {type(storage).__name__}, not a storage record")
    if not (_naturals((storage_offset,)) and _naturals(size) and _naturals(stride) and len(size) == len(stride)):
        raise _Unreadable(f"a tensor has storage offset {storage_offset!r:.40}, size {size!r:.60}, stride "
                          f"{stride!r:.60}; expected ints >= 0 and one stride per dimension")
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if 0 not in size and last >= storage.numel:  # as_strided must never read past the storage
        raise _Unreadable(f"a tensor of size {size}, stride {stride}, offset {storage_offset} reaches element "
                          f"{last} of storage '{storage.key}', which holds {storage.numel}")
    if metadata:  # e.g. {'neg': True} of a lazily negated view: its values are not the stored bytes
        raise _Unreadable(f"a tensor carries metadata {metadata!r:.60}, which is not supported")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_):
    """Stand-in for ``torch._utils._rebuild_parameter(_with_state)``: a parameter is its tensor."""
    return data


# Opcodes are checked before any is run. Allowed: those of pickle protocols 0-4 (torch.save writes 2, or what its
# pickle_protocol asks) except EXT1/2/4, whose cache (copyreg._extension_cache) can hand out objects without asking
# find_class; and not protocol 5's buffers: the C unpickler allocates a BYTEARRAY8's stated length before reading it.
_OPCODES = {op.code for op in pickletools.opcodes if op.proto <= 4 and not op.name.startswith("EXT")}
_ALLOWED = {"collections.OrderedDict": collections.OrderedDict,
            "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
            "torch._utils._rebuild_parameter": _rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
            **{f"torch.{name}": _StorageType(kind) for name, kind in _TORCH_STORAGES.items()}}


class _TensorUnpickler(pickle.Unpickler):
    """Unpickles OrderedDicts, tensors, parameters and storages, and nothing else that names code."""

    def find_class(self, module, name):
        if f"{module}.{name}" not in _ALLOWED:
            raise _Unreadable(f"data.pkl asks for the global '{module}.{name}', refused without running it (a "
                              f"tensor checkpoint needs only collections.OrderedDict, torch._utils._rebuild_* "
                              f"and torch.<dtype>Storage)")
        return _ALLOWED[f"{module}.{name}"]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and isinstance(pid[2], str) and _naturals(pid[4:])):
            raise _Unreadable(f"data.pkl holds the persistent id {pid!r:.80}; expected ('storage', "
                              f"torch.<dtype>Storage, key, location, numel)")
        return _StorageRef(pid[1].kind, pid[2], pid[4])


def _raw_dtype(kind, order):
    """The dtype of the stored bytes: bfloat16 as uint16, bool as its byte; ``order`` '<' or '>'."""
    return np.dtype({"bf16": "u2", "bool": "u1"}.get(kind, kind)).newbyteorder(order)


def _owned(view, kind):
    """An owned C-contiguous native-order copy of ``view``, bfloat16 widened, bool read from its byte."""
    arr = view.astype(view.dtype.newbyteorder("="), order="C")
    if kind == "bf16":
        wide = arr.astype(np.uint32)
        wide <<= 16  # in place, so that a 0-d array stays an array
        return wide.view(np.float32)
    return arr.astype(bool) if kind == "bool" else arr


def _state_dict(obj, key):
    """The dict of tensor records to return: ``obj[key]``, else ``obj["state_dict"]`` or ``obj["model"]``
    when one is a dict (in that order), else ``obj``. Every value must be a tensor."""
    if not isinstance(obj, dict):
        raise _Unreadable(f"it holds {type(obj).__name__} {obj!r:.40}, not a dict of tensors")
    nested = [k for k, v in obj.items() if isinstance(v, dict)]
    if key is not None and key not in obj:
        raise _Unreadable(f"key={key!r} is not an entry of the checkpoint; its entries: {list(obj)[:10]}")
    chosen = key if key is not None else next((k for k in ("state_dict", "model") if k in nested), None)
    state = obj if chosen is None else obj[chosen]
    if not isinstance(state, dict):
        raise _Unreadable(f"entry {chosen!r} holds {type(state).__name__} {state!r:.40}, not a state dict")
    for k, v in state.items():
        if not (isinstance(k, str) and isinstance(v, _TensorRef)):  # refused rather than dropped in silence
            hint = f"; pick the state dict with key=, one of {nested}" if chosen is None and nested else ""
            raise _Unreadable(f"state dict entry {k!r:.60} holds {type(v).__name__} {v!r:.40}, not a tensor "
                              f"(only tensors are returned){hint}")
    return state


def _read_torch_zip(archive, prefix, key):
    names = set(archive.namelist())
    order = archive.read(prefix + "byteorder") if prefix + "byteorder" in names else b"little"
    if order not in (b"little", b"big"):  # torch too reads a file without this record as little-endian
        raise _Unreadable(f"its byteorder record is {order[:20]!r}; expected b'little' or b'big'")
    data = archive.read(prefix + "data.pkl")
    try:
        for op, _, pos in pickletools.genops(data):  # only reads: every length is checked against the data too
            if op.code not in _OPCODES:
                raise _Unreadable(f"data.pkl uses the opcode {op.name} (byte {pos}), which a tensor checkpoint never "
                                  f"needs; refused")
        obj = _TensorUnpickler(io.BytesIO(data)).load()
    except _Unreadable:
        raise
    except Exception as e:  # any failure of a hostile or damaged pickle is a file we cannot read
        raise _Unreadable(f"data.pkl is not a pickled dict of tensors ({type(e).__name__}: {e})") from None
    storages = {}  # (key, kind) -> the storage's elements, read once however many tensors view them
    out = collections.OrderedDict()
    for k, ref in _state_dict(obj, key).items():
        s = ref.storage
        if (s.key, s.kind) not in storages:
            name = f"{prefix}data/{s.key}"
            if name not in names:
                raise _Unreadable(f"the storage record {name!r} of tensor {k!r} is missing")
            dtype = _raw_dtype(s.kind, "<" if order == b"little" else ">")
            storages[s.key, s.kind] = np.frombuffer(archive.read(name), dtype)
        raw = storages[s.key, s.kind]
        if raw.size != s.numel:  # checked on every use: the bounds check counted on numel
            raise _Unreadable(f"the storage record of tensor {k!r} holds {raw.size} elements, expected {s.numel}")
        view = np.lib.stride_tricks.as_strided(raw[ref.offset:], ref.size, [n * raw.itemsize for n in ref.stride],
                                               writeable=False)
        out[k] = _owned(view, s.kind)
    return out


def _safetensors_entry(entry, data_size):
    """(kind, shape, begin, count) of one safetensors header entry, or None if it is malformed."""
    if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str):
        return None
    kind = _SAFETENSORS_DTYPES.get(entry["dtype"])
    shape, offsets = (tuple(v) if isinstance(v, list) else None
                      for v in (entry.get("shape"), entry.get("data_offsets")))
    if not (kind and _naturals(shape) and _naturals(offsets) and len(offsets) == 2):
        return None
    count = int(np.prod(shape))
    ok = offsets[1] - offsets[0] == count * _raw_dtype(kind, "<").itemsize and offsets[1] <= data_size
    return (kind, shape, offsets[0], count) if ok else None


def _read_safetensors(path, size):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > size - 8:
            raise _Unreadable(f"its safetensors header claims {n} bytes but only {size - 8} follow (truncated?)")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise _Unreadable(f"its safetensors header is not JSON ({e})") from None
        if not isinstance(header, dict):
            raise _Unreadable(f"its safetensors header is a JSON {type(header).__name__}, expected an object")
        header.pop("__metadata__", None)
        entries = {k: _safetensors_entry(e, size - 8 - n) for k, e in header.items()}
        for k, entry in entries.items():
            if entry is None:
                raise _Unreadable(f"safetensors entry {k!r} is {header[k]!r:.100}; expected a known dtype, a "
                                  f"shape and data offsets within the {size - 8 - n} bytes of data (truncated?)")
        if _safetensors_numpy is not None and all(kind != "bf16" for kind, *_ in entries.values()):
            try:  # NumPy has no bfloat16, so files holding one are ours to read
                arrays = _safetensors_numpy.load_file(path)
            except Exception as e:  # the package's own checks (offsets must tile the data) also refuse
                raise _Unreadable(f"the safetensors package refuses it ({e})") from None
            return collections.OrderedDict((k, arrays[k]) for k in entries)
        data = f.read()
    return collections.OrderedDict((k, _owned(np.frombuffer(data, _raw_dtype(kind, "<"), count, begin).reshape(shape),
                                              kind)) for k, (kind, shape, begin, count) in entries.items())


def _read_npz(archive):
    """The arrays of an .npz (np.savez's zip of .npy members), read member by member, never unpickled."""
    out = collections.OrderedDict()
    for name in archive.namelist():
        try:
            with archive.open(name) as member:
                arr = np.lib.format.read_array(member, allow_pickle=False)
        except Exception as e:  # numpy refuses object arrays (unpickling could run code), or a damaged member
            raise _Unreadable(f"entry {name[:-4]!r} cannot be read as a plain array ({type(e).__name__}: "
                              f"{e})") from None
        out[name[:-4]] = _owned(arr, None)
    return out


def _read(path, key):
    """The state dict in ``path`` as an OrderedDict of arrays, format told by the first bytes."""
    if not os.path.isfile(path):
        raise _Unreadable("no such file" if not os.path.exists(path) else "it is not a file")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
                if len(pkls) == 1:
                    return _read_torch_zip(archive, pkls[0][:-len("data.pkl")], key)
                if not all(n.endswith(".npy") for n in names):  # np.savez() of nothing is an empty zip
                    raise _Unreadable(f"it is a zip archive but neither a PyTorch checkpoint (one <archive>/data.pkl)"
                                      f" nor an .npz (only .npy members); it holds {names[:5]}")
                arrays = _read_npz(archive)
        # zipfile's errors for a damaged or cut archive, a member it cannot decompress or one that is encrypted
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
            raise _Unreadable(f"it starts as a zip archive but is truncated or damaged ({type(e).__name__}: "
                              f"{e})") from None
    elif head[8:9] == b"{" and head[4:8] == b"\0\0\0\0":  # the length's high bytes are 0 (a header is < 100 MB)
        arrays = _read_safetensors(path, size)  # before the pickle test: a 384-byte header's length starts \x80
    elif head.startswith(b"\x80"):
        raise _Unreadable("it is a pickle (a PyTorch file saved before 1.6 or with _use_new_zipfile_serialization="
                          "False, or a bare pickle); refused, as unpickling can run code: save it again with "
                          "torch.save in torch >= 1.6, or as safetensors")
    elif head.startswith(b"\x93NUMPY"):
        raise _Unreadable("it is an .npy file holding one array, not a state dict of named arrays")
    else:
        raise _Unreadable(f"it is not a checkpoint: {'it is empty' if not head else f'it starts with {head!r}'}; "
                          f"expected a PyTorch zip, safetensors or .npz file")
    if key is not None:
        raise _Unreadable(f"key={key!r} picks an entry of a PyTorch checkpoint, but this file is a flat dict")
    return arrays


def load_checkpoint(path, strip_prefix=None, *, key=None):
    """Read the state dict in a PyTorch (zip, torch >= 1.6), safetensors or ``.npz`` file, without torch.

    Returns an ``OrderedDict`` name -> ``np.ndarray`` in file order (for safetensors, its header's order),
    each array owned, C-contiguous and in native byte order, with the stored dtype: float16/32/64,
    int8/16/32/64, uint8 (and uint16/32/64 from safetensors), bool; bfloat16 becomes float32, exactly.
    Shapes are PyTorch's (a Conv2d weight ``(out, in, kh, kw)``), ready for ``Module.load_state_dict``.

    - ``strip_prefix``: removed from the keys that start with it (``"module."``, which ``DataParallel``
      adds); off unless asked.
    - ``key``: in a PyTorch checkpoint, the entry holding the state dict. By default the entry
      ``"state_dict"``, else ``"model"`` (as training scripts save ``{"epoch": 3, "state_dict": ...}``),
      is taken when it is a dict, else the whole dict. Other entries may hold anything made of plain
      Python values and tensors; they are not returned.

    Nothing in the file is ever run: PyTorch's pickle is read by an unpickler that rebuilds only
    OrderedDicts, tensors and storages, and ``.npz`` object arrays are never unpickled. A value of the
    returned state dict that is not a tensor raises rather than being dropped, so nothing goes missing
    unnoticed. Every problem raises ``ValueError`` naming the path and what was expected: a missing,
    empty, truncated or unknown file, a legacy (pre-1.6) or bare pickle, a global other than those
    needed (named as ``module.name``), a tensor reaching outside its storage.
    """
    path = os.fspath(path)
    for name, value in (("strip_prefix", strip_prefix), ("key", key)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"load_checkpoint: {name}: expected a str or None, got {type(value).__name__} "
                            f"{value!r:.40}")
    try:
        arrays = _read(path, key)
        if not arrays:
            raise _Unreadable("it holds no arrays")
        if strip_prefix:
            stripped = collections.OrderedDict((k.removeprefix(strip_prefix), v) for k, v in arrays.items())
            if len(stripped) < len(arrays):
                raise _Unreadable(f"strip_prefix={strip_prefix!r} gives two arrays the same name")
            arrays = stripped
    except (_Unreadable, OSError) as e:
        raise ValueError(f"load_checkpoint: cannot read {path!r}: {e}") from None
    return arrays
