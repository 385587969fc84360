"""CycleGAN (Zhu, Park, Isola & Efros, 2017): unpaired translation between two image domains.

Two generators, G: A → B and F: B → A, and two discriminators, D_B (real B vs G(a)) and
D_A (real A vs F(b)). With least-squares GAN losses (the paper's choice) the objective is

    L_GAN(G, D_B) = E_b (D_B(b) - 1)² + E_a D_B(G(a))²                      (D_B minimises)
    generator side: E_a (D_B(G(a)) - 1)² + E_b (D_A(F(b)) - 1)²
    + λ_cyc (‖F(G(a)) - a‖₁ + ‖G(F(b)) - b‖₁)                              (cycle consistency)
    + λ_id  (‖G(b) - b‖₁ + ‖F(a) - a‖₁)                                     (identity, optional)

with λ_cyc = 10 and λ_id = 0.5 λ_cyc (sec. 4 and 5.2); ‖·‖₁ is the mean absolute error.
Optionally (CyCADA, Hoffman et al., 2018, eq. 4), frozen classifiers f_A, f_B of the two
domains tie each translation to its input's content with a semantic-consistency term

    + λ_sem (CE(f_A(G(a)), argmax f_A(a)) + CE(f_B(F(b)), argmax f_B(b)))

each classifier's own label of the input is what the translation must keep (no labels
are read; a classifier sees images in [0, 1]).
Without labels or pairs, the cycle term is what ties an output to its input. Each D
is trained against a pool of the last 50 generated images (Shrivastava et al., 2017),
not only the newest, and halves its loss (the paper's ½), which slows D relative to G.

The networks are the paper's at 28×28: the generator is conv 7×7 → two stride-2 convs →
residual blocks → two stride-2 transposed convs → conv 7×7 → tanh, with instance norm and
reflection padding; the discriminator is a PatchGAN that scores overlapping patches.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...backend import to_numpy
from ...creation import tensor, zeros


class ResnetBlock(nn.Module):
    """x + IN(conv3×3(ReLU(IN(conv3×3(x))))), reflection-padded."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(channels))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(N, C, 28, 28) in [-1, 1] → the same shape: c7s1-w, d2w, d4w, R4w × blocks, u2w, uw, c7s1-C."""

    def __init__(self, channels=1, width=32, num_blocks=6):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 7, padding=3, padding_mode="reflect"), nn.InstanceNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU(),          # 28 → 14
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(4 * w), nn.ReLU(),      # 14 → 7
            *[ResnetBlock(4 * w) for _ in range(num_blocks)],
            nn.ConvTranspose2d(4 * w, 2 * w, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(2 * w),
            nn.ReLU(),                                                                                  # 7 → 14
            nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(w),
            nn.ReLU(),                                                                                  # 14 → 28
            nn.Conv2d(w, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh())

    def forward(self, x):
        if x.ndim != 4 or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"ResnetGenerator expects (N, C, H, W) with H, W divisible by 4, got {tuple(x.shape)}")
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """A PatchGAN: conv 4×4 s2 (no norm) → conv 4×4 s2 + IN → conv 4×4 s1 + IN → conv 4×4 s1 to one
    score per patch; LeakyReLU(0.2). At 28×28 the output is a 5×5 map of scores for
    overlapping patches (each sees 34×34 of padded input, about the whole digit)."""

    def __init__(self, channels=1, width=64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 1, 1), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 4, 1, 1))

    def forward(self, x):
        return self.net(x)


