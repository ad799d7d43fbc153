"""Attributions from one backward pass through swappable rules: the gradient (Simonyan et al.
2013), saliency, input x gradient, guided backpropagation (Springenberg et al. 2014) and the
deconvnet (Zeiler & Fergus 2014). One forward pass, one reverse pass under a rule table; the
model is never edited and no hook is installed.

Each method takes ``additional_forward_args``: extra arguments of the model's forward, passed after
x as they are (Captum's; see ``methods.inputs_and_targets``).
"""
import numpy as np

import minigrad
from methods.inputs_and_targets import as_batch, run_model, scores, unbatch
from minigrad import Tensor


def input_gradient(model, x, target, additional_forward_args=None, **rule_table):
    """d score / d x under ``rule_table`` (op name -> rule), the model run as
    ``model(x, *additional_forward_args)``; -> (gradient (N, C, H, W), x batch, single)."""
    xb, single = as_batch(x)
    xt = Tensor(xb, requires_grad=True)
    s = scores(run_model(model, xt, additional_forward_args), target)
    with minigrad.rules(**rule_table):
        g, = minigrad.grad(s, [xt])
    return g, xb, single


def gradient(model, x, target, additional_forward_args=None):
    """dy_c/dx (Simonyan et al. 2013, eq. 2): x (N, C, H, W) or (C, H, W) -> same shape."""
    g, _, single = input_gradient(model, x, target, additional_forward_args)
    return unbatch(g, single)


def saliency(model, x, target, additional_forward_args=None):
    """max over channels of |dy_c/dx| (Simonyan et al. 2013, sec. 3.1): -> (N, H, W) or (H, W)."""
    g, _, single = input_gradient(model, x, target, additional_forward_args)
    return unbatch(np.abs(g).max(axis=1), single)


def input_x_gradient(model, x, target, additional_forward_args=None):
    """x * dy_c/dx (Shrikumar et al. 2016): -> x's shape."""
    g, xb, single = input_gradient(model, x, target, additional_forward_args)
    return unbatch(xb * g, single)


def guided_backprop(model, x, target, additional_forward_args=None):
    """The gradient with every ReLU's backward replaced by relu(g) * 1[x > 0]
    (Springenberg et al. 2014, sec. 3.4; ReLU6's by relu(g) * 1[0 < x < 6]): -> x's shape."""
    g, _, single = input_gradient(model, x, target, additional_forward_args, relu="guided", relu6="guided")
    return unbatch(g, single)


def deconvnet(model, x, target, additional_forward_args=None):
    """The gradient with every ReLU's backward replaced by relu(g), the forward sign ignored
    (Zeiler & Fergus 2014, sec. 2.1): -> x's shape."""
    g, _, single = input_gradient(model, x, target, additional_forward_args, relu="deconvnet", relu6="deconvnet")
    return unbatch(g, single)
