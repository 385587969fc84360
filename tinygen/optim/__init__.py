"""``tinygen.optim``: optimizers, LR schedulers and a weight EMA, with PyTorch's update rules."""
from . import lr_scheduler
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .ema import EMA
