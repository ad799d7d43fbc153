"""What an optimised image should do to the network: objectives, and the losses they are made of.

An objective maps (the model's output, the captured layer outputs) to one scalar per image, a
Tensor (N,), which ``optimize_input`` *maximises*. Objectives compose: ``a + b``, ``a - b``,
``2 * a``, ``-a``; any callable ``(output, captured) -> Tensor (N,)`` is one too. The losses
(``feature_match``, ``content``, ``style``) are positive, so methods maximise their negatives.

The Gram-matrix losses follow Gatys et al. (2015, 2016) and are Tensors, so they sit in any graph.
"""
import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.argument_checks import array, integer


class Objective:
    """fn(output, captured) -> Tensor (N,), with the layers whose outputs it reads and whether it
    reads the model's output (when not, the forward pass can stop after the last of its layers)."""

    def __init__(self, fn, layers=(), name="objective", uses_output=True):
        self.fn, self.layers, self.name, self.uses_output = fn, tuple(layers), name, bool(uses_output)

    def __call__(self, output, captured):
        return self.fn(output, captured)

    def __repr__(self):
        return f"<Objective {self.name}>"

    def __add__(self, other):
        other = as_objective(other)
        return Objective(lambda o, c: self(o, c) + other(o, c), self.layers + other.layers,
                         f"{self.name} + {other.name}", self.uses_output or other.uses_output)

    def __sub__(self, other):
        return self + (-1.0) * as_objective(other)

    def __mul__(self, k):
        if not np.isscalar(k) or not np.isfinite(k):
            raise TypeError(f"an objective can be scaled by a finite number, got {k!r}")
        return Objective(lambda o, c: self(o, c) * float(k), self.layers, f"{k:g} * {self.name}", self.uses_output)

    __rmul__ = __mul__

    def __neg__(self):
        return (-1.0) * self


def as_objective(obj):
    """An ``Objective`` from itself or from a callable (output, captured) -> Tensor (N,)."""
    if isinstance(obj, Objective):
        return obj
    if callable(obj):
        return Objective(obj, (), getattr(obj, "__name__", "objective"))
    raise TypeError(f"objective: expected an Objective or a callable (output, captured) -> Tensor (N,), "
                    f"got {type(obj).__name__}")


def class_score(c):
    """The pre-softmax logit of class c (Simonyan et al. 2013: softmax would also reward lowering
    the other classes)."""
    c = integer(c, "c", low=0)
    return Objective(lambda out, cap: out[:, int(c)], (), f"class_score({c})")


def class_probability(c):
    """softmax(output)[:, c]."""
    c = integer(c, "c", low=0)
    return Objective(lambda out, cap: mg.softmax(out, axis=1)[:, int(c)], (), f"class_probability({c})")


def channel(layer, k):
    """The mean of feature map k of ``layer`` over positions (lucid's ``channel``)."""
    k = integer(k, "k", low=0)
    return Objective(lambda out, cap: cap[layer][:, int(k)].mean(axis=(1, 2)), (layer,), f"channel({k})",
                     uses_output=False)


