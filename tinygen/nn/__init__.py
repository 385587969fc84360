"""``tinygen.nn``: layers, containers, losses and initialisers, with PyTorch's names."""
from . import functional, init, utils
from .module import Module
from .parameter import Parameter
from .modules import *  # noqa: F401,F403  (the layer classes)
