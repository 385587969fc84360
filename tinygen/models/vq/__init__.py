"""VQ-VAE: a discrete latent code, learned with a codebook; its prior is a PixelCNN."""
from .vq_vae import VQVAE, VectorQuantizer, code_perplexity
