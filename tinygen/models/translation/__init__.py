"""Unpaired image-to-image translation: CycleGAN."""
from .cyclegan import CycleGAN, ImagePool, PatchDiscriminator, ResnetGenerator, lsgan_loss
