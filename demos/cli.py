"""The command line: ``minigrad gallery | train | explain | tsne | sanity`` (``python -m demos`` too).

``explain`` and ``gallery`` also take an ImageNet network, ``--arch NAME --weights FILE`` (a torchvision
checkpoint read without torch; nothing is downloaded): explain prints its top classes and maps the
image through ImageNet's preprocessing, gallery adds a section on the network.

Errors a user can fix (a missing file, an unknown method or layer, an image Pillow cannot read, a
folder without MNIST's IDX files) print one line saying what is wrong and what is accepted, and
exit with status 2; no traceback.
"""
import argparse
import os
import shutil
import sys

import numpy as np

USAGE_ERROR = 2


class UsageError(Exception):
    """A mistake in the command's arguments or files, reported in one line."""


def _check_mnist_dir(path):
    """Fail before any training when ``path`` does not hold MNIST's four IDX files."""
    from demos.mnist import _FILES, _find

    if not os.path.isdir(path):
        raise UsageError(f"--mnist {path}: no such directory")
    for split in _FILES.values():
        for stem in split:
            try:
                _find(path, stem)
            except FileNotFoundError:
                raise UsageError(f"--mnist {path}: no {stem} (or {stem}.gz) there; expected MNIST's four IDX "
                                 f"files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                                 f"t10k-labels-idx1-ubyte") from None


def cmd_gallery(args):
    from demos import gallery

    if args.mnist:
        _check_mnist_dir(args.mnist)
    network = _network_options(args, "gallery")
    mode = "quick" if args.quick else "full" if args.full else "default"
    path, failed = gallery.run(args.out, args.mnist, args.seed, mode, progress_bar=not args.no_progress,
                               network=None if network is None else (args.arch, network))
    print(f"gallery written: {os.path.abspath(path)}")
    if args.docs:
        os.makedirs(args.docs, exist_ok=True)
        for name in gallery.README_FIGURES:
            shutil.copyfile(os.path.join(args.out, name), os.path.join(args.docs, name))
        print(f"README figures copied to {os.path.abspath(args.docs)}")
    if failed:
        print(f"{failed} figure(s) failed; the page says which", file=sys.stderr)
        return 1
    return 0


def cmd_train(args):
    from demos import gallery_models

    if args.mnist:
        _check_mnist_dir(args.mnist)
    names = args.only or list(gallery_models.NAMES)
    for name in names:
        if name not in gallery_models.NAMES:
            raise UsageError(f"--only {name}: unknown network; accepted: {', '.join(gallery_models.NAMES)}")
    if args.gallery and (args.mnist or args.seed != 0):
        raise UsageError("--gallery writes the package's shipped weights, which are seed 0 on the built-in data; "
                         "drop --mnist and --seed, or write elsewhere with --out")
    out = gallery_models.SHIPPED if args.gallery else args.out
    gallery_models.write_networks(names, seed=args.seed, out=out, mnist_dir=args.mnist)
    return 0


# --- explain -------------------------------------------------------------------------------------
def _explainers():
    import methods
    from demos.imagenet import first_conv
    from minigrad import relevance

    return {
        "saliency": lambda m, x, t, layer: methods.saliency(m, x, t),
        "gradient": lambda m, x, t, layer: methods.gradient(m, x, t).sum(axis=0),
        "smoothgrad": lambda m, x, t, layer: methods.smoothgrad(methods.saliency, m, x, t, n_samples=25),
        "integrated_gradients": lambda m, x, t, layer: methods.integrated_gradients(m, x, t).sum(axis=0),
        "guided_backprop": lambda m, x, t, layer: methods.guided_backprop(m, x, t).sum(axis=0),
        "deconvnet": lambda m, x, t, layer: methods.deconvnet(m, x, t).sum(axis=0),
        "cam": lambda m, x, t, layer: methods.cam(m, x, t),
        "gradcam": lambda m, x, t, layer: methods.gradcam(m, x, t, layer),
        "gradcam_plus_plus": lambda m, x, t, layer: methods.gradcam_plus_plus(m, x, t, layer),
        "guided_gradcam": lambda m, x, t, layer: methods.guided_gradcam(m, x, t, layer).sum(axis=0),
        "occlusion": lambda m, x, t, layer: methods.occlusion(m, x, t, window=max(2, x.shape[1] // 4),
                                                            stride=max(1, x.shape[1] // 12)),
        # LRP-gamma on the first convolution (features[0] in GAPNet, conv1 in ResNet), LRP-eps above
        "lrp": lambda m, x, t, layer: methods.lrp(m, x, t, layer_rules={first_conv(m): relevance.gamma(0.25)}).sum(0),
        "excitation_backprop": lambda m, x, t, layer: methods.excitation_backprop(m, x, t, layer=layer,
                                                                                contrastive=True),
    }


METHOD_NAMES = ("saliency", "gradient", "smoothgrad", "integrated_gradients", "guided_backprop", "deconvnet", "cam",
                "gradcam", "gradcam_plus_plus", "guided_gradcam", "occlusion", "lrp", "excitation_backprop")


def _load_gapnet(path):
    """A GAPNet from a weights file written by ``save``: widths, the first kernel, batch norm and the
    first stride are read from the keys and shapes (a strided first stage has no pool after it)."""
    import layers as L

    if not os.path.isfile(path):
        raise UsageError(f"--model {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            state = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise UsageError(f"--model {path}: cannot read weights ({e}); expected an .npz written by Module.save") \
            from None
    convs = sorted((int(k.split(".")[1]), v) for k, v in state.items()
                   if k.startswith("features.") and k.endswith(".weight") and v.ndim == 4)
    if not convs or "fc.weight" not in state:
        raise UsageError(f"--model {path}: not GAPNet weights (expected features.N.weight and fc.weight keys)")
    batch_norm = any(k.endswith(".running_mean") for k in state)
    stage = 3 if batch_norm else 2  # conv, [norm], relu
    stride = 2 if len(convs) > 1 and convs[1][0] - convs[0][0] == stage else 1
    model = L.GAPNet(in_channels=convs[0][1].shape[1], num_classes=state["fc.weight"].shape[0],
                     widths=tuple(w.shape[0] for _, w in convs), first_kernel=convs[0][1].shape[-1],
                     first_stride=stride, batch_norm=batch_norm)
    try:
        model.load_state_dict(state)
    except ValueError as e:
        raise UsageError(f"--model {path}: {e}") from None
    return model.float().eval()


def _default_model(seed):
    from demos import gallery_models

    return gallery_models.gallery_model("shapes", os.path.join("gallery", "cache"), seed=seed).model


def _open_image(path, mode):
    """The image file at ``path`` converted to a PIL ``mode`` ('RGB' or 'L'), read in full."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            return img.convert(mode)
    except (UnidentifiedImageError, OSError) as e:
        raise UsageError(f"{path}: Pillow cannot read it as an image ({e}); give a PNG or JPEG file") from None


def _read_image(path, size, channels):
    from PIL import Image

    img = _open_image(path, "RGB" if channels == 3 else "L").resize((size, size), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _load_network(args):
    """The ImageNet network ``--arch`` with ``--weights`` (``demos.imagenet.load_network``); every
    problem is a usage error naming the option."""
    from demos import imagenet

    if args.arch not in imagenet.ARCHITECTURES:
        raise UsageError(f"--arch {args.arch}: unknown architecture; accepted: {', '.join(imagenet.ARCHITECTURES)}")
    if not args.weights:
        raise UsageError(f"--arch {args.arch} needs --weights FILE (a torchvision checkpoint .pth, .safetensors or "
                         f".npz); nothing is downloaded")
    try:
        return imagenet.load_network(args.arch, args.weights)
    except ValueError as e:
        raise UsageError(f"--weights {args.weights}: {str(e).removeprefix('weights: ')}") from None


def _network_options(args, command):
    """Refuse --weights (and explain's --top) without --arch; -> the loaded network or None."""
    if args.arch is not None:
        if getattr(args, "model", None) is not None:
            raise UsageError("--model takes GAPNet weights; with --arch give the network's weights as --weights")
        return _load_network(args)
    for option in ("weights", "top"):
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option} needs --arch NAME (an ImageNet network); without --arch {command} "
                             f"uses the gallery's small networks")
    return None


def _gapnet_explain_inputs(args):
    """(model, x, image shown, class names or None, default layer) for the small shapes network."""
    from demos.shapes import CLASSES

    model = _load_gapnet(args.model) if args.model else _default_model(args.seed)
    from demos.gallery_models import RECIPES

    size = RECIPES["shapes"]["size"] if args.size is None else args.size
    x = _read_image(args.image, size, model.features[0].in_channels)
    names = CLASSES if model.fc.out_features == len(CLASSES) else None
    return model, x, x, names, [n for n, m in model.named_modules() if type(m).__name__ == "ReLU"][-1]


def _imagenet_explain_inputs(args, model):
    """(model, x, image shown, class names, default layer) for an ImageNet network: the image through
    ImageNet's preprocessing (``--size`` scales both its steps: 224 of 256 by default)."""
    from demos import imagenet

    size = 224 if args.size is None else args.size
    if size < 32:  # VGG's five 2x2 pools need 32 pixels (AlexNet 63: its forward pass says so)
        raise UsageError(f"--size {size}: expected at least 32 pixels for an ImageNet network (224 by default)")
    x = imagenet.preprocess(_open_image(args.image, "RGB"), size=size, resize=round(size * 256 / 224))
    return model, x, imagenet.deprocess(x).transpose(2, 0, 1), imagenet.class_names(), imagenet.default_layer(model)


def _print_top_classes(args, logits):
    """--top lines 'probability index name', most probable first (softmax over the 1000 classes)."""
    from demos import imagenet

    top = 5 if args.top is None else args.top
    if not 1 <= top <= len(logits):
        raise UsageError(f"--top {top}: expected a number of classes in [1, {len(logits)}]")
    print(f"top {top} classes of {args.arch}: probability, index, name")
    for c, name, p in imagenet.top_k(logits, top):
        print(f"  {p:.4f}  {c:4d}  {name}")


def _parse_target(target, logits, names):
    """--target as a class index: the predicted class by default, else an index or a class name."""
    if target is None:
        return int(logits.argmax())
    if target.isdigit() and int(target) < len(logits):
        return int(target)
    if names is not None and target in names:
        return list(names).index(target)
    accepted = "" if names is None else (f" or a class name ({', '.join(names)})" if len(names) <= 20 else
                                         " or an ImageNet class name as demos/data/imagenet_classes.txt "
                                         "spells it (e.g. 'tabby', 'golden retriever')")
    raise UsageError(f"--target {target}: expected a class index in [0, {len(logits)}){accepted}")


def cmd_explain(args):
    from demos import plots

    if args.method not in METHOD_NAMES:
        raise UsageError(f"--method {args.method}: unknown method; accepted: {', '.join(METHOD_NAMES)}")
    if not os.path.isfile(args.image):
        raise UsageError(f"{args.image}: no such file")
    network = _network_options(args, "explain")
    model, x, shown, names, default_layer = (_imagenet_explain_inputs(args, network) if network is not None
                                             else _gapnet_explain_inputs(args))
    layers = dict(model.named_modules())
    layer_name = args.layer or default_layer
    if layer_name not in layers or layer_name == "":
        accepted = ", ".join(n for n in layers if n) if len(layers) <= 40 else \
            f"dotted module names such as {default_layer}, {list(layers)[-3]} ({len(layers) - 1} in all)"
        raise UsageError(f"--layer {args.layer}: not a layer of the model; accepted: {accepted}")
    try:
        logits = model.eval()(x[None]).data[0]
    except ValueError as e:  # an image too small for the network's pooling
        raise UsageError(f"--size: a {x.shape[1]}x{x.shape[2]} image does not fit the network ({e})") from None
    if network is not None:
        _print_top_classes(args, logits)
    target = _parse_target(args.target, logits, names)
    try:
        heat = _explainers()[args.method](model, x, target, layers[layer_name])
    except ValueError as e:  # a method that does not apply to this network (CAM needs GAP -> Linear)
        raise UsageError(f"--method {args.method}: {e}") from None
    out = args.out or f"{os.path.splitext(args.image)[0]}_{args.method}.png"
    fig, axes = plots.grid(1, 2, size=2.6)
    plots.image(axes[0, 0], shown, title="input")
    name = names[target] if names is not None else str(target)
    if heat.min() < 0:
        plots.signed(axes[0, 1], heat, title=f"{args.method}: {name}")
    else:
        plots.overlay(axes[0, 1], shown, heat, title=f"{args.method}: {name}")
    plots.save(fig, out)
    print(f"{args.method} for class {name} (logit {logits[target]:.2f}) written to {out}")
    return 0


# --- tsne ------------------------------------------------------------------------------------------
def _read_table(path):
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    try:
        if path.endswith(".npy"):
            X = np.load(path, allow_pickle=False)
        elif path.endswith(".csv"):
            X = np.genfromtxt(path, delimiter=",", dtype=np.float64)
            if X.ndim == 2 and np.isnan(X[0]).all():
                X = X[1:]  # a header row
        else:
            raise UsageError(f"{path}: expected a .npy or .csv file")
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read a numeric table ({e})") from None
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 3:
        raise UsageError(f"{path}: expected a 2-D table of at least 3 rows (samples x features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise UsageError(f"{path}: contains NaN, inf or non-numeric cells")
    return X


def cmd_tsne(args):
    from demos import plots
    from tsne import TSNE

    X = _read_table(args.file)
    if args.method not in ("barnes_hut", "exact", "fft"):
        raise UsageError(f"--method {args.method}: expected 'barnes_hut', 'exact' or 'fft'")
    if not 0 < args.perplexity < len(X):
        raise UsageError(f"--perplexity {args.perplexity}: expected a value in (0, {len(X)}) for {len(X)} samples")
    model = TSNE(perplexity=args.perplexity, method=args.method, random_state=args.seed, verbose=0)
    Y = model.fit_transform(X)
    prefix = args.out or os.path.splitext(args.file)[0] + "_tsne"
    tmp = f"{prefix}.{os.getpid()}.tmp.npy"  # written whole, then renamed: no half-written file
    try:
        np.save(tmp, Y)
        os.replace(tmp, prefix + ".npy")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fig, ax = plots.plt.subplots(figsize=(4, 4))
    ax.scatter(Y[:, 0], Y[:, 1], s=4, linewidths=0)
    ax.set_title(f"t-SNE, perplexity {args.perplexity:g}, KL {model.kl_divergence_:.3f}", fontsize=8)
    plots.save(fig, prefix + ".png")
    print(f"embedding {Y.shape} written to {prefix}.npy and {prefix}.png (KL {model.kl_divergence_:.4f})")
    return 0


def cmd_sanity(args):
    from demos import figures_sanity, gallery

    os.makedirs(args.out, exist_ok=True)
    ctx = gallery.Context(args.out, args.seed, "quick" if args.quick else "default", True)
    gallery.train_all(ctx)
    for fn in figures_sanity.FIGURES:
        fig = fn(ctx)
        print(f"{fig.title}: {os.path.join(args.out, fig.file)}")
        for k, v in fig.numbers.items():
            print(f"  {k}: {v}")
    return 0


def _network_arguments(p):
    p.add_argument("--arch", default=None, help="an ImageNet network (resnet18, vgg16, ...; needs --weights)")
    p.add_argument("--weights", default=None, help="with --arch: its torchvision checkpoint (.pth, .safetensors "
                   "or .npz); nothing is downloaded")


def parser():
    p = argparse.ArgumentParser(prog="minigrad", description="Look inside small convolutional networks.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gallery", help="load (or train) the small networks and draw every figure into DIR/index.html")
    g.add_argument("--out", default="gallery", help="output directory (default: gallery)")
    g.add_argument("--mnist", default=None, help="directory with MNIST's IDX files (LeNet trains on MNIST)")
    g.add_argument("--seed", type=int, default=0)
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default settings (kept for scripts that pass it)")
    mode.add_argument("--full", action="store_true", help="more steps and samples in every figure")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--docs", default=None, help="also copy the figures README shows into this directory")
    _network_arguments(g)
    t = sub.add_parser("train", help="train the gallery's networks afresh from their recipes and save the weights")
    t.add_argument("--gallery", action="store_true", help="write the package's shipped weights (demos/weights)")
    t.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="train only these (shapes, digits_lenet, digits_linear, moons_mlp)")
    t.add_argument("--out", default="outputs", help="where to write the weights without --gallery")
    t.add_argument("--mnist", default=None, help="directory with MNIST's IDX files (digits_lenet trains on MNIST)")
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("explain", help="an attribution map for a PNG/JPEG image")
    e.add_argument("image")
    e.add_argument("--method", default="gradcam", help=f"one of: {', '.join(METHOD_NAMES)}")
    e.add_argument("--target", default=None, help="class index or name (default: the predicted class)")
    e.add_argument("--layer", default=None, help="layer name for CAM-style methods (default: the last ReLU; with "
                   "--arch the last convolutional stage: layer4, the last ReLU of features, features.18)")
    e.add_argument("--model", default=None, help="GAPNet weights (.npz); default: the gallery's shapes network")
    e.add_argument("--size", type=int, default=None,
                   help="side the image is resized to (default 48; with --arch the crop, default 224)")
    _network_arguments(e)
    e.add_argument("--top", type=int, default=None, help="with --arch: how many top classes to print (default 5)")
    e.add_argument("--out", default=None, help="output PNG (default: beside the image)")
    e.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("tsne", help="embed a .npy or .csv table (rows = samples) with t-SNE")
    s.add_argument("file")
    s.add_argument("--perplexity", type=float, default=30.0)
    s.add_argument("--method", default="barnes_hut")
    s.add_argument("--out", default=None, help="output prefix (default: beside the file)")
    s.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("sanity", help="model-randomisation and localisation checks of the attribution methods")
    c.add_argument("--out", default="sanity")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--quick", action="store_true")
    return p


COMMANDS = {"gallery": cmd_gallery, "train": cmd_train, "explain": cmd_explain, "tsne": cmd_tsne,
            "sanity": cmd_sanity}


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"minigrad {args.command}: error: {e}", file=sys.stderr)
        return USAGE_ERROR


def _entry():
    """The console script: exit with main's status."""
    sys.exit(main())
