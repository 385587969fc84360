"""``tinygen.nn``: layers, containers and initialisers."""
from . import functional
