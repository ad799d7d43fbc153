"""minigrad's methods beside Captum on the same torch model, float32, same threads, one process.

    python benchmarks/methods.py [--threads 2] [--repeats 3] [--rounds 3]

The VGG-like net of benchmarks/layers.py (3x64x64 inputs) with the same weights in both.
Prints, for each side, the best of ``rounds`` interleaved medians of ``repeats`` runs, and
the minigrad/Captum ratios (< 1 means faster).
"""
import argparse
import importlib.util
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named like the package it measures: keep its own folder off the import path
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import minigrad  # noqa: F401,E402  first: it configures OpenBLAS before NumPy loads
import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from captum import attr  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import methods  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_layers", os.path.join(HERE, "layers.py"))
bench_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_layers)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--one-process", action="store_true", help="time the reference in this process too")
    p.add_argument("--batch", type=int, default=4)
    args = p.parse_args(argv)
    bench_layers.side_by_side.start(sys.argv[1:] if argv is None else argv)
    warnings.filterwarnings("ignore")
    net = bench_layers.vgg_like().to(np.float32)
    tnet = bench_layers.to_torch(net).float().eval()
    last_relu = [m for m in net.modules() if type(m).__name__ == "ReLU"][-1]
    t_last_relu = [m for m in tnet.modules() if isinstance(m, torch.nn.ReLU)][-1]
    x = np.random.default_rng(0).standard_normal((args.batch, 3, 64, 64)).astype(np.float32)
    target = list(range(args.batch))
    xt = lambda: torch.from_numpy(x.copy())  # noqa: E731
    tt = torch.tensor(target)
    one = x[:1]
    cases = [
        ("gradient", lambda: methods.gradient(net, x, target),
         lambda: attr.Saliency(tnet).attribute(xt(), target=tt, abs=False)),
        ("guided backprop", lambda: methods.guided_backprop(net, x, target),
         lambda: attr.GuidedBackprop(tnet).attribute(xt(), target=tt)),
        ("Grad-CAM", lambda: methods.gradcam(net, x, target, last_relu),
         lambda: attr.LayerAttribution.interpolate(
             attr.LayerGradCam(tnet, t_last_relu).attribute(xt(), target=tt, relu_attributions=True),
             (64, 64), "bilinear")),
        ("IG (50 steps)", lambda: methods.integrated_gradients(net, x, target, internal_batch_size=64),
         lambda: attr.IntegratedGradients(tnet).attribute(xt(), target=tt, n_steps=50, internal_batch_size=64)),
        ("occlusion 8x8/2 (1 img)", lambda: methods.occlusion(net, one, 0, window=8, stride=2, batch_size=32),
         lambda: attr.Occlusion(tnet).attribute(torch.from_numpy(one.copy()), sliding_window_shapes=(3, 8, 8),
                                               strides=(3, 2, 2), target=0, perturbations_per_eval=32)),
    ]
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    print(f"batch {args.batch} x 3x64x64, float32, {args.threads} threads, torch {torch.__version__}")
    with threadpool_limits(args.threads):
        for name, ours, theirs in cases:
            a, b = bench_layers.interleaved(ours, theirs, args.repeats, args.rounds)
            print(f"  {name:24s} minigrad {a * 1e3:9.1f} ms   Captum {b * 1e3:9.1f} ms   ratio {a / b:5.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
