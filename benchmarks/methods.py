"""minigrad's attribution methods beside Captum's: the same work on the same torch twin, timed in turn.

    python benchmarks/methods.py [--methods deeplift,Lime,...] [--threads 2] [--repeats 3] [--rounds 3]
    python benchmarks/methods.py --check      # no timing: each row's outputs compared, float64

What is measured: the wall time of one call of each method, minigrad's ``methods.<name>`` and its
Captum counterpart (``captum.attr.<Name>(model).attribute`` or ``captum.metrics.<name>``), on the
VGG-like net of benchmarks/layers.py (six 3x3 convs, 3x64x64 inputs, float32) with the same weights
in both, the same options and the same thread count (Captum in a process of its own, see
``side_by_side.py``). Each side prints the best of ``rounds`` interleaved medians of ``repeats``
calls (after a warm-up call), then the ratio minigrad / Captum (< 1 means minigrad is faster).

Rows and their options (the batch is ``--batch`` images; "1 img" rows explain one image):
  gradient, guided_backprop, gradcam (last ReLU), integrated_gradients (50 steps),
  occlusion (8x8 window, stride 2, 32 per pass, 1 img)  -- the first rows
  deeplift, deeplift_shap (4 baselines), gradient_shap (the same 4 baselines, n_samples=8)
  feature_ablation, shapley_value_sampling (n_samples=2), kernel_shap (n_samples=64),
  lime (n_samples=64): 1 img, 8x8-patch feature_mask (64 groups), perturbations_per_eval=16;
  shapley_value_sampling's 2 orders are drawn once and given to both sides
  layer_conductance, internal_influence, layer_integrated_gradients at the middle conv (3rd of six),
  neuron_conductance (its unit (0, 16, 16)), all n_steps=16, Gauss-Legendre (Captum's
  NeuronConductance is given method="gausslegendre"; its default is riemann_trapezoid)
  infidelity (|gradient| attributions computed beforehand; Gaussian perturbations of std 0.003) and
  sensitivity_max (explanation |gradient|, Captum's Saliency; uniform perturbations within 0.02),
  10 perturbations per image each, drawn once and given to both sides

Where the two compute different things (so ``--check`` shows a difference that is not an error):
gradient_shap, kernel_shap and lime draw their own random numbers on each side (the tests replay
Captum's draws for exact parity); kernel_shap makes the full and empty coalitions exact
constraints where Captum weighs them 1e6 in an unconstrained fit; Captum fits kernel_shap's and
lime's surrogate models in float32 and sums Shapley values in a float32 buffer, even for float64
inputs. ``methods.saliency`` is Simonyan's channel maximum of |gradient|, so the metric rows use
|gradient| per value on both sides (Captum's ``Saliency``).
"""
import argparse
import importlib.util
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named like the package it measures: keep its own folder off the import path
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402  NumPy and torch first, as users write it (issue 27)
import torch  # noqa: E402
import minigrad  # noqa: F401,E402
import numba  # noqa: E402
from captum import attr, metrics  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import layers  # noqa: E402
import methods  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_layers", os.path.join(HERE, "layers.py"))
bench_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_layers)

PATCH = 8  # the side of a feature_mask group
PER_EVAL = 16  # perturbations_per_eval of the perturbation rows
N_STEPS = 16  # n_steps of the layer rows
UNIT = (0, 16, 16)  # neuron_conductance's unit in the middle conv's (64, 32, 32) output
N_PERTURB = 10  # n_perturb_samples of the metric rows (Captum's default)


class Row:
    """One line of the table: minigrad's ``method`` beside Captum's ``captum_name``, each a
    callable with no arguments returning its output; ``random``: the two sides draw their own."""

    def __init__(self, method, captum_name, ours, theirs, label=None, random=False):
        self.method, self.captum_name, self.ours, self.theirs = method, captum_name, ours, theirs
        self.label = label or method
        self.random = random

    def chosen(self, names):
        """True when ``names`` (lower-case; None: all) holds minigrad's or Captum's name of the row."""
        return names is None or self.method.lower() in names or self.captum_name.lower() in names


def _abs_gradient(model, x, target, **options):
    """|dy_c/dx| per value, (N, C, H, W): Captum's ``Saliency`` (abs=True), the metric rows' explanation."""
    return np.abs(methods.gradient(model, x, target, **options))


def _once(compute):
    """A function returning compute()'s result, computed at its first call only."""
    result = []

    def value():
        if not result:
            result.append(compute())
        return result[0]
    return value


