"""Models, grouped by family; each family is a subpackage, each model a file.

    gans/            MLP, small conv, DCGAN, WGAN-GP, CGAN, ACGAN, InfoGAN, self-conditioned
    vae/             VAE, conditional VAE (+ the latent mixtures for ex-post sampling), M2 semi-supervised VAE
    flows/           RealNVP and Glow, on shared invertible layers
    autoregressive/  PixelCNN
    vq/              VQ-VAE
    diffusion/       DDPM and its U-Net
    translation/     CycleGAN
    energy/          RBM and DBN
    autoencoder/     the autoencoder behind the feature-classification example
"""
from . import autoencoder, autoregressive, diffusion, energy, flows, gans, translation, vae, vq
from .gans import (MLPGenerator, MLPDiscriminator, ConvGenerator, ConvDiscriminator, DCGANGenerator,
                   DCGANDiscriminator, WGANCritic, ConditionalGenerator, CGANDiscriminator,
                   ACGANDiscriminator, SelfConditionedGenerator)
from .vae import VAE, GaussianMixture, ClassConditionalMixture, SemiSupervisedVAE
from .flows import RealNVP, Glow
from .autoregressive import PixelCNN, CategoricalPixelCNN, MaskedConv2d
from .vq import VQVAE, VectorQuantizer
from .diffusion import DDPM, UNet
from .translation import CycleGAN
from .energy import RBM, DBNClassifier, DeepBeliefNetwork
from .autoencoder import Autoencoder
