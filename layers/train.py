"""The training loop: seeded shuffling, mini-batches, a progress bar, and per-epoch metrics."""
import numpy as np

from layers.losses import LOSSES, _labels
from layers.optim import Adam
from layers.progress import progress
from minigrad import Tensor, no_grad
from minigrad.argument_checks import array, function, integer, real_array
from minigrad.argument_checks import seed as check_seed


class TrainingDiverged(ValueError, FloatingPointError):
    """``fit`` stopped because the loss became NaN or inf (the learning rate is too high for the
    data's scale, most often). A ValueError (a setting is wrong) and a FloatingPointError."""


def _check_data(X, y, what):
    X = real_array(X, f"{what}: X")
    if X.size == 0:
        raise ValueError(f"{what}: X is empty (shape {X.shape})")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what}: X contains NaN or inf ({int(np.sum(~np.isfinite(X)))} values)")
    if np.iscomplexobj(y):
        real_array(y, f"{what}: y")  # raises, naming y
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"{what}: y must hold one label per sample of X, got a scalar {y!r}")
    if len(y) != len(X):
        raise ValueError(f"{what}: X has {len(X)} samples but y has {len(y)}")
    if np.issubdtype(y.dtype, np.number) and not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: y contains NaN or inf")
    return X, y


def predict(model, X, batch_size=256):
    """The model's outputs for X in eval mode without recording a graph, as an array."""
    X = array(X, "X")
    batch_size = integer(batch_size, "batch_size", low=1)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return np.concatenate([model(Tensor(X[i:i + batch_size])).data
                                   for i in range(0, len(X), batch_size)])
    finally:
        model.train(was_training)


def accuracy(model, X, y, batch_size=256):
    """Fraction of samples whose arg-max output equals the label."""
    X, y = _check_data(X, y, "accuracy")
    return float(np.mean(predict(model, X, batch_size).argmax(axis=1) == y))


def fit(model, X, y, epochs=10, batch_size=64, optimizer=None, loss="cross_entropy",
        validation_data=None, seed=0, progress_bar=True, verbose=True, callback=None, augment=None):
    """Train ``model`` on (X, y) with mini-batches shuffled by ``seed``.

    Parameters
    ----------
    X : array (N, ...) of float32/float64 (the model's dtype is used)
    y : array (N,) of class indices for 'cross_entropy', or targets for 'mse'
    optimizer : an Optimizer, default Adam(model.parameters(), lr=1e-3)
    loss : 'cross_entropy' or 'mse', or a function (output, target) -> scalar Tensor
    validation_data : (X_val, y_val) or None
    callback : callback(epoch, model, history) after each epoch (epoch counts from 1); returning True
        stops training (e.g. to keep snapshots of the weights, or to stop early)
    augment : augment(model, x, y, rng) -> x' of x's shape, applied to every training batch before
        the step (random transforms, noise, adversarial examples); rng is fit's seeded generator

    Returns
    -------
    dict of per-epoch lists: 'loss', 'accuracy', and 'val_loss', 'val_accuracy' with validation data
    (accuracies only for 'cross_entropy').
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {sorted(LOSSES)} or a function, got {loss!r}")
        loss_name, loss_fn = loss, LOSSES[loss]
    else:
        loss_name, loss_fn = getattr(loss, "__name__", "loss"), loss
    epochs = integer(epochs, "epochs", low=1)
    batch_size = integer(batch_size, "batch_size", low=1)
    seed = check_seed(seed, "seed")
    function(callback, "callback", allow_none=True)
    function(augment, "augment", allow_none=True)
    if optimizer is not None and not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer: expected an Optimizer (SGD, Adam, ...) or None, got {type(optimizer).__name__}")
    X, y = _check_data(X, y, "fit")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val)")
        Xv, yv = _check_data(*validation_data, "fit validation_data")
    dtype = model.parameters()[0].dtype
    if loss_name == "cross_entropy":
        # every label, training and validation, is checked before the first step changes a weight
        with no_grad():
            n_classes = model.eval()(Tensor(X[:1].astype(dtype))).shape[-1]
        model.train()
        _labels(y, len(y), n_classes, "y")
        if validation_data is not None:
            _labels(yv, len(yv), n_classes, "validation_data y")
    X = X.astype(dtype, copy=False)
    optimizer = optimizer or Adam(model.parameters(), lr=1e-3)
    classify = loss_name == "cross_entropy"
    rng = np.random.default_rng(seed)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(X))
        batches = range(0, len(X), batch_size)
        bar = progress(batches, desc=f"epoch {epoch + 1}/{epochs}", enabled=progress_bar)
        total, correct = 0.0, 0
        for start in bar:
            idx = order[start:start + batch_size]
            xb = X[idx] if augment is None else _augmented(augment, model, X[idx], y[idx], rng)
            out = model(Tensor(xb))
            batch_loss = loss_fn(out, y[idx])
            if not np.isfinite(batch_loss.item()):
                raise TrainingDiverged(
                    f"fit: the loss became {batch_loss.item()} at epoch {epoch + 1}/{epochs}, step "
                    f"{start // batch_size + 1}/{len(batches)} (samples {start}..{start + len(idx) - 1}); the weights "
                    f"were updated {epoch * len(batches) + start // batch_size} times before. The optimisation "
                    f"diverged: try a lower learning rate (optimizer lr), or check the data's scale")
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(idx)
            if classify:
                correct += int(np.sum(out.data.argmax(axis=1) == y[idx]))
            bar.set_postfix(f"loss={total / (start + len(idx)):.4f}")
        history["loss"].append(total / len(X))
        if classify:
            history["accuracy"].append(correct / len(X))
        line = f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}"
        if classify:
            line += f", accuracy {history['accuracy'][-1]:.4f}"
        if validation_data is not None:
            out = predict(model, Xv.astype(dtype, copy=False))
            history["val_loss"].append(float(loss_fn(Tensor(out), yv).item()))
            line += f", val_loss {history['val_loss'][-1]:.4f}"
            if classify:
                history["val_accuracy"].append(float(np.mean(out.argmax(axis=1) == yv)))
                line += f", val_accuracy {history['val_accuracy'][-1]:.4f}"
        if verbose:
            print(line)
        if callback is not None and callback(epoch + 1, model, history):
            break
    return {k: v for k, v in history.items() if v}


def _augmented(augment, model, x, y, rng):
    xa = np.asarray(augment(model, x, y, rng))
    if xa.shape != x.shape:
        raise ValueError(f"augment: expected a batch of shape {x.shape} back, got {xa.shape}")
    model.train()  # an augmentation that ran the model in eval mode must not leave it there
    return xa.astype(x.dtype, copy=False)
