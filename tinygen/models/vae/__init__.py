"""The VAE (and, with a label, the conditional VAE), its loss, and the Gaussian mixtures
fitted to its latent codes for ex-post sampling, and M2, the semi-supervised VAE."""
from .vae import VAE, vae_loss, gaussian_kl
from .gaussian_mixture import GaussianMixture, ClassConditionalMixture
from .semi_supervised import SemiSupervisedVAE
