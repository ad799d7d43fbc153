"""Loss functions: cross-entropy from logits (through the stable log-softmax) and MSE."""
import numpy as np

from minigrad import Tensor, as_tensor, log_softmax


def _labels(target, n, num_classes, name="target"):
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if y.shape != (n,):
        raise ValueError(f"{name}: expected {n} class indices, shape ({n},), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.mod(y, 1) == 0):
            raise TypeError(f"{name}: expected integer class indices, got dtype {y.dtype}")
        y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)]
        raise ValueError(f"{name}: class indices must lie in [0, {num_classes}), got {len(bad)} outside "
                         f"(e.g. {bad[0]}), values in [{y.min()}, {y.max()}]")
    return y


def cross_entropy(logits, target):
    """mean_n -log softmax(logits_n)[target_n]: logits (N, K), target (N,) ints -> scalar Tensor."""
    logits = as_tensor(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits: expected shape (N, K), got {logits.shape}")
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits: expected at least one sample and one class, got an empty batch of shape "
                         f"{logits.shape} (its mean loss would be NaN)")
    y = _labels(target, logits.shape[0], logits.shape[1])
    return -log_softmax(logits, axis=1)[np.arange(len(y)), y].mean()


def mse_loss(prediction, target):
    """mean((prediction - target)^2); shapes must match exactly (no silent broadcasting)."""
    prediction, target = as_tensor(prediction, "prediction"), as_tensor(target, "target")
    if prediction.shape != target.shape:
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} and target shape "
                         f"{target.shape} differ")
    d = prediction - target
    return (d * d).mean()


LOSSES = {"cross_entropy": cross_entropy, "mse": mse_loss}
