"""The invertible layers that RealNVP and Glow are built from.

A normalizing flow maps an image x to z = f(x) through invertible layers, and the change
of variables gives the exact log-density

    log p(x) = log N(z; 0, I) + Σ_layers log |det ∂f_l/∂h_{l-1}|.

So every layer here has ``forward(x) → (y, logdet)``, with logdet the per-sample
log |det Jacobian| (shape (N,)), and ``inverse(y) → x``; each layer is built so that the
log-determinant is cheap:

* ``AffineCoupling`` (RealNVP): split x into a part a that passes unchanged and a part b
  that is scaled and shifted by a network of a:
      y_b = x_b ⊙ s(a) + t(a),   logdet = Σ log s(a)     (triangular Jacobian)
  The split is a checkerboard of pixels or one half of the channels. The scale is
  RealNVP's s = exp(w ⊙ tanh(raw)), which can expand or shrink, or Glow's
  s = sigmoid(raw + 2) ∈ (0, 1), which only shrinks (Glow's ActNorm does the expanding).
* ``ActNorm`` (Glow): y = (x + bias) ⊙ scale per channel, logdet = H·W·Σ_c log|scale_c|;
  initialised from the first batch so that y has zero mean and unit variance per channel.
* ``InvertibleConv1x1`` (Glow): y = W x at every pixel, W = P L (U + diag(s)) (LU form):
      logdet = H·W·Σ_c log|s_c|,  no determinant to compute.
* ``Squeeze``: (C, H, W) → (4C, H/2, W/2), each 2×2 block into channels; logdet 0.
* ``LogitTransform``: dequantized pixels in (0, 1) to the real line,
      y = logit(α + (1-2α) x),  logdet = Σ [log(1-2α) - log p - log(1-p)],  p = α + (1-2α) x
  (RealNVP's preprocessing; α keeps the logit away from ±∞. RealNVP's 0.05 suits natural
  images; MNIST, whose pixels sit at 0 and 1, trains far better with 1e-6, as in MAF).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...autograd.ops import cat
from ...backend import get_array_module
from ...creation import ones, tensor, zeros
from ...nn import functional as F


def _per_sample(t):
    """Sum over every non-batch dimension: (N, ...) → (N,)."""
    return t.flatten(1).sum(1)


def checkerboard(height, width, parity=0):
    """(1, 1, H, W) float32 mask, 1 where (row + col + parity) is even."""
    rows, cols = np.indices((height, width))
    return ((rows + cols + parity) % 2 == 0).astype(np.float32)[None, None]


def coupling_network(in_channels, hidden, out_channels):
    """conv 3×3 → ReLU → conv 1×1 → ReLU → conv 3×3, the last initialised to zero so that
    every coupling starts as the identity (Glow's trick; training starts stable)."""
    last = nn.Conv2d(hidden, out_channels, 3, padding=1)
    last.weight.data[...] = 0.0
    last.bias.data[...] = 0.0
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)


# The inverse divides by s. A draw far in the tails can drive sigmoid(·) to exactly 0 in
# float32, and y/0 = inf turns into NaN two layers on (0·inf, inf - inf), which no clamp
# can catch. Dividing by at least this keeps every value finite (it changes nothing where
# s is larger), so the sampler's clamp catches and counts such draws.
SMALLEST_INVERSE_SCALE = 1e-30


