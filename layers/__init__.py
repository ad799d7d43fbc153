"""CNN layers, losses, optimizers, initialisation, ready models and the training loop."""
import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads
from layers.activation import Identity, ReLU, ReLU6, Sigmoid, Tanh
from layers.checkpoint import load_checkpoint
from layers.conv import Conv2d
from layers.dropout import Dropout
from layers.from_torch import from_torch
from layers.init import manual_seed
from layers.linear import Flatten, Linear
from layers.losses import cross_entropy, mse_loss
from layers.mobilenet import Conv2dNormActivation, InvertedResidual, MobileNetV2, mobilenet_v2
from layers.models import MLP, GAPNet, LeNet, RandomMultiScaleNet
from layers.module import Buffer, Module, Parameter, Sequential
from layers.normalization import BatchNorm1d, BatchNorm2d
from layers.optim import SGD, Adam, NormalizedGradient
from layers.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from layers.progress import progress
from layers.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from layers.train import TrainingDiverged, accuracy, fit, predict
from layers.vgg import (VGG, AlexNet, alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                        vgg19_bn)

__all__ = ["Adam", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AlexNet", "AvgPool2d", "BasicBlock", "BatchNorm1d",
           "BatchNorm2d", "Bottleneck", "Buffer", "Conv2d", "Conv2dNormActivation", "Dropout", "Flatten", "GAPNet",
           "GlobalAvgPool2d", "Identity", "InvertedResidual", "LeNet", "Linear", "MLP", "MaxPool2d", "MobileNetV2",
           "Module", "NormalizedGradient", "Parameter", "RandomMultiScaleNet", "ReLU", "ReLU6", "ResNet", "SGD",
           "Sequential", "Sigmoid", "Tanh", "TrainingDiverged", "VGG", "accuracy", "alexnet", "cross_entropy", "fit", "from_torch",
           "load_checkpoint", "manual_seed", "mobilenet_v2", "mse_loss", "predict", "progress", "resnet18",
           "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn"]
