"""fastconv.nn: layers, losses and optimisers over fastconv.nn.functional.

A small torch-like library on NumPy float32 arrays with explicit backward passes::

    from fastconv import nn

    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten(), nn.Linear(16, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = nn.AdamW(model.parameters(), lr=3e-3)
    for x, y in nn.DataLoader(x_train, y_train, batch_size=64):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()

Modules: ``modules`` (layers), ``loss``, ``optim``, ``schedule``, ``init``, ``data``
(MNIST-1D, digits, DataLoader), ``models`` (named CNNs); ``functional`` is the kernels.
"""

from fastconv.nn import functional, init
from fastconv.nn.data import DataLoader, Dataset, load_dataset, load_digits, load_mnist1d
from fastconv.nn.init import manual_seed
from fastconv.nn.loss import CrossEntropyLoss, MSELoss
from fastconv.nn.models import build_model, cnn1d, cnn2d
from fastconv.nn.modules import (
    GELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    LayerArgumentError,
    LayerDtypeError,
    Linear,
    MaxPool1d,
    MaxPool2d,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Tanh,
)
from fastconv.nn.optim import SGD, Adam, AdamW, Optimizer
from fastconv.nn.schedule import CosineAnnealingLR, LRScheduler, StepLR

__all__ = [
    "functional",
    "LayerArgumentError",
    "LayerDtypeError",
    "init",
    "manual_seed",
    "Parameter",
    "Module",
    "Sequential",
    "Identity",
    "Linear",
    "Conv1d",
    "Conv2d",
    "ReLU",
    "GELU",
    "Tanh",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Dropout",
    "BatchNorm1d",
    "BatchNorm2d",
    "CrossEntropyLoss",
    "MSELoss",
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "LRScheduler",
    "StepLR",
    "CosineAnnealingLR",
    "Dataset",
    "DataLoader",
    "load_mnist1d",
    "load_digits",
    "load_dataset",
    "build_model",
    "cnn1d",
    "cnn2d",
]
