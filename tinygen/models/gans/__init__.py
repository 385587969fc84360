"""GANs: the losses, then one file per architecture (MLP, small conv, DCGAN, WGAN-GP),
the conditional ones (CGAN, ACGAN), InfoGAN and the self-conditioned GAN."""
from .losses import discriminator_loss, generator_loss, probability_discriminator_loss, probability_generator_loss
from .mlp_gan import MLPGenerator, MLPDiscriminator
from .conv_gan import ConvGenerator, ConvDiscriminator, keras_init_
from .dcgan import DCGANGenerator, DCGANDiscriminator, MinibatchStdDev, dcgan_discriminator_convs
from .wgan_gp import WGANCritic, gradient_penalty
from .conditional import (ConditionalGenerator, CGANDiscriminator, ACGANDiscriminator,
                          acgan_discriminator_loss, acgan_generator_loss)
from .infogan import infogan_discriminator_loss, infogan_generator_loss, code_accuracy
from .kmeans import kmeans
from .selfcond import SelfConditionedGenerator, cluster_images
from .objectives import LogitGAN, ProbabilityGAN, WGANGP, ACGAN, InfoGAN
