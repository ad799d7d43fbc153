"""minigrad's image optimisation beside the same loops written in PyTorch, float32, one process.

    python benchmarks/optimize.py [--threads 2] [--steps 5] [--repeats 3] [--rounds 3]

The VGG-like net of benchmarks/layers.py with the same weights in both. Two loops, each timed as
``--steps`` steps (setup included) and reported per step:
- class-model visualisation, lucid preset: a decorrelated Fourier image (batch 4 x 3x64x64), pad,
  jitter, random scale and rotation (torch: affine_grid + grid_sample), Adam;
- style transfer: content and style losses (Gram matrices) at four layers, 3x64x64, Adam.
Prints the best of ``rounds`` interleaved medians per side and the minigrad/torch ratios.
"""
import argparse
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import minigrad  # noqa: F401,E402  first: it configures OpenBLAS before NumPy loads
import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import methods  # noqa: E402
from methods import objectives as O  # noqa: E402
from methods.image_optimization import _presets  # noqa: E402
from methods.parameterizations import Fourier  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_layers", os.path.join(HERE, "layers.py"))
bench_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_layers)


def torch_fourier(x0):
    """The same decorrelated Fourier parameterisation in torch: params and params -> image."""
    p = Fourier(decorrelate=True, sigmoid=True)
    re, im = (torch.from_numpy(a).requires_grad_() for a in p.init(x0))
    scale = torch.from_numpy(p._scale(*x0.shape[2:]).astype(np.float32))
    M = torch.from_numpy(p._colour(3).T.astype(np.float32))
    size = x0.shape[2:]
    return [re, im], lambda: torch.sigmoid((torch.fft.irfft2(torch.complex(re * scale, im * scale), s=size)
                                            .permute(0, 2, 3, 1) @ M).permute(0, 3, 1, 2))


def torch_affine(x, scale, angle):
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    theta = torch.tensor([[c / scale, -s / scale, 0.0], [s / scale, c / scale, 0.0]], dtype=x.dtype)
    grid = F.affine_grid(theta[None].expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def torch_class_model(tnet, x0, steps, settings, seed):
    rng = np.random.default_rng(seed)
    params, image = torch_fourier(x0)
    opt = torch.optim.Adam(params, lr=settings["lr"])
    pad, j1, scale, rot, j2 = settings["transforms"]
    for _ in range(steps):
        x = F.pad(image(), (pad.pixels,) * 4, value=pad.value)
        x = torch.roll(x, tuple(int(v) for v in rng.integers(-j1.pixels, j1.pixels + 1, size=2)), dims=(2, 3))
        x = torch_affine(x, scale.scales[rng.integers(len(scale.scales))], 0.0)
        x = torch_affine(x, 1.0, rot.angles[rng.integers(len(rot.angles))])
        x = torch.roll(x, tuple(int(v) for v in rng.integers(-j2.pixels, j2.pixels + 1, size=2)), dims=(2, 3))
        opt.zero_grad()
        (-tnet(x)[:, 1].sum()).backward()
        opt.step()


def _relus(seq):
    return [i for i, m in enumerate(seq) if isinstance(m, torch.nn.ReLU)]


def torch_style_transfer(tnet, content, style, steps, content_at, style_at, style_weight):
    def feats(x, wanted):
        out = {}
        for i, m in enumerate(tnet):
            x = m(x)
            if i in wanted:
                out[i] = x
            if i >= max(wanted):
                return out

    def gram(A):
        N, C, H, W = A.shape
        f = A.reshape(N, C, H * W)
        return f @ f.transpose(1, 2) / (C * H * W)

    with torch.no_grad():
        target = feats(content, [content_at])[content_at]
        grams = [gram(a) for a in feats(style, style_at).values()]
    x = content.clone().requires_grad_()
    opt = torch.optim.Adam([x], lr=0.02)
    for _ in range(steps):
        f = feats(x, [content_at] + style_at)
        loss = 0.5 * ((f[content_at] - target) ** 2).sum() + style_weight * sum(
            0.25 * ((gram(f[i]) - g) ** 2).sum() for i, g in zip(style_at, grams)) / len(style_at)
        opt.zero_grad()
        loss.backward()
        opt.step()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--one-process", action="store_true", help="time the reference in this process too")
    args = p.parse_args(argv)
    bench_layers.side_by_side.start(sys.argv[1:] if argv is None else argv)
    net = bench_layers.vgg_like().to(np.float32)
    tnet = bench_layers.to_torch(net).float().eval()
    relus = [m for m in net.modules() if type(m).__name__ == "ReLU"]
    t_relus = _relus(tnet)
    settings = _presets(64)["lucid"]
    x0 = (0.5 + 0.01 * np.random.default_rng(0).standard_normal((4, 3, 64, 64))).astype(np.float32)
    rng = np.random.default_rng(1)
    content = rng.uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    style = rng.uniform(0, 1, (1, 3, 64, 64)).astype(np.float32) ** 2
    n = args.steps
    cases = [
        ("class model (lucid, 4 images)",
         lambda: methods.optimize_input(net, O.class_score(1), x0, n, settings["lr"], optimizer="adam",
                                        transforms=settings["transforms"], parameterization="decorrelated",
                                        seed=0, progress_bar=False),
         lambda: torch_class_model(tnet, x0, n, settings, 0)),
        ("style transfer (1 image)",
         lambda: methods.style_transfer(net, content[0], style[0], relus[1], relus[:4], steps=n, progress_bar=False),
         lambda: torch_style_transfer(tnet, torch.from_numpy(content), torch.from_numpy(style), n, t_relus[1],
                                      t_relus[:4], 1e4)),
    ]
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    print(f"VGG-like net, 3x64x64, float32, {args.threads} threads, {n} steps per run, torch {torch.__version__}")
    with threadpool_limits(args.threads):
        for name, ours, theirs in cases:
            a, b = (t / n for t in bench_layers.interleaved(ours, theirs, args.repeats, args.rounds))
            print(f"  {name:32s} minigrad {a * 1e3:8.1f} ms/step   torch {b * 1e3:8.1f} ms/step   ratio {a / b:5.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
