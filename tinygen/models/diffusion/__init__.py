"""Denoising diffusion (DDPM) and the U-Net that predicts the noise."""
from .ddpm import DDPM, linear_beta_schedule
from .unet import UNet, timestep_embedding
