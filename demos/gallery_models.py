"""``gallery_model(name)``: the networks the gallery looks inside, with their data.

Every network has a recipe here (its data, architecture, optimiser, epochs and seed). Trained
weights are stored as three files under a key made of the name, a digest of the recipe and the
seed: ``<key>.npz`` (the state dict), ``<key>.json`` (what training measured: accuracy, seconds,
epochs, the command that made them) and ``<key>-snapshots.npz`` (the first layer's weights at
chosen epochs). The package ships the seed-0 files in ``demos/weights/``, made by
``minigrad train --gallery``; a cache directory holds any others (another seed, MNIST, a retrain).
A change to a recipe changes its digest, so stale weights are never loaded for a new recipe.
"""
import hashlib
import json
import os
import re
import time
from collections.abc import Mapping

import numpy as np

import layers as L
from demos.digits import split_digits
from demos.mnist import load_mnist
from demos import shapes
from demos.shapes import CLASSES, make_shapes
from layers.losses import cross_entropy
from minigrad import Tensor
from minigrad.argument_checks import boolean, integer

#: Where the package's trained weights live (``minigrad train --gallery`` writes them).
SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")

#: What each network is trained with. ``loop`` versions the training code itself, ``data`` the data
#: generator's (a new rendering of the shapes must not load weights trained on the old one).
_SHAPES = dict(size=48, n_per_epoch=3000, n_test=600, widths=(16, 32, 64, 128), first_kernel=5, first_stride=2,
               batch_norm=True, first_init_scale=0.1, epochs=16, batch_size=32, lr=0.05, momentum=0.9,
               weight_decay=5e-4, final_lr_epochs=2, snapshot_epochs=(1, 2, 4), seed_offset=0, loop=3,
               adversarial_eps=4 / 255, data=shapes.VERSION)
RECIPES = {
    "shapes": _SHAPES,
    # another architecture and seed than "shapes" (a 3x3 first layer at full resolution, then a pool)
    # on other renderings of the data: a second opinion on images made through "shapes", e.g.
    # whether a class model is recognisable as its class or only fools the network it was made with
    "shapes_check": {**_SHAPES, "first_kernel": 3, "first_stride": 1, "first_init_scale": 1.0, "epochs": 12,
                     "snapshot_epochs": (), "seed_offset": 1},
    "digits_lenet": dict(epochs=10, batch_size=32, loop=2),
    "digits_linear": dict(epochs=40, batch_size=32, lr=1e-2, weight_decay=1e-3, loop=2),
    "moons_mlp": dict(n=400, noise=0.15, hidden=8, epochs=300, batch_size=64, lr=2e-2, loop=2),
}


class GalleryModel:
    """A trained network and its data: ``model`` (a ``layers`` Module in eval mode), ``data`` (a
    mapping of arrays; large entries are made on first access), ``info`` (accuracy, epochs, seconds,
    source: 'shipped', 'cached' or 'trained') and ``snapshots`` (epoch -> first-layer weights)."""

    def __init__(self, name, model, data, info, snapshots=None):
        self.name, self.model, self.data, self.info = name, model, data, info
        self.snapshots = snapshots or {}


class _LazyData(Mapping):
    """A read-only mapping whose values are made on first access, then kept. ``groups`` maps a
    tuple of keys to a function returning their values in that order (made together, once)."""

    def __init__(self, groups):
        self._groups, self._values = groups, {}

    def __getitem__(self, key):
        if key not in self._values:
            for keys, make in self._groups.items():
                if key in keys:
                    self._values.update(zip(keys, make()))
                    break
            else:
                raise KeyError(key)
        return self._values[key]

    def __iter__(self):
        return (k for keys in self._groups for k in keys)

    def __len__(self):
        return sum(len(keys) for keys in self._groups)


def _key(name, recipe, seed):
    digest = hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{digest}-seed{seed}"


def _load(base, model):
    """Load ``model`` from the files at ``base``; -> (info, snapshots), or None if absent or damaged."""
    if not (os.path.exists(base + ".json") and os.path.exists(base + ".npz")):
        return None
    try:
        model.load(base + ".npz")
        with open(base + ".json") as f:
            info = json.load(f)
        snapshots = {}
        if os.path.exists(base + "-snapshots.npz"):
            with np.load(base + "-snapshots.npz") as f:
                snapshots = {int(k): f[k] for k in f.files}
        return info, snapshots
    except (ValueError, OSError, KeyError, json.JSONDecodeError):
        return None  # a damaged entry: train again and overwrite it