def neuron(layer, k, i=None, j=None):
    """Unit A[k, i, j] of ``layer`` (the centre position by default)."""
    k = integer(k, "k", low=0)
    i = None if i is None else integer(i, "i", low=0)
    j = None if j is None else integer(j, "j", low=0)

    def fn(out, cap):
        A = cap[layer]
        return A[:, int(k), A.shape[2] // 2 if i is None else int(i), A.shape[3] // 2 if j is None else int(j)]
    return Objective(fn, (layer,), f"neuron({k}, {i}, {j})", uses_output=False)


def direction(layer, v):
    """<A[:, :, i, j], v> averaged over positions: a direction in ``layer``'s channel space
    (Olah et al. 2017)."""
    v = array(v, "v", ndim=1).astype(np.float64)
    return Objective(lambda out, cap: (cap[layer] * Tensor(v.astype(cap[layer].dtype)[:, None, None]))
                     .sum(axis=1).mean(axis=(1, 2)), (layer,), "direction", uses_output=False)


def dream(layer):
    """1/2 ||A||^2 per image, so that dL/dA = A (Mordvintsev et al. 2015: amplify what the layer sees)."""
    return Objective(lambda out, cap: (cap[layer] * cap[layer]).sum(axis=(1, 2, 3)) * 0.5, (layer,), "dream",
                     uses_output=False)


def feature_match(layer, target_features):
    """||Phi(x) - Phi_0||^2 / ||Phi_0||^2 per image (Mahendran & Vedaldi 2015, eq. 1's normalised loss):
    a loss, so maximise its negative. target_features: Phi_0 (N, ...) or (...)."""
    target = np.asarray(target_features, dtype=np.float64)

    def fn(out, cap):
        A = cap[layer]
        t = Tensor(np.broadcast_to(target, A.shape).astype(A.dtype))
        d = A - t
        axes = tuple(range(1, A.ndim))
        return (d * d).sum(axis=axes) / Tensor((t.data ** 2).sum(axis=axes) + 1e-12)
    return Objective(fn, (layer,), "feature_match", uses_output=False)


def content(layer, target):
    """``content_loss`` of ``layer``'s output against ``target`` (Gatys et al. 2016, eq. 1)."""
    return Objective(lambda out, cap: content_loss(cap[layer], target), (layer,), "content", uses_output=False)


def style(layers, target_grams, weights=None):
    """``style_loss`` over ``layers`` against their target Gram matrices (Gatys et al. 2016, eq. 5)."""
    layers = tuple(layers)
    return Objective(lambda out, cap: style_loss([cap[m] for m in layers], target_grams, weights),
                     layers, "style", uses_output=False)


def gram_matrix(A):
    """G = F F^T / (C H W) with F the (C, H*W) reshaping of each feature map (Gatys et al. 2015,
    eq. 1, normalised by the map's size): Tensor (N, C, H, W) -> Tensor (N, C, C)."""
    A = mg.as_tensor(A)
    if A.ndim != 4:
        raise ValueError(f"A: expected feature maps (N, C, H, W), got shape {A.shape}")
    N, C, H, W = A.shape
    F = A.reshape(N, C, H * W)
    return (F @ F.transpose(0, 2, 1)) * (1.0 / (C * H * W))


def content_loss(A, target):
    """1/2 sum (A - P)^2 per image (Gatys et al. 2016, eq. 1): A Tensor (N, ...), P array of A's shape
    (or of one image's shape) -> Tensor (N,)."""
    A = mg.as_tensor(A)
    P = np.asarray(target.data if isinstance(target, Tensor) else target)
    if P.shape != A.shape and P.shape != A.shape[1:]:
        raise ValueError(f"target: expected shape {A.shape} or {A.shape[1:]}, got {P.shape}")
    d = A - Tensor(np.broadcast_to(P, A.shape).astype(A.dtype))
    return (d * d).sum(axis=tuple(range(1, A.ndim))) * 0.5


def style_loss(features, target_grams, weights=None):
    """sum_l w_l E_l with E_l = 1/4 sum_ij (G^l_ij - A^l_ij)^2, G = ``gram_matrix`` of the image's
    features and A the target's (Gatys et al. 2016, eqs. 4-5: with Grams normalised by C H W, their
    1 / (4 N_l^2 M_l^2) becomes 1/4). features: Tensors (N, C_l, H_l, W_l); target_grams: arrays
    (C_l, C_l) or (N, C_l, C_l); weights default 1 / (number of layers). -> Tensor (N,)."""
    features = list(features)
    if len(target_grams) != len(features):
        raise ValueError(f"target_grams: expected {len(features)} Gram matrices (one per layer), "
                         f"got {len(target_grams)}")
    weights = [1.0 / len(features)] * len(features) if weights is None else list(weights)
    if len(weights) != len(features):
        raise ValueError(f"weights: expected {len(features)} values (one per layer), got {len(weights)}")
    total = None
    for A, target, w in zip(features, target_grams, weights):
        G = gram_matrix(A)
        T = np.asarray(target.data if isinstance(target, Tensor) else target)
        if T.shape[-2:] != G.shape[-2:]:
            raise ValueError(f"target_grams: expected ({G.shape[-1]}, {G.shape[-1]}) matrices, got {T.shape}")
        d = G - Tensor(np.broadcast_to(T, G.shape).astype(G.dtype))
        term = (d * d).sum(axis=(1, 2)) * (0.25 * float(w))
        total = term if total is None else total + term
    return total


def tv_loss(x, beta=2.0):
    """Total variation TV^beta (Mahendran & Vedaldi 2015, eq. 11):
    sum_{c,i,j} ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2)^(beta / 2) over the (H-1) x (W-1)
    positions that have both neighbours. x Tensor (N, C, H, W) -> Tensor (N,)."""
    x = mg.as_tensor(x)
    if x.ndim != 4 or x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"x: expected images (N, C, H, W) with H, W >= 2, got shape {x.shape}")
    if not np.isscalar(beta) or not beta > 0:
        raise ValueError(f"beta: expected a number > 0, got {beta!r}")
    dx = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    dy = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    s = dx * dx + dy * dy
    return (s if beta == 2 else s ** (beta / 2.0)).sum(axis=(1, 2, 3))
