"""Models, each in its own file, written with tinygen's public API."""
from .classifier import SmallCNN
from .vae import VAE
from .gan import (SeedGenerator, SeedDiscriminator, MLPGenerator, MLPDiscriminator, DCGANGenerator,
                  DCGANDiscriminator, WGANCritic, gradient_penalty, discriminator_loss,
                  generator_loss, seed_discriminator_loss, seed_generator_loss)
from .conditional_gan import (ConditionalGenerator, CGANDiscriminator, ACGANDiscriminator,
                              acgan_discriminator_loss, acgan_generator_loss)
from .selfcond_gan import SelfConditionedGenerator, cluster_images
from .gaussian_mixture import GaussianMixture, ClassConditionalMixture
from .pixelcnn import PixelCNN, CategoricalPixelCNN, MaskedConv2d
from .vq_vae import VQVAE, VectorQuantizer
from .rbm import RBM
from .dbn import DeepBeliefNetwork
from .autoencoder import Autoencoder
from .realnvp import RealNVP
from .glow import Glow
from .unet import UNet
from .ddpm import DDPM
from .cyclegan import CycleGAN
