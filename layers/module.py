"""``Module`` and ``Sequential`` in the PyTorch manner, with PyTorch's state-dict keys.

Parameters and sub-modules are found by looking at a module's attributes in the order
they were assigned, which is the order PyTorch registers them in; so for the same
architecture ``state_dict()`` has the same keys ("0.weight", "features.3.bias", ...) and
the same array layouts, and weights move between the two as a dict of NumPy arrays.
"""
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from minigrad import Tensor
from minigrad.argument_checks import dtype as check_dtype
from minigrad.capture import run_module


class Parameter(Tensor):
    """A leaf tensor that a module owns and an optimizer updates (requires grad by default)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Buffer(Tensor):
    """A tensor a module keeps in its state dict but no optimizer updates (BatchNorm's running
    statistics, PyTorch's ``register_buffer``): never requires grad."""

    def __init__(self, data):
        super().__init__(0.0, requires_grad=False)
        self.data = np.asarray(data)  # a count stays an int (Tensor itself holds float32/float64 only)

    def __repr__(self):
        return f"Buffer(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of layers and models: subclasses define ``forward``."""

    training = True

    def __call__(self, *args, **kwargs):
        return run_module(self, self.forward, *args, **kwargs)

    # --- the tree ---------------------------------------------------------------
    def named_children(self):
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and all below it, depth first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self, prefix=""):
        for name, value in vars(self).items():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Parameter):
                yield full, value
            elif isinstance(value, Module):
                yield from value.named_parameters(full)

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for name, value in vars(self).items():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Buffer):
                yield full, value
            elif isinstance(value, Module):
                yield from value.named_buffers(full)

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    def _named_state(self, prefix=""):
        """Parameters and buffers, each module's own first, in PyTorch's state-dict order."""
        own = [(k, v) for k, v in vars(self).items() if isinstance(v, (Parameter, Buffer))]
        own.sort(key=lambda kv: isinstance(kv[1], Buffer))  # parameters before buffers, as torch
        for name, value in own:
            yield (f"{prefix}.{name}" if prefix else name), value
        for name, child in self.named_children():
            yield from child._named_state(f"{prefix}.{name}" if prefix else name)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # --- modes and dtype ----------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, dtype):
        """Cast every parameter and floating buffer to ``dtype`` (np.float32 or np.float64) in place."""
        dtype = check_dtype(dtype, "dtype")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for b in self.buffers():
            if np.issubdtype(b.data.dtype, np.floating):
                b.data = b.data.astype(dtype)
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # --- state dict -------------------------------------------------------------------
    def state_dict(self):
        """OrderedDict of dotted name -> a copy of the parameter or buffer array (PyTorch's keys and order)."""
        return OrderedDict((k, p.data.copy()) for k, p in self._named_state())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters, cast to their dtype.

        ``state_dict`` maps names to arrays (NumPy arrays, or anything ``np.asarray``
        converts, e.g. a CPU torch tensor). With ``strict`` a missing or unexpected key
        raises ``ValueError``; a wrong shape always does, and so does a NaN or inf value (a complex or
        non-numeric array raises ``TypeError``), naming the key. Nothing is changed on error.
        """
        own = OrderedDict(self._named_state())
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict: expected a mapping name -> array, got {type(state_dict).__name__}")
        # checkpoints from before PyTorch 0.4.1 have no BatchNorm batch counter (torch accepts them too)
        missing = [k for k in own if k not in state_dict and not k.endswith("num_batches_tracked")]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        if own and not any(k in state_dict for k in own):
            raise ValueError(f"load_state_dict into {type(self).__name__}: no key matches (expected e.g. "
                             f"{list(own)[:3]}, got {list(state_dict)[:3]}); nothing would be loaded")
        new = {}
        for k, p in own.items():
            if k not in state_dict:
                continue
            arr = np.asarray(state_dict[k])
            if p.ndim == 0 and arr.shape == (1,):  # a scalar buffer as older writers stored it
                arr = arr.reshape(())
            if arr.shape != p.shape:
                raise ValueError(f"load_state_dict: '{k}' expected shape {p.shape}, got {arr.shape}")
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise TypeError(f"load_state_dict: '{k}' expected a real numeric array, got dtype {arr.dtype}")
            if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
                raise ValueError(f"load_state_dict: '{k}' contains NaN or inf ({int(np.sum(~np.isfinite(arr)))} of "
                                 f"{arr.size} values): a diverged or corrupt checkpoint; nothing was loaded")
            new[k] = arr.astype(p.dtype, copy=True)
        for k, arr in new.items():
            own[k].data = arr
        return self

    def save(self, path):
        """Write the state dict to ``path`` as ``.npz`` (atomically: no half-written file)."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **self.state_dict())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def load(self, path):
        """Load a state dict written by ``save`` (or ``np.savez`` of a torch state dict). Every
        failure names the path and its cause; the parameters change only when all is read."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"load: cannot read weights from {path!r}: no such file")
        with open(path, "rb") as f:
            head = f.read(6)
        if head[:4] != b"PK\x03\x04" and head != b"\x93NUMPY":  # neither a zip (.npz) nor an .npy
            raise ValueError(f"load: cannot read weights from {path!r}: not an .npz file "
                             f"({'it is empty' if not head else f'it starts with {head!r}'})")
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds one array of shape {data.shape}, not a state dict (an .npz of named "
                                 f"arrays, as Module.save writes)")
            with data as f:
                state = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"load: cannot read weights from {path!r}: {e or type(e).__name__}") from None
        if not state:
            raise ValueError(f"load: cannot read weights from {path!r}: it holds no arrays")
        return self.load_state_dict(state)

    # --- printing -------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        kids = self.named_children()
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        body = "\n".join(f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in kids)
        return f"{type(self).__name__}(\n{body}\n)"


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(m).__name__}")
            setattr(self, str(i), m)

    def __getitem__(self, i):
        kids = self.children()
        if isinstance(i, slice):
            return Sequential(*kids[i])
        return kids[i]

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.children())

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x
