"""Models, each in its own file, written with tinygen's public API."""
from .classifier import SmallCNN
from .vae import VAE
