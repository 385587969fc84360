"""How each kind of zoo model is built from its card and how it draws samples.

A kind is three things: ``build(config)`` makes the network from the card's
``config`` (the same constructor arguments the example used), ``draw(model, n,
labels, extra, options)`` returns images as a float32 NumPy array (N, 1, 28, 28)
in [0, 1], and ``conditional`` says whether it takes labels. The likelihood models
add ``likelihood(model, n)``: their per-image figure on the first n test images,
under the examples' evaluation protocol (seed 1234).
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..autograd.grad_mode import no_grad
from ..creation import randn, tensor
from ..models import gans
from ..models.diffusion import DDPM
from ..models.energy import DeepBeliefNetwork
from ..models.vae import VAE, ClassConditionalMixture, GaussianMixture
from .. import nn
from ..nn import functional as F

EVAL_SEED = 1234          # the examples' --eval-seed: the one binarization / dequantization of the test set


def _host(t):
    return _backend.to_numpy(t.data).astype(np.float32)


def _gan_images(x, pixels="pm1"):
    """Generator output → [0, 1]: tanh outputs are mapped, sigmoid outputs kept."""
    x = _host(x)
    return np.clip((x + 1.0) / 2.0 if pixels == "pm1" else x, 0.0, 1.0)


class Kind:
    conditional = False
    options = {}                 # sampling knobs: name -> (type, help)

    def build(self, config):
        raise NotImplementedError  # abstract

    def draw(self, model, n, labels, extra, options):
        raise NotImplementedError  # abstract


class UnconditionalGAN(Kind):
    def __init__(self, generator, pixels="pm1"):
        self.generator, self.pixels = generator, pixels

    def build(self, config):
        options = {"batch_norm": True} if config.get("batch_norm") else {}     # the MLP G's option
        return self.generator(config["latent_dim"], **options)

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            return _gan_images(model(randn(n, model_latent_dim(model))), self.pixels), None


class LabelConditionedGAN(Kind):
    """G(z, y) for the requested digits y (CGAN, ACGAN)."""
    conditional = True

    def build(self, config):
        return gans.ConditionalGenerator(config["latent_dim"], num_classes=config.get("num_classes", 10))

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            return _gan_images(model.sample(labels=tensor(labels, dtype="int64"))), labels


class SelfConditionedGAN(Kind):
    """G(z, c) with c ~ π, the k-means clusters' sizes: an unconditional p(x)."""

    def build(self, config):
        return gans.SelfConditionedGenerator(config["latent_dim"], config["clusters"])

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            return _gan_images(model.sample(n)), None


class VariationalAutoencoder(Kind):
    """Mean images sigmoid(decoder(z)); z from the ex-post mixture fitted to the training
    codes (``sampler="expost"``, the card's default where shipped) or from the prior."""
    options = {"sampler": (str, "where z comes from: expost (the mixture fitted to the training "
                                "codes) or prior (the model's p(z), or p(z|y))")}

    def __init__(self, conditional):
        self.conditional = conditional

    def build(self, config):
        return VAE(config["latent_dim"], num_classes=10 if self.conditional else 0,
                   prior=config.get("prior", "standard"))

    def draw(self, model, n, labels, extra, options):
        sampler = options.get("sampler") or "prior"
        y = tensor(labels, dtype="int64") if self.conditional else None
        with no_grad():
            if sampler == "prior":
                z = model.sample_latents(n, y)
            elif sampler == "expost":
                if "density" not in extra:
                    raise ValueError("this model ships no ex-post density; use sampler='prior'")
                density = (ClassConditionalMixture(10, extra["components"]) if self.conditional
                           else GaussianMixture(extra["components"])).load_state_dict(extra["density"])
                density.reseed(options.get("seed", 0))
                codes = density.sample(labels) if self.conditional else density.sample(n)
                z = tensor(codes.astype(np.float32))
            else:
                raise ValueError(f"sampler must be 'expost' or 'prior', not {sampler!r}")
            return _host(F.sigmoid(model.decode(z, y))), labels


