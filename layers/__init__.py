"""CNN layers, losses, optimizers, initialisation, ready models and the training loop."""
import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads
from layers.activation import Identity, ReLU, ReLU6, Sigmoid, Tanh
from layers.checkpoint import load_checkpoint
from layers.conv import Conv2d
from layers.dropout import Dropout
from layers.init import manual_seed
from layers.linear import Flatten, Linear
from layers.losses import cross_entropy, mse_loss
from layers.models import MLP, GAPNet, LeNet, RandomMultiScaleNet
from layers.module import Buffer, Module, Parameter, Sequential
from layers.normalization import BatchNorm1d, BatchNorm2d
from layers.optim import SGD, Adam, NormalizedGradient
from layers.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from layers.progress import progress
from layers.train import accuracy, fit, predict

__all__ = ["Adam", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Buffer",
           "Conv2d", "Dropout", "Flatten", "GAPNet", "GlobalAvgPool2d", "Identity", "LeNet", "Linear", "MLP",
           "MaxPool2d", "Module", "NormalizedGradient", "Parameter", "RandomMultiScaleNet", "ReLU", "ReLU6", "SGD",
           "Sequential", "Sigmoid", "Tanh", "accuracy", "cross_entropy", "fit", "load_checkpoint", "manual_seed",
           "mse_loss", "predict", "progress"]
