"""Normalizing flows: the invertible layers, the multi-scale frame, RealNVP and Glow."""
from .layers import (ActNorm, AffineCoupling, InvertibleConv1x1, LogitTransform, Squeeze, checkerboard,
                     coupling_network)
from .multiscale import MultiScaleFlow
from .realnvp import RealNVP
from .glow import Glow
