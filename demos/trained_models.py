"""The networks the gallery looks inside, trained here on embedded data or loaded from a cache.

Weights are cached in ``<out>/cache/`` under a name that holds the configuration and the seed,
with a JSON file of what training measured (accuracy, seconds, filter snapshots' epochs), so a
second run with the same settings loads them instead of training again.
"""
import hashlib
import json
import os
import time

import numpy as np

import layers as L
from demos.digits import split_digits
from demos.mnist import load_mnist
from demos.shapes import make_shapes

#: Training settings per gallery mode. 'quick' is for tests; 'full' trains longer and larger.
#: ``loop`` versions the training code, so that a cache written by an older loop is not reused.
CONFIGS = {
    "quick": dict(shapes=dict(n_train=600, n_test=240, size=20, widths=(8, 16, 32), epochs=3, loop=2),
                  lenet=dict(epochs=3), linear=dict(epochs=20, weight_decay=1e-3), mlp=dict(epochs=150)),
    "default": dict(shapes=dict(n_train=2400, n_test=600, size=24, widths=(16, 32, 64), epochs=10, loop=2),
                    lenet=dict(epochs=10), linear=dict(epochs=40, weight_decay=1e-3), mlp=dict(epochs=300)),
    "full": dict(shapes=dict(n_train=3000, n_test=600, size=32, widths=(16, 32, 64), epochs=20, loop=2),
                 lenet=dict(epochs=15), linear=dict(epochs=60, weight_decay=1e-3), mlp=dict(epochs=400)),
}


class Trained:
    """A model with its data and what training measured: ``model``, ``data`` (a dict of arrays),
    ``info`` (accuracy, seconds, cached, ...) and ``snapshots`` (epoch -> first-layer weights)."""

    def __init__(self, model, data, info, snapshots=None):
        self.model, self.data, self.info, self.snapshots = model, data, info, snapshots or {}


def _key(name, config, seed):
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{digest}-seed{seed}"


def _cached(cache_dir, name, config, seed, model, train):
    """Load ``model``'s weights for (name, config, seed) from the cache, or ``train()`` and store them.
    train() -> (info dict, snapshots dict epoch -> array). Returns (info, snapshots)."""
    os.makedirs(cache_dir, exist_ok=True)
    base = os.path.join(cache_dir, _key(name, config, seed))
    if os.path.exists(base + ".json") and os.path.exists(base + ".npz"):
        try:
            model.load(base + ".npz")
            with open(base + ".json") as f:
                info = json.load(f)
            with np.load(base + "-snapshots.npz") as f:
                snapshots = {int(k): f[k] for k in f.files}
            return {**info, "cached": True}, snapshots
        except (ValueError, OSError, KeyError, json.JSONDecodeError):
            pass  # a damaged cache entry: train again and overwrite it
    t = time.perf_counter()
    info, snapshots = train()
    info = {**info, "seconds": round(time.perf_counter() - t, 1)}
    model.save(base + ".npz")
    np.savez(base + "-snapshots.npz", **{str(k): v for k, v in snapshots.items()})
    with open(base + ".json", "w") as f:
        json.dump(info, f)
    return {**info, "cached": False}, snapshots


def _fit_with_snapshots(model, first, X, y, epochs, seed, snapshot_epochs, progress_bar, **fit_args):
    """One ordinary ``fit``, keeping ``first``'s weights at the start and after the listed epochs."""
    snapshots = {0: first.weight.data.copy()}

    def keep(epoch, model, history):
        if epoch in snapshot_epochs or epoch == epochs:
            snapshots[epoch] = first.weight.data.copy()

    L.fit(model, X, y, epochs=epochs, seed=seed, verbose=False, progress_bar=progress_bar, callback=keep,
          **fit_args)
    return snapshots


