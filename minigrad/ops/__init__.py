"""Every differentiable op of minigrad, as plain functions on tensors.

Each file holds op classes (forward and backward side by side) and, below them, one documented
function per op: elementwise -> linalg -> reduce -> shape -> conv -> pool -> normalization -> fourier.
"""
from minigrad.ops.conv import conv2d
from minigrad.ops.elementwise import (abs, add, div, exp, log, mul, neg, pow, relu, relu6, sigmoid,
                                      sqrt, sub, tanh)
from minigrad.ops.fourier import irfft2
from minigrad.ops.linalg import linear, matmul
from minigrad.ops.normalization import batch_norm
from minigrad.ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from minigrad.ops.reduce import log_softmax, reduce_max as max, reduce_mean as mean, reduce_sum as sum, softmax
from minigrad.ops.shape import concatenate, getitem, reshape, stack, transpose

__all__ = ["abs", "adaptive_avg_pool2d", "adaptive_max_pool2d", "add", "avg_pool2d", "batch_norm", "concatenate", "conv2d", "div", "exp", "getitem", "irfft2", "linear",
           "log", "log_softmax", "matmul", "max", "max_pool2d", "mean", "mul", "neg", "pow", "relu",
           "relu6", "reshape", "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "tanh", "transpose"]