class AffineCoupling(nn.Module):
    """y_b = x_b ⊙ s + t, (log s, t) from a network of x_a; mask "checkerboard" or "channel".

    ``scale="sigmoid"``: s = sigmoid(raw + 2) (Glow's choice: s ∈ (0, 1), s ≈ 0.88 at the
    zero init, so no layer can blow an activation up; the ActNorms expand).
    ``scale="tanh"``: log s = w ⊙ tanh(raw), w a learned per-channel ``rescale`` starting
    at 1 (RealNVP's choice: s = 1 at the zero init, and s > 1 is possible, which a flow
    without ActNorm needs: dequantized background pixels fill a bin 1/256 wide, and only
    an expansion gives them a density above 1). ``flip`` swaps which half is a and which b."""

    def __init__(self, channels, hidden=64, mask="channel", flip=False, scale="sigmoid"):
        super().__init__()
        if mask not in ("channel", "checkerboard"):
            raise ValueError(f"mask must be 'channel' or 'checkerboard', got {mask!r}")
        if mask == "channel" and channels % 2:
            raise ValueError(f"a channel coupling splits the channels in half; {channels} is odd")
        if scale not in ("sigmoid", "tanh"):
            raise ValueError(f"scale must be 'sigmoid' (Glow) or 'tanh' (RealNVP), got {scale!r}")
        self.channels, self.mask, self.flip, self.scale = channels, mask, flip, scale
        self._masks = {}
        transformed = channels // 2 if mask == "channel" else channels
        if mask == "channel":
            self.net = coupling_network(channels // 2, hidden, channels)      # → log-scale, shift for b
        else:
            self.net = coupling_network(channels + 1, hidden, 2 * channels)   # x⊙m and m itself in
        if scale == "tanh":
            self.rescale = nn.Parameter(ones(1, transformed, 1, 1))

    def _mask(self, x):
        """The checkerboard for x's size, dtype and backend, made once (not copied to the
        device on every call)."""
        key = (x.shape[2], x.shape[3], str(x.dtype), x.device)
        if key not in self._masks:
            m = checkerboard(x.shape[2], x.shape[3], int(self.flip))
            self._masks[key] = tensor(m, dtype=x.dtype, device=x.device)
        return self._masks[key]

    def forward(self, x):
        if self.mask == "channel":
            a, b = x.chunk(2, 1)
            if self.flip:
                a, b = b, a
            s, log_s, t = self._split(self.net(a))
            y_b = b * s + t
            y = (y_b, a) if self.flip else (a, y_b)
            return cat(y, 1), _per_sample(log_s)
        m = self._mask(x)
        s, log_s, t = self._checker_params(x, m)
        y = x * m + (1.0 - m) * (x * s + t)
        return y, _per_sample((1.0 - m) * log_s)

    def inverse(self, y):
        if self.mask == "channel":
            a, y_b = y.chunk(2, 1)
            if self.flip:
                a, y_b = y_b, a
            s, _, t = self._split(self.net(a))
            b = (y_b - t) / s.clamp(min=SMALLEST_INVERSE_SCALE)
            return cat((b, a) if self.flip else (a, b), 1)
        m = self._mask(y)
        s, _, t = self._checker_params(y, m)        # y ⊙ m = x ⊙ m: the same parameters
        return y * m + (1.0 - m) * ((y - t) / s.clamp(min=SMALLEST_INVERSE_SCALE))

    def _split(self, raw):
        """(s, log s, t) from the network's output (log-scale half, shift half)."""
        half = raw.shape[1] // 2
        if self.scale == "tanh":
            log_s = self.rescale * raw[:, :half].tanh()
            return log_s.exp(), log_s, raw[:, half:]
        s = F.sigmoid(raw[:, :half] + 2.0)
        return s, s.log(), raw[:, half:]

    def _checker_params(self, x, m):
        masked = x * m
        return self._split(self.net(cat((masked, m.expand(x.shape[0], 1, *x.shape[2:])), 1)))


class ActNorm(nn.Module):
    """y = (x + bias) ⊙ scale per channel; the first training batch sets bias = -mean and
    scale = 1/std, so the output starts standardised (Glow's data-dependent init)."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(zeros(1, channels, 1, 1))
        self.register_buffer("initialized", tensor(np.zeros((), np.float32)))
        self._check_initialized = True    # read the buffer once per process, not every step

    def _init_from(self, x):
        with no_grad():
            mean = x.mean((0, 2, 3), keepdim=True)
            std = ((x - mean) ** 2).mean((0, 2, 3), keepdim=True).sqrt()
            self.bias.data[...] = (-mean).data
            self.log_scale.data[...] = (-(std + 1e-6).log()).data
            self.initialized.data[...] = 1.0

    def forward(self, x):
        if self.training and self._check_initialized:
            if not bool(self.initialized.item()):     # a fresh layer, not a loaded one
                self._init_from(x)
            self._check_initialized = False
        y = (x + self.bias) * self.log_scale.exp()
        logdet = self.log_scale.sum() * (x.shape[2] * x.shape[3])
        return y, logdet.expand(x.shape[0])

    def inverse(self, y):
        return y * (-self.log_scale).exp() - self.bias


class InvertibleConv1x1(nn.Module):
    """y = W x per pixel with W = P L (U + diag(sign ⊙ exp(log|s|))): P a fixed permutation,
    L unit lower-triangular, U strictly upper-triangular (the LU form of Glow, sec. 3.2),
    initialised at the LU decomposition of a random rotation."""

    def __init__(self, channels, seed=0):
        super().__init__()
        import scipy.linalg
        rotation = np.linalg.qr(np.random.default_rng(seed).normal(size=(channels, channels)))[0]
        p, lower, upper = scipy.linalg.lu(rotation)
        s = np.diag(upper)
        self.channels = channels
        self.register_buffer("permutation", tensor(p.astype(np.float32)))
        self.register_buffer("sign_s", tensor(np.sign(s).astype(np.float32)))
        self.register_buffer("lower_mask", tensor(np.tril(np.ones((channels, channels), np.float32), -1)))
        self.register_buffer("identity", tensor(np.eye(channels, dtype=np.float32)))
        self.lower = nn.Parameter(tensor(lower.astype(np.float32)))
        self.upper = nn.Parameter(tensor(np.triu(upper, 1).astype(np.float32)))
        self.log_s = nn.Parameter(tensor(np.log(np.abs(s)).astype(np.float32)))

    def weight(self):
        lower = self.lower * self.lower_mask + self.identity
        upper = self.upper * self.lower_mask.T + self.identity * (self.sign_s * self.log_s.exp())
        return self.permutation @ lower @ upper

    def forward(self, x):
        w = self.weight()
        y = F.conv2d(x, w.reshape(self.channels, self.channels, 1, 1))
        logdet = self.log_s.sum() * (x.shape[2] * x.shape[3])
        return y, logdet.expand(x.shape[0])

    def inverse(self, y):
        with no_grad():
            w = self.weight()
            xp = get_array_module(w.data)
            w_inv = tensor(xp.linalg.inv(w.data.astype(np.float64)), dtype=w.dtype, device=y.device)
        return F.conv2d(y, w_inv.reshape(self.channels, self.channels, 1, 1))


class Squeeze(nn.Module):
    """(N, C, H, W) → (N, 4C, H/2, W/2): each 2×2 block of a channel becomes 4 channels."""

    def forward(self, x):
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs even height and width, got {h}×{w}")
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        return y, zeros(n, dtype=x.dtype, device=x.device)

    def inverse(self, y):
        n, c4, h, w = y.shape
        c = c4 // 4
        return y.reshape(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, 2 * h, 2 * w)


class LogitTransform(nn.Module):
    """x ∈ (0, 1) → logit(α + (1-2α) x) and back."""

    def __init__(self, alpha=0.05):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = p.log() - (1.0 - p).log()
        logdet = _per_sample(math.log(1 - 2 * self.alpha) - p.log() - (1.0 - p).log())
        return y, logdet

    def inverse(self, y):
        return (F.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)
