"""minigrad vs PyTorch CPU: training steps of small networks; forward and forward+backward of LeNet and a VGG-like net.

    python benchmarks/layers.py [--repeats 7] [--threads 2] [--training-only] [--no-memory]

The training rows also print each side's peak memory: the growth of the peak resident set over
three steps, each side in a fresh process (``memory_probe``; Linux only).

Same weights in both (loaded through the state dict), same thread count (1 and 2: torch
via set_num_threads, NumPy's BLAS via threadpoolctl, Numba via set_num_threads), medians of
several runs timed in turn, torch in a child process of its own (``side_by_side.py``: the two
would share one OpenMP runtime; ``--one-process`` times both here), printed as minigrad/torch
ratios (< 1 means faster).
"""
import argparse
import importlib.util
import os
import subprocess
import sys

# this file is named like the package it measures: keep its own folder off the import path
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import minigrad as mg  # first: it configures OpenBLAS before NumPy loads
import numba
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import layers as L

_spec = importlib.util.spec_from_file_location("side_by_side",
                                               os.path.join(os.path.dirname(__file__), "side_by_side.py"))
side_by_side = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(side_by_side)
interleaved = side_by_side.interleaved


def vgg_like(seed=0):
    rng = np.random.default_rng(seed)
    mods, c = [], 3
    for i, w in enumerate((32, 64, 128)):
        if i:
            mods.append(L.MaxPool2d(2))
        mods += [L.Conv2d(c, w, 3, padding=1, rng=rng), L.ReLU(), L.Conv2d(w, w, 3, padding=1, rng=rng), L.ReLU()]
        c = w
    return L.Sequential(*mods, L.GlobalAvgPool2d(), L.Linear(c, 10, rng=rng))


def to_torch(net):
    """The torch twin of a layers.Sequential / LeNet, with the same weights."""
    from torch import nn

    def convert(m):
        if isinstance(m, L.Sequential):
            return nn.Sequential(*[convert(c) for c in m])
        if isinstance(m, L.Conv2d):
            return nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
        if isinstance(m, L.Linear):
            return nn.Linear(m.in_features, m.out_features)
        if isinstance(m, L.MaxPool2d):
            return nn.MaxPool2d(m.kernel_size, m.stride, m.padding)
        if isinstance(m, L.ReLU):
            return nn.ReLU()
        if isinstance(m, L.Flatten):
            return nn.Flatten()
        if isinstance(m, L.GlobalAvgPool2d):
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        raise TypeError(type(m))

    if isinstance(net, L.GAPNet):
        t = nn.Sequential(convert(net.features), convert(net.gap), convert(net.fc))
        names = [n for n, _ in t.named_parameters()]
        sd = dict(zip(names, net.state_dict().values()))
    elif isinstance(net, L.LeNet):
        t = nn.Sequential(convert(net.features), convert(net.classifier))
        sd = {("0." if k.startswith("features") else "1.") + k.split(".", 1)[1]: v
              for k, v in net.state_dict().items()}
    else:
        t = convert(net)
        names = [n for n, _ in t.named_parameters()]
        sd = dict(zip(names, net.state_dict().values()))
    t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    return t