def _store(base, model, info, snapshots):
    """Write the three files, each to a temporary name first, so an interruption leaves no half file."""
    os.makedirs(os.path.dirname(base), exist_ok=True)
    model.save(base + ".tmp.npz")
    os.replace(base + ".tmp.npz", base + ".npz")
    np.savez(base + "-snapshots.tmp.npz", **{str(k): v for k, v in snapshots.items()})
    os.replace(base + "-snapshots.tmp.npz", base + "-snapshots.npz")
    with open(base + ".json.tmp", "w") as f:
        json.dump(info, f, indent=1)
    os.replace(base + ".json.tmp", base + ".json")


# --- the recipes -----------------------------------------------------------------------------------
def _shapes_epoch(recipe, seed, epoch):
    """The training images of one epoch: every epoch sees fresh renderings (the generator's
    augmentation), seeded by (seed, epoch); the test set uses seeds no epoch does."""
    return make_shapes(recipe["n_per_epoch"], size=recipe["size"], seed=1000 * seed + epoch)


def _shapes_test(recipe, seed):
    return make_shapes(recipe["n_test"], size=recipe["size"], seed=10 ** 6 + seed, labels_out=True)


def _shapes_network(recipe, seed):
    model = L.GAPNet(num_classes=len(CLASSES), widths=recipe["widths"], seed=seed + recipe["seed_offset"],
                     first_kernel=recipe["first_kernel"], first_stride=recipe["first_stride"],
                     batch_norm=recipe["batch_norm"]).float()
    return model


def _fgsm_with_random_start(eps):
    """fit's ``augment``: each batch replaced by adversarial examples in the L-inf ball of radius
    eps, one signed gradient step of 1.25 eps from a uniform random start (Wong et al. 2020's fast
    adversarial training). Why: a network trained on them has input gradients that look like the
    data (Santurkar et al. 2019; Engstrom et al. 2019), so that class models and saliency show
    shapes rather than the high-frequency patterns an ordinary network responds to."""
    def augment(model, x, y, rng):
        delta = rng.uniform(-eps, eps, x.shape).astype(x.dtype)
        xt = Tensor(np.clip(x + delta, 0, 1), requires_grad=True)
        cross_entropy(model(xt), y).backward()
        delta = np.clip(delta + 1.25 * eps * np.sign(xt.grad), -eps, eps)
        return np.clip(x + delta, 0, 1)
    return augment


def _train_shapes(model, recipe, seed, progress_bar):
    """SGD with momentum and weight decay, the first layer initialised at a tenth of its usual scale.
    Why: Adam's per-weight step sizes move every first-layer weight by about lr whatever its
    gradient, which keeps the initial noise in the filters; SGD's steps follow the gradient, which
    for the first layer is a correlation of smooth image patches, and the small start lets what is
    learned dominate the noise it starts from. The learning rate drops 4x for the last epochs."""
    first = model.features[0]
    first.weight.data *= recipe["first_init_scale"]
    snapshots = {0: first.weight.data.copy()}
    opt = L.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                weight_decay=recipe["weight_decay"])
    X_test, y_test = _shapes_test(recipe, seed)[:2]
    epochs = recipe["epochs"]
    augment = _fgsm_with_random_start(recipe["adversarial_eps"]) if recipe["adversarial_eps"] else None
    for epoch in range(1, epochs + 1):
        if epoch == epochs - recipe["final_lr_epochs"] + 1:
            opt.lr = recipe["lr"] / 4
        X, y, _ = _shapes_epoch(recipe, seed + recipe["seed_offset"], epoch)
        L.fit(model, X, y, epochs=1, batch_size=recipe["batch_size"], optimizer=opt, seed=1000 * seed + epoch,
              progress_bar=progress_bar, verbose=False, augment=augment)
        if epoch in recipe["snapshot_epochs"] or epoch == epochs:
            snapshots[epoch] = first.weight.data.copy()
    return {"accuracy": L.accuracy(model, X_test, y_test), "epochs": epochs}, snapshots


