"""A plain autoencoder, for features that a classifier reads."""
from .autoencoder import Autoencoder