def bench(name, net, shape, dtype, threads, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    net.to(dtype)
    tnet = to_torch(net).to(torch.float32 if dtype == np.float32 else torch.float64)
    xt = torch.from_numpy(x)

    def mg_fwd():
        with mg.no_grad():
            net(x)

    def mg_fwd_bwd():
        xx = mg.Tensor(x, requires_grad=True)
        mg.grad(net(xx), [xx] + net.parameters())

    def t_fwd():
        with torch.no_grad():
            tnet(xt)

    def t_fwd_bwd():
        xx = xt.clone().requires_grad_()
        torch.autograd.grad(tnet(xx).sum(), [xx] + list(tnet.parameters()))

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    with threadpool_limits(threads):
        res = {label: interleaved(a, b, repeats)
               for label, a, b in (("forward", mg_fwd, t_fwd), ("fwd+bwd", mg_fwd_bwd, t_fwd_bwd))}
    for label, (ta, tb) in res.items():
        print(f"{name:9s} {np.dtype(dtype).name:7s} {threads} thr  {label:8s} "
              f"minigrad {ta * 1e3:8.2f} ms   torch {tb * 1e3:8.2f} ms   ratio {ta / tb:5.2f}", flush=True)


TRAINING_ROWS = {  # name -> (network factory, input shape, classes): the networks learners train (issue 12)
    "GAPNet/32": (lambda: L.GAPNet(num_classes=6, seed=0), (32, 3, 32, 32), 6),
    "GAPNet/128": (lambda: L.GAPNet(num_classes=6, seed=0), (128, 3, 32, 32), 6),
    "LeNet/64": (lambda: L.LeNet(seed=0), (64, 1, 28, 28), 10),
}


def training_steps(row, dtype, batch=None):
    """-> (minigrad step, torch step): forward + cross-entropy + backward + Adam, same weights."""
    make_net, shape, n_classes = TRAINING_ROWS[row]
    shape = (batch or shape[0],) + shape[1:]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.integers(0, n_classes, shape[0])
    net = make_net().to(dtype)
    tnet = to_torch(net).to(torch.float32 if dtype == np.float32 else torch.float64)
    opt = L.Adam(net.parameters(), lr=1e-3)
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def mg_step():
        loss = L.cross_entropy(net(mg.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def t_step():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tnet(xt), yt).backward()
        topt.step()

    return mg_step, t_step


def _rss_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def memory_probe(row, side, dtype, threads):
    """Peak RSS growth (MiB) of three training steps, after one warm-up step at batch 2 (kernels
    compiled or loaded, libraries initialised). Run in a fresh process per side, so neither side
    reuses memory the other freed."""
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    with threadpool_limits(threads):
        training_steps(row, dtype, batch=2)[side == "torch"]()
        step = training_steps(row, dtype)[side == "torch"]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set, to the current RSS
        before = _rss_kib("VmRSS")
        for _ in range(3):
            step()
        return (_rss_kib("VmHWM") - before) / 1024


def _peak_memory(row, dtype, threads):
    """(minigrad MiB, torch MiB), each measured by ``memory_probe`` in its own process."""
    out = []
    for side in ("minigrad", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", row, side, np.dtype(dtype).name,
               str(threads)]
        out.append(float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[-1]))
    return out


def bench_training(row, dtype, threads, repeats, memory=True):
    """One training step of ``row`` on both sides, timed interleaved; peak memory beside it."""
    mg_step, t_step = training_steps(row, dtype)
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    with threadpool_limits(threads):
        ta, tb = interleaved(mg_step, t_step, repeats)
    mem = ""
    if memory and not side_by_side.is_child() and os.path.exists("/proc/self/clear_refs"):
        ma, mb = _peak_memory(row, dtype, threads)
        mem = f"   peak MiB {ma:6.1f} / {mb:6.1f} ({ma / max(mb, 0.1):4.2f}x)"
    print(f"{row:9s} {np.dtype(dtype).name:7s} {threads} thr  {'train':8s} "
          f"minigrad {ta * 1e3:8.2f} ms   torch {tb * 1e3:8.2f} ms   ratio {ta / tb:5.2f}{mem}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--training-only", action="store_true", help="only the training-step rows")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes of the training rows")
    p.add_argument("--one-process", action="store_true", help="time torch in this process too")
    p.add_argument("--memory-probe", nargs=4, metavar=("ROW", "SIDE", "DTYPE", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_probe:
        row, side, dtype, threads = args.memory_probe
        print(memory_probe(row, side, np.dtype(dtype), int(threads)))
        return
    side_by_side.start(sys.argv[1:] if argv is None else argv)
    print(f"numpy {np.__version__}, numba {numba.__version__} ({numba.config.THREADING_LAYER}), "
          f"torch {torch.__version__}, python {sys.version.split()[0]}")
    for threads in args.threads:
        for dtype in (np.float32, np.float64):
            # training steps of the small networks learners train (issue 12)
            for row in TRAINING_ROWS:
                bench_training(row, dtype, threads, args.repeats, memory=not args.no_memory)
            if args.training_only:
                continue
            bench("LeNet", L.LeNet(seed=0), (64, 1, 28, 28), dtype, threads, args.repeats)
            bench("VGG-like", vgg_like(), (16, 3, 64, 64), dtype, threads, args.repeats)


if __name__ == "__main__":
    main()