def _shapes_train(recipe, seed):
    """The renderings of the first two epochs: a fixed training set of 2 x n_per_epoch images."""
    parts = [_shapes_epoch(recipe, seed + recipe["seed_offset"], epoch) for epoch in (1, 2)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _shapes_data(recipe, seed):
    return _LazyData({("X_train", "y_train"): lambda: _shapes_train(recipe, seed),
                      ("X_test", "y_test", "masks_test", "labels_test"): lambda: _shapes_test(recipe, seed)})


def _digits(mnist_dir, seed):
    if mnist_dir:
        Xtr, ytr = load_mnist(mnist_dir, "train")
        Xte, yte = load_mnist(mnist_dir, "test")
        return Xtr, ytr, Xte, yte
    return split_digits(seed)


def _lenet_network(recipe, seed, mnist_dir=None):
    return L.LeNet(input_size=28 if mnist_dir else 8, seed=seed).float()


def _train_lenet(model, recipe, seed, progress_bar, mnist_dir=None):
    Xtr, ytr, Xte, yte = _digits(mnist_dir, seed)
    epochs = min(recipe["epochs"], 3) if mnist_dir else recipe["epochs"]
    L.fit(model, Xtr, ytr, epochs=epochs, batch_size=recipe["batch_size"], seed=seed, progress_bar=progress_bar,
          verbose=False)
    return {"accuracy": L.accuracy(model, Xte, yte), "epochs": epochs,
            "dataset": "MNIST" if mnist_dir else "digits"}, {}


def _linear_network(recipe, seed):
    return L.MLP((64, 10), seed=seed)


def _train_linear(model, recipe, seed, progress_bar):
    Xtr, ytr, Xte, yte = split_digits(seed)
    L.fit(model, Xtr, ytr, epochs=recipe["epochs"], batch_size=recipe["batch_size"], seed=seed,
          optimizer=L.Adam(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"]),
          progress_bar=False, verbose=False)
    return {"accuracy": L.accuracy(model, Xte, yte), "epochs": recipe["epochs"]}, {}


def two_moons(n=400, noise=0.15, seed=0):
    """Two interleaved half circles in 2-D, labels 0/1 (the shape of scikit-learn's make_moons)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    X = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return X + rng.normal(0, noise, X.shape), label.astype(np.int64)


def _moons_network(recipe, seed):
    return L.MLP((2, recipe["hidden"], 2), seed=seed)


def _train_moons(model, recipe, seed, progress_bar):
    X, y = two_moons(recipe["n"], recipe["noise"], seed)
    L.fit(model, X, y, epochs=recipe["epochs"], batch_size=recipe["batch_size"], seed=seed,
          optimizer=L.Adam(model.parameters(), lr=recipe["lr"]), progress_bar=False, verbose=False)
    return {"accuracy": L.accuracy(model, X, y), "epochs": recipe["epochs"]}, {}


def _digits_data(recipe, seed, mnist_dir=None):
    return _LazyData({("X_train", "y_train", "X_test", "y_test"): lambda: _digits(mnist_dir, seed)})


def _moons_data(recipe, seed):
    X, y = two_moons(recipe["n"], recipe["noise"], seed)
    return dict(X=X, y=y, X_train=X, y_train=y, X_test=X, y_test=y)


#: name -> (network builder, trainer, data builder); each takes (recipe, seed) first.
_BUILDERS = {
    "shapes": (_shapes_network, _train_shapes, _shapes_data),
    "shapes_check": (_shapes_network, _train_shapes, _shapes_data),
    "digits_lenet": (_lenet_network, _train_lenet, _digits_data),
    "digits_linear": (_linear_network, _train_linear, _digits_data),
    "moons_mlp": (_moons_network, _train_moons, _moons_data),
}
NAMES = tuple(RECIPES)


def gallery_model(name, out=None, retrain=False, seed=0, mnist_dir=None, progress_bar=False, **recipe_changes):
    """The gallery's network ``name`` with its data.

    Looks for trained weights of (name, recipe, seed) in ``out`` (a cache directory), then among
    the package's shipped weights; trains them when there are none, or when ``retrain`` is True,
    and stores what it trained in ``out`` (nothing is written when ``out`` is None).

    Parameters
    ----------
    name : one of ``NAMES``: 'shapes' (GAPNet on ``make_shapes``' 48x48 images), 'shapes_check'
        (another architecture and seed on the same data, for second opinions), 'digits_lenet'
        (LeNet on scikit-learn's digits, or MNIST with ``mnist_dir``), 'digits_linear' (a softmax
        classifier on the 8x8 digits), 'moons_mlp' (a 2-8-2 MLP on two moons)
    out : directory for trained weights, or None
    seed : int >= 0; the shipped weights are seed 0's
    mnist_dir : 'digits_lenet' only: a directory with MNIST's IDX files
    recipe_changes : entries of ``RECIPES[name]`` to change (e.g. ``epochs=1`` for a quick check);
        a changed recipe is a different key, never the shipped weights

    Returns
    -------
    GalleryModel with .model (eval mode), .data (X_train, y_train, X_test, y_test, and for 'shapes'
    masks_test and labels_test), .info, .snapshots
    """
    if name not in RECIPES:
        raise ValueError(f"name: expected one of {', '.join(NAMES)}, got {name!r}")
    seed = integer(seed, "seed", low=0)
    boolean(retrain, "retrain")
    if mnist_dir is not None and name != "digits_lenet":
        raise ValueError(f"mnist_dir: only the 'digits_lenet' network trains on MNIST, got name={name!r}")
    unknown = sorted(set(recipe_changes) - set(RECIPES[name]))
    if unknown:
        raise ValueError(f"recipe_changes: {unknown} are not entries of {name}'s recipe "
                         f"({', '.join(sorted(RECIPES[name]))})")
    recipe = {**RECIPES[name], **recipe_changes}
    build, train, data = _BUILDERS[name]
    extra = {"mnist_dir": mnist_dir} if mnist_dir else {}
    key_recipe = {**recipe, "mnist": True} if mnist_dir else recipe
    key = _key(name, key_recipe, seed)
    model = build(recipe, seed, **extra)
    found = None
    if not retrain:
        for folder, source in ((out, "cached"), (SHIPPED, "shipped")):
            if folder is not None:
                found = _load(os.path.join(folder, key), model)
                if found is not None:
                    info, snapshots = found
                    info = {**info, "source": source}
                    break
    if found is None:
        t = time.perf_counter()
        model.train()
        info, snapshots = train(model, recipe, seed, progress_bar, **extra)
        info = {**info, "seconds": round(time.perf_counter() - t, 1), "seed": seed, "recipe": recipe,
                "key": key, "command": _command(name, seed)}
        if out is not None:
            _store(os.path.join(out, key), model, info, snapshots)
        info = {**info, "source": "trained"}
    model.eval()
    return GalleryModel(name, model, data(recipe, seed, **extra), info, snapshots)


def relus(model):
    """The ReLU modules of a network's ``features``, in order: the layers the figures read."""
    return [m for m in model.features if isinstance(m, L.ReLU)]


def _command(name, seed):
    """How these weights are made again from a shell (recorded beside them)."""
    return f"minigrad train --gallery --only {name} --seed {seed}"


def write_networks(names=NAMES, seed=0, out=SHIPPED, mnist_dir=None, progress_bar=True):
    """Train ``names`` afresh with their recipes and store them in ``out`` (the package's shipped
    weights by default), removing older files of the same names there; print each accuracy."""
    for name in names:
        gm = gallery_model(name, out=out, retrain=True, seed=seed, progress_bar=progress_bar,
                           mnist_dir=mnist_dir if name == "digits_lenet" else None)
        stale = re.compile(rf"{re.escape(name)}-[0-9a-f]{{10}}-seed{seed}(\.npz|\.json|-snapshots\.npz)$")
        for f in os.listdir(out):
            if stale.match(f) and not f.startswith(gm.info["key"]):
                os.remove(os.path.join(out, f))
        print(f"{name}: held-out accuracy {gm.info['accuracy']:.4f}, trained in {gm.info['seconds']:.0f} s "
              f"-> {os.path.join(out, gm.info['key'])}.npz")
