"""Autoregressive image models: PixelCNN with masked convolutions."""
from .pixelcnn import PixelCNN, CategoricalPixelCNN, MaskedConv2d, causal_mask