class EnergyModel(Kind):
    """An RBM or a DBN: ``steps`` Gibbs sweeps from noise in the top RBM (then one top-down
    pass through a DBN's directed layers); the images are the mean images p(v | h)."""
    options = {"steps": (int, "Gibbs sweeps from noise (more mix the chains further)")}

    def build(self, config):
        return DeepBeliefNetwork(tuple(config["sizes"]))

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            probs = model.sample(n, steps=int(_knob(options, "steps", 1000)))
        return _host(probs).reshape(n, 1, 28, 28), None


class Diffusion(Kind):
    """A DDPM's reverse process from noise: ``sampler`` ddim (η = ``eta``, default 0) or
    ancestral over ``steps`` respaced timesteps; a class-conditional one with guidance scale
    ``guidance``."""
    def __init__(self, conditional):
        self.conditional = conditional
        self.options = {"sampler": (str, "ddim (deterministic) or ancestral (the paper's Algorithm 2)"),
                        "steps": (int, "reverse steps (1000 visits every timestep; fewer are faster)"),
                        "eta": (float, "ddim: η, the share of fresh noise per step (0: deterministic; "
                                       "1: the posterior variance β̃)")}
        if conditional:
            self.options["guidance"] = (float, "classifier-free guidance scale w (0: the plain conditional model)")

    def build(self, config):
        return DDPM(config["channels"], num_classes=config.get("num_classes", 0))

    def draw(self, model, n, labels, extra, options):
        guidance = float(options.get("guidance") or 0.0)
        x = model.sample(n, int(_knob(options, "steps", 50)), sampler=options.get("sampler") or "ddim",
                         labels=labels, guidance=guidance, eta=float(options.get("eta") or 0.0))
        return (_host(x) + 1.0) / 2.0, labels


class Translation(Kind):
    """A CycleGAN's G: A → B applied to the first n test images of its source domain (MNIST);
    the labels returned are those images' true digits, so a target-domain classifier can
    check that G kept them. ``draw`` is called in chunks; ``options["start"]`` is where
    this chunk begins in the test set."""

    def build(self, config):
        from ..models.translation.cyclegan import ResnetGenerator
        return ResnetGenerator(1, config["gen_width"], config["blocks"])

    def draw(self, model, n, labels, extra, options):
        from ..data import load_mnist
        images, digits = load_mnist("test")
        start = int(options.get("start", 0))
        if start + n > len(images):
            raise ValueError(f"the source domain has {len(images)} test images; asked for up to {start + n}")
        x = tensor(images[start:start + n, None].astype(np.float32) / 127.5 - 1.0)
        with no_grad():
            return _gan_images(model(x)), digits[start:start + n].astype(np.int64)


def _knob(options, name, default):
    """A sampling knob's value, or ``default`` when it was not given (0 is a value, not "unset")."""
    value = options.get(name)
    return default if value is None else value


def _per_image(figure, x_all, batch=500):
    """``figure`` (a model's per-image NLL) over x_all in batches, as float64 NumPy."""
    with no_grad():
        return np.concatenate([_backend.to_numpy(figure(tensor(x_all[i:i + batch])).data)
                               for i in range(0, len(x_all), batch)]).astype(np.float64)


PRIOR_TEMPERATURE = {"temperature": (float, "the autoregressive prior's temperature T (logits / T; 1: "
                                             "the model's density)")}


class Autoregressive(Kind):
    """A PixelCNN: binary images drawn pixel by pixel; likelihood = exact NLL in nats."""
    options = PRIOR_TEMPERATURE
    unit = "nats"

    def build(self, config):
        from ..models.autoregressive import PixelCNN
        return PixelCNN(config["hidden"], config["blocks"])

    def draw(self, model, n, labels, extra, options):
        return _host(model.sample(n, temperature=float(_knob(options, "temperature", 1.0)))), None

    def likelihood(self, model, n):
        from ..data import binarized_mnist
        return _per_image(model.nll, binarized_mnist("test", n, EVAL_SEED)[0])


