"""Attributions from one backward pass through swappable rules: the gradient (Simonyan et al.
2013), saliency, input x gradient, guided backpropagation (Springenberg et al. 2014) and the
deconvnet (Zeiler & Fergus 2014). One forward pass, one reverse pass under a rule table; the
model is never edited and no hook is installed.

Each method takes ``additional_forward_args``: extra arguments of the model's forward, passed after
x as they are, and x as Captum's tuple of inputs, returning a tuple (see ``methods.inputs_and_targets``).
"""
import numpy as np

import minigrad
from methods.inputs_and_targets import Inputs, run_model, scores


def input_gradients(model, x, target, additional_forward_args=None, **rule_table):
    """d score / d x under ``rule_table`` (op name -> rule), the model run as
    ``model(x, *additional_forward_args)`` (``model(x_1, ..., x_m, *args)`` for a tuple x)
    -> (one gradient per input, ``Inputs`` of x)."""
    inputs = Inputs(x)
    xts = inputs.tensors()
    s = scores(run_model(model, xts, additional_forward_args), target)
    with minigrad.rules(**rule_table):
        grads = minigrad.grad(s, xts)
    return grads, inputs


def input_gradient(model, x, target, additional_forward_args=None, **rule_table):
    """``input_gradients`` for one image batch x: -> (gradient (N, C, H, W), x batch, single)."""
    (g,), inputs = input_gradients(model, x, target, additional_forward_args, **rule_table)
    return g, inputs.arrays[0], inputs.single


def _channel_max(g):
    """max over channels of |g| for (N, C, ...) inputs; |g| itself for (N,) and (N, F) inputs, which
    have no channel axis (Captum's Saliency, abs=True)."""
    return np.abs(g).max(axis=1) if g.ndim >= 3 else np.abs(g)


def gradient(model, x, target, additional_forward_args=None):
    """dy_c/dx (Simonyan et al. 2013, eq. 2): x (N, C, H, W) or (C, H, W) -> same shape; a tuple of
    inputs -> a tuple of their gradients."""
    grads, inputs = input_gradients(model, x, target, additional_forward_args)
    return inputs.restore(grads)


def saliency(model, x, target, additional_forward_args=None):
    """max over channels of |dy_c/dx| (Simonyan et al. 2013, sec. 3.1): -> (N, H, W) or (H, W); for a
    tuple of inputs one map per input, |dy_c/dx| itself for inputs without channels ((N,), (N, F))."""
    grads, inputs = input_gradients(model, x, target, additional_forward_args)
    return inputs.restore([_channel_max(g) for g in grads])


def input_x_gradient(model, x, target, additional_forward_args=None):
    """x * dy_c/dx (Shrikumar et al. 2016): -> x's shape (a tuple for a tuple of inputs)."""
    grads, inputs = input_gradients(model, x, target, additional_forward_args)
    return inputs.restore([a * g for a, g in zip(inputs.arrays, grads)])


def guided_backprop(model, x, target, additional_forward_args=None):
    """The gradient with every ReLU's backward replaced by relu(g) * 1[x > 0]
    (Springenberg et al. 2014, sec. 3.4; ReLU6's by relu(g) * 1[0 < x < 6]): -> x's shape."""
    grads, inputs = input_gradients(model, x, target, additional_forward_args, relu="guided", relu6="guided")
    return inputs.restore(grads)


def deconvnet(model, x, target, additional_forward_args=None):
    """The gradient with every ReLU's backward replaced by relu(g), the forward sign ignored
    (Zeiler & Fergus 2014, sec. 2.1): -> x's shape."""
    grads, inputs = input_gradients(model, x, target, additional_forward_args, relu="deconvnet",
                                    relu6="deconvnet")
    return inputs.restore(grads)
