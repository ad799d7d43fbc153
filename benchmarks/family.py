"""minigrad vs PyTorch CPU on a generated family of small CNNs, none of them tuned for.

    python benchmarks/family.py [--seed 0] [--nets 16] [--threads 2] [--repeats 5] [--rounds 3]
                                [--dtypes float32 float64] [--kinds train input_grad] [--list]

``family(seed, n)`` draws ``n`` networks from ``seed``: 1 to 4 convolutions with kernels 1, 3, 5
or 7, stride 1 or 2, padding 0 to 3 and 1 to 256 output channels (log-uniform); after each, no pool,
a 2x2 max or average pool, or a 3x3 stride-2 max pool; heads by global average pooling, adaptive
max pooling to 2x2, or flattening into one or two fully connected layers of up to 4096 units
(every fourth network is FC-heavy); inputs of 1, 3 or 8 channels at 7 to 64 pixels; batches 1 to
128 (log-uniform), halved while a forward pass would cost more than ~1 GFLOP. Each network is
timed for a training step (forward, cross-entropy, backward, Adam) and an input gradient (the
gradient of the summed target logits with respect to the input, what saliency costs), in float32
and float64, with the same weights on both sides.

The process is the user's: NumPy is imported first, then minigrad; PyTorch runs in a child
process of its own (``side_by_side.py``) timed in lockstep. Ratios are minigrad/torch (< 1 means
faster); the summary prints the worst and the median per kind and dtype beside issue 27's targets.
"""
import argparse
import importlib.util
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402  NumPy first, as users write it

_spec = importlib.util.spec_from_file_location("side_by_side", os.path.join(HERE, "side_by_side.py"))
side_by_side = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(side_by_side)

TARGETS = {("train", "float32"): (1.5, 1.0), ("train", "float64"): (1.0, None),
           ("input_grad", "float32"): (1.2, None), ("input_grad", "float64"): (1.2, None)}  # (worst, median)
_FLOP_BUDGET = 1e9  # forward multiply-adds x 2 per step, so that the whole family runs in minutes


def _out_size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def _draw_net(rng, fc_heavy):
    """One network spec: (c_in, size, layers, batch); layers are tuples ('conv', c, o, k, s, p),
    ('relu',), ('max'|'avg', k, s, p), ('gap',), ('amax', 2), ('flatten',), ('fc', i, o)."""
    c_in = int(rng.choice([1, 3, 3, 8]))
    size = int(rng.integers(7, 65))
    layers, c, h, flops = [], c_in, size, 0
    for _ in range(int(rng.integers(1, 5))):
        k = int(rng.choice([1, 3, 5, 7]))
        s = int(rng.choice([1, 2]))
        p = int(rng.integers(0, 4))
        if _out_size(h, k, s, p) < 1:
            k, s, p = 1, 1, 0
        o = int(round(2 ** rng.uniform(0, 8)))
        h = _out_size(h, k, s, p)
        flops += 2 * c * o * k * k * h * h
        layers += [("conv", c, o, k, s, p), ("relu",)]
        c = o
        pool = rng.choice(["none", "max2", "avg2", "max3"]) if h >= 4 else "none"
        if pool == "max2" or pool == "avg2":
            layers.append((pool[:3], 2, 2, 0))
            h = _out_size(h, 2, 2, 0)
        elif pool == "max3":
            layers.append(("max", 3, 2, 1))
            h = _out_size(h, 3, 2, 1)
    if fc_heavy:
        hidden = int(rng.choice([512, 1024, 2048, 4096]))
        width = c * h * h
        layers += [("flatten",), ("fc", width, hidden), ("relu",), ("fc", hidden, 10)]
        flops += 2 * (width * hidden + hidden * 10)
    elif rng.uniform() < 0.5:
        layers += [("gap",), ("fc", c, 10)]
    else:
        layers += [("amax", 2), ("flatten",), ("fc", 4 * c, 10)]
    batch = int(round(2 ** rng.uniform(0, 7)))
    while batch > 1 and batch * flops > _FLOP_BUDGET:
        batch //= 2
    return c_in, size, layers, batch


def family(seed, n=16):
    """[(name, (c_in, size, layers, batch))] drawn from ``seed``; every fourth one FC-heavy."""
    rng = np.random.default_rng(seed)
    return [(f"s{seed}n{i:02d}", _draw_net(rng, fc_heavy=i % 4 == 3)) for i in range(n)]


def describe(spec):
    c_in, size, layers, batch = spec
    parts = []
    for layer in layers:
        if layer[0] == "conv":
            _, _, o, k, s, p = layer
            parts.append(f"c{k}s{s}p{p}x{o}")
        elif layer[0] in ("max", "avg"):
            parts.append(f"{layer[0]}{layer[1]}")
        elif layer[0] == "fc":
            parts.append(f"fc{layer[2]}")
        elif layer[0] in ("gap", "amax"):
            parts.append(layer[0])
    return f"b{batch} {c_in}x{size}x{size} " + " ".join(parts)