def _patch_mask(side, patch):
    """(side, side) group ids: one group per patch x patch square, numbered row by row."""
    cells = np.arange(side) // patch
    return cells[:, None] * (side // patch) + cells[None, :]


def rows(net, tnet, x, dtype, cam_layers=None):
    """The table's rows for the minigrad ``net`` and its torch twin ``tnet`` on the batch x (N, 3, H, W);
    Grad-CAM at ``cam_layers`` (minigrad's, torch's), by default the last ReLU."""
    n, side = len(x), x.shape[-1]
    relus = [m for m in net.modules() if type(m).__name__ == "ReLU"]
    t_relus = [m for m in tnet.modules() if isinstance(m, torch.nn.ReLU)]
    cam, t_cam = cam_layers or (relus[-1], t_relus[-1])
    window, step = (8, 2) if side <= 64 else (side // 7, side // 14)  # 224 px: 32x32 windows, stride 16
    convs = [m for m in net.modules() if type(m).__name__ == "Conv2d"]
    t_convs = [m for m in tnet.modules() if isinstance(m, torch.nn.Conv2d)]
    conv, t_conv = convs[len(convs) // 2], t_convs[len(t_convs) // 2]
    rng = np.random.default_rng(1)
    refs = (0.5 * rng.standard_normal((4,) + x.shape[1:])).astype(dtype)  # deeplift_shap's, gradient_shap's
    target = list(range(n))
    xt = lambda: torch.from_numpy(x.copy())  # noqa: E731
    tt = torch.tensor(target)
    one = x[:1]
    one_t = lambda: torch.from_numpy(one.copy())  # noqa: E731
    refs_t = torch.from_numpy(refs)
    mask = _patch_mask(side, PATCH)
    mask_t = torch.from_numpy(mask)[None, None]
    on_one = dict(feature_mask=mask, perturbations_per_eval=PER_EVAL)
    on_one_t = dict(target=0, feature_mask=mask_t, perturbations_per_eval=PER_EVAL)
    orders = np.array([rng.permutation(mask.max() + 1) for _ in range(2)])  # shapley_value_sampling's 2 orders
    # the metrics' perturbations, drawn once and given to both (sample-major copies, as both lay them out)
    copies = (n * N_PERTURB,) + x.shape[1:]
    noise = (0.003 * rng.standard_normal(copies)).astype(dtype)  # infidelity: Gaussian, minigrad's default std
    shift = rng.uniform(-0.02, 0.02, copies).astype(dtype)  # sensitivity_max: U(-r, r), Captum's default radius
    noise_t, shift_t = torch.from_numpy(noise), torch.from_numpy(shift)
    # the attributions infidelity scores, computed on each side once, at its first (warm-up) call
    sal = _once(lambda: _abs_gradient(net, x, target))
    sal_t = _once(lambda: attr.Saliency(tnet).attribute(xt(), target=tt))

    def shapley_t():
        method = attr.ShapleyValueSampling(tnet)
        method.permutation_generator = lambda n_features, n_samples: iter(orders.tolist())
        return method.attribute(one_t(), n_samples=len(orders), **on_one_t)

    return [
        Row("gradient", "Saliency", lambda: methods.gradient(net, x, target),
            lambda: attr.Saliency(tnet).attribute(xt(), target=tt, abs=False)),
        Row("guided_backprop", "GuidedBackprop", lambda: methods.guided_backprop(net, x, target),
            lambda: attr.GuidedBackprop(tnet).attribute(xt(), target=tt), label="guided backprop"),
        Row("gradcam", "LayerGradCam", lambda: methods.gradcam(net, x, target, cam),
            lambda: attr.LayerAttribution.interpolate(
                attr.LayerGradCam(tnet, t_cam).attribute(xt(), target=tt, relu_attributions=True),
                (side, side), "bilinear"), label="Grad-CAM"),
        Row("integrated_gradients", "IntegratedGradients",
            lambda: methods.integrated_gradients(net, x, target, internal_batch_size=64),
            lambda: attr.IntegratedGradients(tnet).attribute(xt(), target=tt, n_steps=50, internal_batch_size=64),
            label="IG (50 steps)"),
        Row("occlusion", "Occlusion",
            lambda: methods.occlusion(net, one, 0, window=window, stride=step, batch_size=32),
            lambda: attr.Occlusion(tnet).attribute(one_t(), sliding_window_shapes=(3, window, window),
                                                  strides=(3, step, step), target=0, perturbations_per_eval=32),
            label=f"occlusion {window}x{window}/{step} (1 img)"),
        Row("deeplift", "DeepLift", lambda: methods.deeplift(net, x, target),
            lambda: attr.DeepLift(tnet).attribute(xt(), target=tt)),
        Row("deeplift_shap", "DeepLiftShap", lambda: methods.deeplift_shap(net, x, target, refs),
            lambda: attr.DeepLiftShap(tnet).attribute(xt(), baselines=refs_t, target=tt),
            label="deeplift_shap (4 refs)"),
        Row("gradient_shap", "GradientShap", lambda: methods.gradient_shap(net, x, target, refs, n_samples=8, seed=0),
            lambda: attr.GradientShap(tnet).attribute(xt(), baselines=refs_t, n_samples=8, target=tt),
            label="gradient_shap (8 draws)", random=True),
        Row("feature_ablation", "FeatureAblation", lambda: methods.feature_ablation(net, one, 0, **on_one),
            lambda: attr.FeatureAblation(tnet).attribute(one_t(), **on_one_t), label="feature_ablation (1 img)"),
        Row("shapley_value_sampling", "ShapleyValueSampling",
            lambda: methods.shapley_value_sampling(net, one, 0, permutations=orders, **on_one), shapley_t,
            label="shapley_value_sampling (1 img)"),
        Row("kernel_shap", "KernelShap", lambda: methods.kernel_shap(net, one, 0, n_samples=64, seed=0, **on_one),
            lambda: attr.KernelShap(tnet).attribute(one_t(), n_samples=64, **on_one_t),
            label="kernel_shap (1 img)", random=True),
        Row("lime", "Lime", lambda: methods.lime(net, one, 0, n_samples=64, seed=0, **on_one),
            lambda: attr.Lime(tnet).attribute(one_t(), n_samples=64, **on_one_t), label="lime (1 img)", random=True),
        Row("layer_conductance", "LayerConductance",
            lambda: methods.layer_conductance(net, x, target, conv, n_steps=N_STEPS),
            lambda: attr.LayerConductance(tnet, t_conv).attribute(xt(), target=tt, n_steps=N_STEPS)),
        Row("internal_influence", "InternalInfluence",
            lambda: methods.internal_influence(net, x, target, conv, n_steps=N_STEPS),
            lambda: attr.InternalInfluence(tnet, t_conv).attribute(xt(), target=tt, n_steps=N_STEPS)),
        Row("layer_integrated_gradients", "LayerIntegratedGradients",
            lambda: methods.layer_integrated_gradients(net, x, target, conv, n_steps=N_STEPS),
            lambda: attr.LayerIntegratedGradients(tnet, t_conv).attribute(xt(), target=tt, n_steps=N_STEPS)),
        Row("neuron_conductance", "NeuronConductance",
            lambda: methods.neuron_conductance(net, x, target, conv, UNIT, n_steps=N_STEPS),
            lambda: attr.NeuronConductance(tnet, t_conv).attribute(xt(), UNIT, target=tt, n_steps=N_STEPS,
                                                                  method="gausslegendre")),
        Row("infidelity", "infidelity",
            lambda: methods.infidelity(net, x, target, sal(), perturb_fn=lambda c: (noise, c - noise),
                                       n_perturb_samples=N_PERTURB),
            lambda: metrics.infidelity(tnet, lambda c: (noise_t, c - noise_t), xt(), sal_t(), target=tt,
                                       n_perturb_samples=N_PERTURB)),
        Row("sensitivity_max", "sensitivity_max",
            lambda: methods.sensitivity_max(_abs_gradient, net, x, target, perturb_fn=lambda c: c + shift,
                                            n_perturb_samples=N_PERTURB),
            lambda: metrics.sensitivity_max(attr.Saliency(tnet).attribute, xt(), perturb_func=lambda c: c + shift_t,
                                            target=tt, n_perturb_samples=N_PERTURB)),
    ]


def _numpy(result):
    """A method's output as one float64 array (Captum's tensors, tuples, (result, delta) pairs)."""
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, torch.Tensor):
        result = result.detach().numpy()
    return np.asarray(result, dtype=np.float64)


def check(table):
    """Print each row's largest |minigrad - Captum| relative to Captum's largest |value|."""
    for row in table:
        ours, theirs = _numpy(row.ours()), _numpy(row.theirs())
        if ours.ndim + 1 == theirs.ndim and np.all(theirs == theirs[:, :1]):  # one value per pixel, Captum's
            theirs = theirs[:, 0]                                               # repeated over the channels
        theirs = theirs.reshape(ours.shape) if theirs.size == ours.size else theirs
        if ours.shape != theirs.shape:
            print(f"  {row.label:32s} shapes differ: minigrad {ours.shape}, Captum {theirs.shape}", flush=True)
            continue
        worst = np.abs(ours - theirs).max() / max(np.abs(theirs).max(), np.finfo(float).tiny)
        note = "   (each side its own random draws: not a parity check)" if row.random else ""
        if not np.abs(theirs).max() and not np.abs(ours).max():
            note = "   (both all zero)" + note
        print(f"  {row.label:32s} max |minigrad - Captum| / max |Captum| = {worst:.2e}{note}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="calls per median (after one warm-up call)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved medians per side; the best is printed")
    p.add_argument("--one-process", action="store_true", help="time the reference in this process too")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--arch", default="vgg_like", help="vgg_like (benchmarks/layers.py, 64 px) or a torchvision "
                                                      "name minigrad builds (resnet18, vgg11, mobilenet_v2; 224 px)")
    p.add_argument("--methods", help="comma-separated rows to run, by minigrad's or Captum's name "
                                     "(e.g. deeplift,Lime,sensitivity_max); default: all")
    p.add_argument("--check", action="store_true",
                   help="no timing: run each row once per side in this process, float64, and print the "
                        "largest difference of the outputs relative to Captum's largest value")
    args = p.parse_args(argv)
    names = None if args.methods is None else {s.strip().lower() for s in args.methods.split(",") if s.strip()}
    if not args.check:
        bench_layers.side_by_side.start(sys.argv[1:] if argv is None else argv)
    warnings.filterwarnings("ignore")
    dtype = np.float64 if args.check else np.float32
    # float32 weights on both sides (to_torch loads them into float32 modules), float64 for --check
    cam_layers, side = None, 64
    if args.arch == "vgg_like":
        net = bench_layers.vgg_like().to(np.float32).to(dtype)
        tnet = bench_layers.to_torch(net).to(torch.float64 if args.check else torch.float32).eval()
    else:  # a real network at 224 px, torch's twin under torchvision's names (tests/reference)
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "reference"))
        import torchvision_nets
        net = getattr(layers, args.arch)(seed=0, dtype=dtype).eval()
        tnet = getattr(torchvision_nets, args.arch)(dtype=torch.float64 if args.check else torch.float32)
        tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
        tnet.eval()
        side = 224
        if hasattr(net, "layer4"):  # ResNet: Grad-CAM at the last stage, as the paper's ResNet maps
            cam_layers = net.layer4, tnet.layer4
    x = np.random.default_rng(0).standard_normal((args.batch, 3, side, side)).astype(dtype)
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        table = rows(net, tnet, x, dtype, cam_layers)
        unknown = (names or set()) - {r.method.lower() for r in table} - {r.captum_name.lower() for r in table}
        if unknown:
            p.error(f"--methods: unknown {sorted(unknown)}; the rows are "
                    f"{', '.join(f'{r.method} ({r.captum_name})' for r in table)}")
        table = [r for r in table if r.chosen(names)]
        print(f"{args.arch}, batch {args.batch} x 3x{side}x{side}, {np.dtype(dtype).name}, {args.threads} threads, "
              f"torch {torch.__version__}")
        if hasattr(net, "layer4"):
            # Captum's DeepLift keeps one input and output per ReLU module, and torchvision's BasicBlock
            # calls its ReLU module twice: Captum raises there ("used more than once in the network")
            dropped = [r for r in table if r.captum_name in ("DeepLift", "DeepLiftShap")]
            table = [r for r in table if r not in dropped]
            if dropped:
                print(f"  not timed ({', '.join(r.method for r in dropped)}): Captum's DeepLift cannot run on a "
                      f"network that calls one ReLU module twice, as ResNet's blocks do")
        if args.check:
            return check(table)
        for row in table:
            a, b = bench_layers.interleaved(row.ours, row.theirs, args.repeats, args.rounds)
            print(f"  {row.label:32s} minigrad {a * 1e3:9.1f} ms   Captum {b * 1e3:9.1f} ms   ratio {a / b:5.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