def shapes_gapnet(cache_dir, mode="default", seed=0, progress_bar=True):
    """GAPNet (float32) on ``make_shapes`` with masks; snapshots of conv1 during training."""
    cfg = CONFIGS[mode]["shapes"]
    n, size = cfg["n_train"], cfg["size"]
    X, y, masks = make_shapes(n + cfg["n_test"], size=size, seed=seed)
    model = L.GAPNet(num_classes=6, widths=cfg["widths"], seed=seed).float()

    def train():
        snaps = _fit_with_snapshots(model, model.features[0], X[:n], y[:n], cfg["epochs"], seed, {1, 2, 4},
                                    progress_bar, optimizer=L.Adam(model.parameters(), lr=3e-3), batch_size=32)
        return {"accuracy": L.accuracy(model, X[n:], y[n:]), "epochs": cfg["epochs"]}, snaps

    info, snaps = _cached(cache_dir, "gapnet-shapes", cfg, seed, model, train)
    data = dict(X_train=X[:n], y_train=y[:n], X_test=X[n:], y_test=y[n:], masks_test=masks[n:])
    return Trained(model, data, {**info, "size": size, "n_train": n}, snaps)


def digits_lenet(cache_dir, mode="default", seed=0, mnist_dir=None, progress_bar=True):
    """LeNet (float32) on scikit-learn's digits (a seeded 80/20 split), or on MNIST's IDX files."""
    cfg = dict(CONFIGS[mode]["lenet"], mnist=bool(mnist_dir))
    if mnist_dir:
        Xtr, ytr = load_mnist(mnist_dir, "train")
        Xte, yte = load_mnist(mnist_dir, "test")
        cfg["epochs"] = min(cfg["epochs"], 3)
    else:
        Xtr, ytr, Xte, yte = split_digits(seed)
    model = L.LeNet(input_size=Xtr.shape[-1], seed=seed).float()

    def train():
        L.fit(model, Xtr, ytr, epochs=cfg["epochs"], batch_size=32, seed=seed, progress_bar=progress_bar,
              verbose=False)
        return {"accuracy": L.accuracy(model, Xte, yte), "epochs": cfg["epochs"]}, {}

    info, _ = _cached(cache_dir, "lenet-mnist" if mnist_dir else "lenet-digits", cfg, seed, model, train)
    return Trained(model, dict(X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte),
                   {**info, "dataset": "MNIST" if mnist_dir else "digits"})


def digits_linear(cache_dir, mode="default", seed=0):
    """A linear softmax classifier on the 8x8 digits: its weights are class templates (lecture 003)."""
    cfg = CONFIGS[mode]["linear"]
    Xtr, ytr, Xte, yte = split_digits(seed)
    model = L.MLP((64, 10), seed=seed)

    def train():
        L.fit(model, Xtr, ytr, epochs=cfg["epochs"], batch_size=32, seed=seed,
              optimizer=L.Adam(model.parameters(), lr=1e-2, weight_decay=cfg["weight_decay"]), progress_bar=False,
              verbose=False)
        return {"accuracy": L.accuracy(model, Xte, yte), "epochs": cfg["epochs"]}, {}

    info, _ = _cached(cache_dir, "linear-digits", cfg, seed, model, train)
    return Trained(model, dict(X_test=Xte, y_test=yte), info)


def two_moons(n=400, noise=0.15, seed=0):
    """Two interleaved half circles in 2-D, labels 0/1 (the shape of scikit-learn's make_moons)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    X = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return X + rng.normal(0, noise, X.shape), label.astype(np.int64)


def moons_mlp(cache_dir, mode="default", seed=0, hidden=8):
    """An MLP (2 -> hidden -> 2) on two moons: each hidden unit is a line in the plane (lecture 004)."""
    cfg = dict(CONFIGS[mode]["mlp"], hidden=hidden)
    X, y = two_moons(seed=seed)
    model = L.MLP((2, hidden, 2), seed=seed)

    def train():
        L.fit(model, X, y, epochs=cfg["epochs"], batch_size=64, seed=seed,
              optimizer=L.Adam(model.parameters(), lr=2e-2), progress_bar=False, verbose=False)
        return {"accuracy": L.accuracy(model, X, y), "epochs": cfg["epochs"]}, {}

    info, _ = _cached(cache_dir, "mlp-moons", cfg, seed, model, train)
    return Trained(model, dict(X=X, y=y), info)
