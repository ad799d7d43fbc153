"""The training job: the GAP network on ``make_shapes`` and LeNet on digits (or MNIST)."""
import os
import time

import numpy as np

from demos.digits import load_digits
from demos.mnist import load_mnist
from demos.shapes import make_shapes
from layers import Adam, GAPNet, LeNet, accuracy, fit


def train_shapes(n_train=3000, n_test=600, size=32, epochs=20, seed=0, progress_bar=True, verbose=True):
    """GAPNet (float32) on make_shapes -> (model, held-out accuracy)."""
    X, y, _ = make_shapes(n_train + n_test, size=size, seed=seed)
    model = GAPNet(num_classes=6, seed=seed).float()
    fit(model, X[:n_train], y[:n_train], epochs=epochs, batch_size=32,
        optimizer=Adam(model.parameters(), lr=3e-3),
        validation_data=(X[n_train:], y[n_train:]), seed=seed, progress_bar=progress_bar, verbose=verbose)
    return model, accuracy(model, X[n_train:], y[n_train:])


def train_digits(epochs=15, seed=0, mnist_dir=None, progress_bar=True, verbose=True):
    """LeNet on MNIST when ``mnist_dir`` holds its IDX files, else on scikit-learn's digits
    (a seeded random 80/20 split) -> (model, held-out accuracy, name)."""
    if mnist_dir:
        Xtr, ytr = load_mnist(mnist_dir, "train")
        Xte, yte = load_mnist(mnist_dir, "test")
        name, epochs = "mnist", min(epochs, 3)
    else:
        X, y = load_digits()
        order = np.random.default_rng(seed).permutation(len(X))
        train, test = order[:1437], order[1437:]
        Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]
        name = "digits"
    model = LeNet(input_size=Xtr.shape[-1], seed=seed).float()
    fit(model, Xtr, ytr, epochs=epochs, batch_size=32, validation_data=(Xte, yte), seed=seed,
        progress_bar=progress_bar, verbose=verbose)
    return model, accuracy(model, Xte, yte), name


def main(out_dir="outputs", mnist_dir=None, seed=0):
    os.makedirs(out_dir, exist_ok=True)
    t = time.perf_counter()
    model, acc = train_shapes(seed=seed)
    model.save(os.path.join(out_dir, "gapnet_shapes.npz"))
    print(f"GAPNet on shapes: held-out accuracy {acc:.4f} ({time.perf_counter() - t:.1f} s)")
    t = time.perf_counter()
    model, acc, name = train_digits(seed=seed, mnist_dir=mnist_dir)
    model.save(os.path.join(out_dir, f"lenet_{name}.npz"))
    print(f"LeNet on {name}: held-out accuracy {acc:.4f} ({time.perf_counter() - t:.1f} s)")
    print(f"weights saved in {os.path.abspath(out_dir)}")