def build_minigrad(spec, dtype, seed):
    import layers as L
    rng = np.random.default_rng(seed)
    make = {"conv": lambda c, o, k, s, p: L.Conv2d(c, o, k, stride=s, padding=p, rng=rng),
            "relu": L.ReLU, "max": lambda k, s, p: L.MaxPool2d(k, s, p), "avg": lambda k, s, p: L.AvgPool2d(k, s, p),
            "gap": L.GlobalAvgPool2d, "amax": L.AdaptiveMaxPool2d, "flatten": L.Flatten,
            "fc": lambda i, o: L.Linear(i, o, rng=rng)}
    return L.Sequential(*[make[layer[0]](*layer[1:]) for layer in spec[2]]).to(dtype)


def build_torch(spec, dtype, state):
    import torch
    from torch import nn
    make = {"conv": nn.Conv2d, "relu": nn.ReLU, "max": nn.MaxPool2d, "avg": nn.AvgPool2d,
            "gap": lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), "amax": nn.AdaptiveMaxPool2d,
            "flatten": nn.Flatten, "fc": nn.Linear}
    net = nn.Sequential(*[make[layer[0]](*layer[1:]) for layer in spec[2]]).to(dtype)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return net


def steps(spec, dtype, kind, seed):
    """(minigrad callable, torch callable or None in the parent) for one row."""
    c_in, size, _, batch = spec
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, c_in, size, size)).astype(dtype)
    y = rng.integers(0, 10, batch)
    net = build_minigrad(spec, dtype, seed)
    if side_by_side.is_child() or side_by_side.one_process():
        import torch
        tnet = build_torch(spec, torch.float32 if dtype == np.float32 else torch.float64, net.state_dict())
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        if kind == "train":
            topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)

            def theirs():
                topt.zero_grad()
                torch.nn.functional.cross_entropy(tnet(xt), yt).backward()
                topt.step()
        else:
            def theirs():
                xx = xt.clone().requires_grad_()
                torch.autograd.grad(tnet(xx).gather(1, yt[:, None]).sum(), [xx])
    else:
        theirs = None
    if side_by_side.is_child():
        return None, theirs
    import layers as L
    import minigrad as mg
    if kind == "train":
        opt = L.Adam(net.parameters(), lr=1e-3)

        def ours():
            loss = L.cross_entropy(net(mg.Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        onehot = np.eye(10, dtype=dtype)[y]

        def ours():
            xx = mg.Tensor(x, requires_grad=True)
            mg.grad(net(xx), [xx], seed=onehot)
    return ours, theirs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nets", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--kinds", nargs="+", default=["train", "input_grad"])
    p.add_argument("--list", action="store_true", help="print the family and stop")
    p.add_argument("--one-process", action="store_true", help="time torch in this process too")
    args = p.parse_args(argv)
    nets = family(args.seed, args.nets)
    if args.list:
        for name, spec in nets:
            print(name, describe(spec))
        return
    side_by_side.start(sys.argv[1:] if argv is None else argv)
    import numba
    from threadpoolctl import threadpool_limits
    if side_by_side.is_child():
        import torch
        torch.set_num_threads(args.threads)
    import minigrad  # noqa: F401  after NumPy, as users import it
    numba.set_num_threads(args.threads)
    print(f"numpy {np.__version__}, numba {numba.__version__} ({numba.config.THREADING_LAYER}), "
          f"python {sys.version.split()[0]}, {args.threads} threads, family seed {args.seed}", flush=True)
    ratios = {}
    with threadpool_limits(args.threads):
        for name, spec in nets:
            for dtype in args.dtypes:
                for kind in args.kinds:
                    ours, theirs = steps(spec, np.dtype(dtype).type, kind, args.seed)
                    ta, tb = side_by_side.interleaved(ours, theirs, args.repeats, args.rounds)
                    if side_by_side.is_child():
                        continue
                    ratios.setdefault((kind, dtype), []).append((ta / tb, name))
                    print(f"{name} {dtype:7s} {kind:10s} minigrad {ta * 1e3:8.2f} ms  torch {tb * 1e3:8.2f} ms  "
                          f"ratio {ta / tb:5.2f}   {describe(spec)}", flush=True)
    if side_by_side.is_child():
        return
    print("\nsummary (minigrad/torch; targets of issue 27 in brackets)")
    for (kind, dtype), rows in ratios.items():
        values = [r for r, _ in rows]
        worst, worst_name = max(rows)
        target_worst, target_median = TARGETS[(kind, dtype)]
        print(f"  {kind:10s} {dtype:7s} worst {worst:5.2f} ({worst_name}) [<= {target_worst}]   "
              f"median {statistics.median(values):5.2f}" + (f" [<= {target_median}]" if target_median else ""))


if __name__ == "__main__":
    main()
