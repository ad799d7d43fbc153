"""minigrad vs PyTorch CPU on the real networks: ResNet-18, VGG-11 and MobileNetV2 at 3x224x224, float32.

    python benchmarks/real_networks.py [--threads 2] [--repeats 3] [--rounds 2] [--batches 1 8]
                                       [--archs resnet18 vgg11 mobilenet_v2] [--no-memory] [--ig-memory]

For each network and batch: the forward pass (eval mode, no graph) and the forward pass plus the
input gradient of the summed top logits (what saliency, guided backprop and Grad-CAM cost), with
the same weights on both sides (minigrad's builder, torch's twin from
tests/reference/torchvision_nets.py loaded from its state dict). Torch runs in a child process
timed in lockstep (``side_by_side.py``). Peak memory: the growth of the peak resident set over one
call, each side in a fresh process (Linux only). Ratios are minigrad/torch (< 1 means faster).
"""
import argparse
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "reference"))

import numpy as np  # noqa: E402  first, as users write it (issue #27: no figure may depend on import order)
import torch  # noqa: E402
import minigrad as mg  # noqa: E402
import numba  # noqa: E402
import torchvision_nets  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import layers as L  # noqa: E402
import methods  # noqa: E402
from captum.attr import IntegratedGradients  # noqa: E402

IG_BATCH = 16  # integrated gradients' internal batch (steps x images per pass), the same on both sides

_spec = importlib.util.spec_from_file_location("side_by_side", os.path.join(HERE, "side_by_side.py"))
side_by_side = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(side_by_side)


def _models(arch):
    net = getattr(L, arch)(seed=0, dtype=np.float32).eval()
    twin = getattr(torchvision_nets, arch)(dtype=torch.float32)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    return net, twin.eval()


def cases(arch, batch, size=224, models=None):
    """[(name, minigrad callable, torch callable)] for one network, batch size and image size."""
    net, twin = _models(arch) if models is None else models
    x = np.random.default_rng(0).uniform(0, 1, (batch, 3, size, size)).astype(np.float32)

    def mg_forward():
        with mg.no_grad():
            net(x)

    def mg_input_gradient():
        xt = mg.Tensor(x, requires_grad=True)
        out = net(xt)
        mg.grad(out.max(axis=1).sum(), [xt])

    def t_forward():
        with torch.no_grad():
            twin(torch.from_numpy(x))

    def t_input_gradient():  # the input's gradient alone, as Captum asks autograd for it (no weight gradients)
        xt = torch.from_numpy(x.copy()).requires_grad_()
        torch.autograd.grad(twin(xt).max(dim=1).values.sum(), [xt])

    def mg_integrated_gradients():
        methods.integrated_gradients(net, x, list(range(batch)), n_steps=50, internal_batch_size=IG_BATCH)

    def t_integrated_gradients():
        IntegratedGradients(twin).attribute(torch.from_numpy(x.copy()), target=list(range(batch)), n_steps=50,
                                            internal_batch_size=IG_BATCH)

    return [("forward", mg_forward, t_forward), ("fwd+grad", mg_input_gradient, t_input_gradient),
            ("ig", mg_integrated_gradients, t_integrated_gradients)]


def _rss_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def memory_probe(arch, batch, case, side, threads):
    """Peak RSS growth (MiB) of one call at 224x224 after a warm-up call at 64x64 (kernels compiled
    or loaded, libraries initialised, but no buffer of the measured size to reuse), in this
    (fresh) process."""
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    models = _models(arch)
    pick = 1 if side == "minigrad" else 2
    with threadpool_limits(threads):
        next(c for c in cases(arch, batch, 64, models) if c[0] == case)[pick]()
        fn = next(c for c in cases(arch, batch, 224, models) if c[0] == case)[pick]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = _rss_kib("VmRSS")
        fn()
        return (_rss_kib("VmHWM") - before) / 1024


def _peak_memory(arch, batch, case, threads):
    out = []
    for side in ("minigrad", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", arch, str(batch), case, side, str(threads)]
        out.append(float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[-1]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--archs", nargs="+", default=["resnet18", "vgg11", "mobilenet_v2"])
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--ig-memory", action="store_true",
                   help="only the peak memory of integrated gradients (50 steps, internal batches of "
                        f"{IG_BATCH}) beside Captum's, per network and batch")
    p.add_argument("--one-process", action="store_true", help="time the reference in this process too")
    p.add_argument("--memory-probe", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_probe:
        arch, batch, case, side, threads = args.memory_probe
        print(memory_probe(arch, int(batch), case, side, int(threads)))
        return
    if args.ig_memory:
        for arch in args.archs:
            for batch in args.batches:
                ma, mb = _peak_memory(arch, batch, "ig", args.threads)
                print(f"{arch:12s} batch {batch:2d} integrated gradients peak MiB minigrad {ma:7.1f}   "
                      f"Captum {mb:7.1f}   ratio {ma / max(mb, 0.1):4.2f}", flush=True)
        return
    side_by_side.start(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    memory = not args.no_memory and not side_by_side.is_child() and os.path.exists("/proc/self/clear_refs")
    with threadpool_limits(args.threads):
        for arch in args.archs:
            for batch in args.batches:
                for name, ours, theirs in cases(arch, batch)[:2]:  # the IG row is --ig-memory's
                    ta, tb = side_by_side.interleaved(ours, theirs, args.repeats, args.rounds)
                    mem = ""
                    if memory:
                        ma, mb = _peak_memory(arch, batch, name, args.threads)
                        mem = f"   peak MiB {ma:7.1f} / {mb:7.1f} ({ma / max(mb, 0.1):4.2f}x)"
                    print(f"{arch:9s} batch {batch:2d} {name:9s} minigrad {ta * 1e3:8.1f} ms   torch {tb * 1e3:8.1f} ms"
                          f"   ratio {ta / tb:5.2f}{mem}", flush=True)


if __name__ == "__main__":
    main()