class Flow(Kind):
    """RealNVP or Glow: x = f⁻¹(T·z), z ~ N(0, I); likelihood = bits/dim of dequantized pixels."""
    options = {"temperature": (float, "the prior's temperature T (1: the model's density; 0.7 is smoother)")}
    unit = "bits/dim"

    def build(self, config):
        from ..models.flows import Glow, RealNVP
        # a card from before the --alpha flag has none: its run used the class default
        alpha = {"alpha": config["alpha"]} if "alpha" in config else {}
        if config["arch"] == "glow":
            return Glow(config["levels"], config["steps"], config["hidden"], **alpha)
        return RealNVP(config["levels"], config["hidden"], **alpha)

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            x = model.sample(n, float(_knob(options, "temperature", 1.0)))
        return np.clip(_host(x), 0.0, 1.0), None

    def likelihood(self, model, n):
        from ..data import dequantized_mnist
        return _per_image(model.bits_per_dim, dequantized_mnist("test", n, EVAL_SEED)[0])


class CodesWithPrior(nn.Module):
    """A VQ-VAE and the categorical PixelCNN prior over its 7×7 code maps, shipped as one."""

    def __init__(self, vqvae, prior):
        super().__init__()
        self.vqvae, self.prior = vqvae, prior

    def nll_bound(self, x):
        """-log p(x | z_q) - log p(k(x)) per image (nats): an upper bound on -log p(x)."""
        return self.vqvae.reconstruction_nll(x) + self.prior.nll(self.vqvae.encode(x))


class VectorQuantized(Kind):
    """Code maps k ~ the PixelCNN prior, decoded to mean images σ(decoder(e_k) / τ);
    likelihood = the bound -log p(x|z_q) - log p(k) in nats."""
    options = {**PRIOR_TEMPERATURE,
               "pixel_temperature": (float, "the decoder's temperature τ: mean images σ(ℓ/τ) (1: the "
                                            "decoder's own means; below 1 sharper strokes)")}
    unit = "nats"

    def build(self, config):
        from ..models.autoregressive import CategoricalPixelCNN
        from ..models.vq import VQVAE
        vqvae = VQVAE(config["num_codes"], config["code_dim"], config["hidden"],
                      ema_decay=config.get("ema_decay") or None)     # the EMA codebook's buffers
        return CodesWithPrior(vqvae,
                              CategoricalPixelCNN(config["num_codes"], config["prior_hidden"], config["prior_blocks"]))

    def draw(self, model, n, labels, extra, options):
        with no_grad():
            codes = model.prior.sample(n, 7, 7, temperature=float(_knob(options, "temperature", 1.0)))
            return _host(model.vqvae.mean_image(codes, float(_knob(options, "pixel_temperature", 1.0)))), None

    def likelihood(self, model, n):
        from ..data import binarized_mnist
        return _per_image(model.nll_bound, binarized_mnist("test", n, EVAL_SEED)[0])


def model_latent_dim(model):
    if hasattr(model, "latent_dim"):
        return model.latent_dim
    raise AttributeError(f"{type(model).__name__} does not say its latent size")


def kinds():
    return {
        "vae": VariationalAutoencoder(conditional=False),
        "cvae": VariationalAutoencoder(conditional=True),
        "cgan": LabelConditionedGAN(),
        "acgan": LabelConditionedGAN(),
        "selfcond-gan": SelfConditionedGAN(),
        "dcgan": UnconditionalGAN(gans.DCGANGenerator),
        "wgan-gp": UnconditionalGAN(gans.DCGANGenerator),
        "mlp-gan": UnconditionalGAN(gans.MLPGenerator),
        "conv-gan": UnconditionalGAN(gans.ConvGenerator, pixels="01"),
        "rbm": EnergyModel(),
        "dbn": EnergyModel(),
        "ddpm": Diffusion(conditional=False),
        "ddpm-cfg": Diffusion(conditional=True),
        "cyclegan-digits": Translation(),
        "pixelcnn": Autoregressive(),
        "vqvae": VectorQuantized(),
        "realnvp": Flow(),
        "glow": Flow(),
    }
