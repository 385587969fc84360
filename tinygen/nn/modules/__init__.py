from .container import Sequential, ModuleList, ModuleDict
from .linear import Identity, Linear, Flatten, Unflatten
from .conv import Conv2d, ConvTranspose2d
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm2d
from .activation import ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softplus, SiLU, GELU, Softmax, LogSoftmax
from .pooling import MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Upsample
from .misc import Dropout, Embedding
from .loss import (MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss,
                   KLDivLoss, GaussianNLLLoss)