class ImagePool:
    """The last ``size`` generated images. ``query`` fills the pool first; after that, each
    image of a batch is, with probability ½, swapped for a random stored one (which it then
    replaces). The coin flips are drawn on the host and the swaps done with one gather and
    one scatter per batch; two swaps hitting the same slot count as simultaneous."""

    def __init__(self, size=50, seed=0):
        self.size, self.pool, self.filled = size, None, 0
        self.rng = np.random.default_rng(seed)

    def query(self, images):
        images = images.detach()
        if self.size == 0:
            return images
        if self.pool is None:
            self.pool = zeros(self.size, *images.shape[1:], dtype=images.dtype, device=images.device)
        n = images.shape[0]
        take = min(n, self.size - self.filled)            # while filling, images pass through
        if take:
            self.pool[self.filled:self.filled + take] = images[:take]
            self.filled += take
        swap = np.zeros(n, dtype=bool)
        swap[take:] = self.rng.random(n - take) < 0.5
        if not swap.any():
            return images
        rows = np.flatnonzero(swap)
        slots = self.rng.integers(0, self.size, len(rows))
        out = images.clone()
        out[rows] = self.pool[slots]
        self.pool[slots] = images[rows]
        return out

    def state_dict(self):
        """The stored images, how many are filled and the coin's RNG: what --resume needs
        to continue the same swaps."""
        state = {"filled": self.filled, "rng": self.rng.bit_generator.state}
        if self.pool is not None:
            state["pool"] = to_numpy(self.pool.data)
        return state

    def load_state_dict(self, state):
        self.filled = int(state["filled"])
        self.rng.bit_generator.state = state["rng"]
        self.pool = tensor(np.asarray(state["pool"])) if "pool" in state else None
        return self


def lsgan_loss(scores, target):
    """Least-squares GAN loss: mean (D(x) - target)², target 1 for real, 0 for fake."""
    return ((scores - target) ** 2).mean()


def l1(a, b):
    return (a - b).abs().mean()


def semantic_consistency(classifier, source, translated):
    """CE(f(translated), argmax f(source)): f's label of each source image, kept by its
    translation; images in [-1, 1] go to f as (x + 1)/2. f is frozen: only the
    translation gets gradients."""
    with no_grad():
        kept = classifier((source + 1.0) / 2.0).data.argmax(1)
    return nn.functional.cross_entropy(classifier((translated + 1.0) / 2.0), kept)


class CycleGAN(nn.Module):
    """G: A → B, F: B → A, D_A, D_B, and the losses above."""

    def __init__(self, channels=1, gen_width=32, num_blocks=6, disc_width=64, lambda_cycle=10.0,
                 lambda_identity=0.5):
        super().__init__()
        self.G, self.F = ResnetGenerator(channels, gen_width, num_blocks), ResnetGenerator(channels, gen_width, num_blocks)
        self.D_A, self.D_B = PatchDiscriminator(channels, disc_width), PatchDiscriminator(channels, disc_width)
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity

    def generator_parameters(self):
        return list(self.G.parameters()) + list(self.F.parameters())

    def discriminator_parameters(self):
        return list(self.D_A.parameters()) + list(self.D_B.parameters())

    def generator_loss(self, real_a, real_b, classifiers=None, lambda_semantic=0.0):
        """The generators' objective and its parts; also returns the fakes (for the D step).
        ``classifiers``: (f_A, f_B), frozen, in eval mode, for the λ_sem term (kept out of
        this module, so its state_dict is the same with and without them)."""
        fake_b, fake_a = self.G(real_a), self.F(real_b)
        adversarial = lsgan_loss(self.D_B(fake_b), 1.0) + lsgan_loss(self.D_A(fake_a), 1.0)
        cycle = l1(self.F(fake_b), real_a) + l1(self.G(fake_a), real_b)
        loss = adversarial + self.lambda_cycle * cycle
        parts = {"g_adv": adversarial, "cycle": cycle}
        if self.lambda_identity:
            identity = l1(self.G(real_b), real_b) + l1(self.F(real_a), real_a)
            loss = loss + self.lambda_identity * self.lambda_cycle * identity
            parts["identity"] = identity
        if lambda_semantic:
            f_a, f_b = classifiers
            semantic = semantic_consistency(f_a, real_a, fake_b) + semantic_consistency(f_b, real_b, fake_a)
            loss = loss + lambda_semantic * semantic
            parts["semantic"] = semantic
        return loss, parts, fake_a, fake_b

    def discriminator_loss(self, real_a, real_b, fake_a, fake_b):
        """½ [LSGAN(D_A; real a, fake a) + LSGAN(D_B; real b, fake b)] per D, summed; fakes detached."""
        d_a = 0.5 * (lsgan_loss(self.D_A(real_a), 1.0) + lsgan_loss(self.D_A(fake_a.detach()), 0.0))
        d_b = 0.5 * (lsgan_loss(self.D_B(real_b), 1.0) + lsgan_loss(self.D_B(fake_b.detach()), 0.0))
        return d_a + d_b, {"d_a": d_a, "d_b": d_b}
