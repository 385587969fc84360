"""PixelCNN (van den Oord et al., 2016, "Pixel Recurrent Neural Networks") for binary images.

An autoregressive model factorises the image's likelihood over pixels in raster order
(row by row, left to right), each pixel a Bernoulli given all pixels before it:

    log p(x) = Σ_i log p(x_i | x_<i),    p(x_i = 1 | x_<i) = sigmoid(ℓ_i(x_<i))

One network computes every logit ℓ_i at once, because its convolutions are *masked*:
a kernel's weights at and after the centre (in raster order) are zeroed, so output i
never sees input i or anything later.

    mask "A" (first layer): sees x_<i only — the pixel itself is what is being predicted;
    mask "B" (later layers): also sees its own position, whose features already
                             depend on x_<i only.

Training is then one forward pass and the exact negative log-likelihood, in nats,

    NLL(x) = Σ_i BCE(x_i, sigmoid(ℓ_i)),

with no bound and no sampling. Sampling is the slow direction: pixel i needs the pixels
before it, so it takes one pass per pixel (784 for MNIST), each for the whole batch.

The layout follows the paper's MNIST model: a 7×7 mask-A conv to 2h channels, residual
blocks (ReLU, 1×1 conv 2h→h, ReLU, 3×3 mask-B conv h→h, ReLU, 1×1 conv h→2h, + input),
then ReLU, 1×1 conv, ReLU, 1×1 conv to one logit per pixel. The masked 3×3 stack has
the PixelCNN's known "blind spot" (pixels up and to the right fall out of the receptive
field), which the gated PixelCNN later removed; this model keeps the original's design.

``CategoricalPixelCNN`` is the same network over K-way category maps (a VQ-VAE's codes):
an embedding in, K logits per position out, NLL = Σ_i -log softmax(ℓ_i)[z_i].
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import rand, tensor, zeros
from ...nn import functional as F


def causal_mask(kernel_size, include_centre):
    """The (k, k) 0/1 mask of a raster-order causal kernel: every row above the centre,
    and the centre row left of the centre (and the centre itself when ``include_centre``)."""
    if kernel_size % 2 == 0:
        raise ValueError(f"a causal mask needs an odd kernel_size, got {kernel_size}")
    centre = kernel_size // 2
    mask = np.zeros((kernel_size, kernel_size), dtype=np.float32)
    mask[:centre, :] = 1.0
    mask[centre, :centre + int(include_centre)] = 1.0
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size conv whose kernel is multiplied by a causal mask: y = conv2d(x, W ⊙ M).

    ``mask_type`` "A" excludes the centre (the first layer), "B" includes it. The masked
    weights stay in ``weight`` (as in PyTorch ports) but get zero gradient, so they never
    matter; W ⊙ M is differentiable like any product."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type, bias=True, dtype=None):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                         bias=bias, dtype=dtype)
        self.mask_type = mask_type
        mask = causal_mask(kernel_size, include_centre=mask_type == "B")
        self.register_buffer("mask", tensor(mask[None, None], dtype=self.weight.dtype),
                             persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, 1, self.padding)

    def extra_repr(self):
        return f"{super().extra_repr()}, mask_type={self.mask_type}"


class PixelCNNResidualBlock(nn.Module):
    """x + 1×1(2h→h) ∘ ReLU ∘ masked 3×3(h→h) ∘ ReLU ∘ 1×1(h→2h) ∘ ReLU, applied right to left."""

    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(2 * hidden, hidden, 1),
            nn.ReLU(), MaskedConv2d(hidden, hidden, 3, "B"),
            nn.ReLU(), nn.Conv2d(hidden, 2 * hidden, 1))

    def forward(self, x):
        return x + self.body(x)


class PixelCNN(nn.Module):
    """PixelCNN over binary (N, 1, H, W) images; ``forward`` gives the logits ℓ (N, 1, H, W)."""

    def __init__(self, hidden=32, num_blocks=7, output_hidden=64, in_channels=1, out_channels=1):
        super().__init__()
        self.hidden, self.num_blocks = hidden, num_blocks
        self.net = nn.Sequential(
            MaskedConv2d(in_channels, 2 * hidden, 7, "A"),
            *[PixelCNNResidualBlock(hidden) for _ in range(num_blocks)],
            nn.ReLU(), nn.Conv2d(2 * hidden, output_hidden, 1),
            nn.ReLU(), nn.Conv2d(output_hidden, out_channels, 1))

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"PixelCNN expects binary images of shape (N, 1, H, W), got {tuple(x.shape)}")
        return self.net(x)

    def nll(self, x):
        """Per-image exact negative log-likelihood in nats, Σ_i BCE(x_i, sigmoid(ℓ_i)), shape (N,)."""
        logits = self(x)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    def loss(self, x):
        """The training loss: the batch mean of the exact NLL (nats per image)."""
        return self.nll(x).mean()

    def _blank(self, n, height, width):
        weight = self.net[0].weight              # the model's dtype and backend
        return zeros(n, 1, height, width, dtype=weight.dtype, device=weight.device)

    def _draw(self, pixel_logits):
        """x_i ~ Bernoulli(sigmoid(ℓ_i)) for a (N, 1) column of logits."""
        return rand(*pixel_logits.shape, device=pixel_logits.device) < pixel_logits.sigmoid()

    def sample(self, n, height=28, width=28, temperature=1.0):
        """Draw n images pixel by pixel, each pixel from its conditional given x_<i, with
        logits ℓ_i / T (T = ``temperature``: 1 is the model's density, T < 1 sharper).

        A masked conv's output row r reads its input's rows ≤ r only, so once row r is
        being drawn every layer's rows above it are final. Each layer's masked-conv input is
        therefore kept (the row cache), and drawing pixel (r, c) recomputes row r alone,
        layer by layer: 784 one-row passes instead of 784 passes over the image."""
        was_training = self.training
        self.eval()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        x = self._blank(n, height, width)
        with no_grad():
            caches = {}
            for row in range(height):
                for col in range(width):
                    logits = self._row_logits(x, row, caches)[:, :, 0, col]
                    x[..., row, col] = self._draw(logits if temperature == 1.0 else logits / temperature)
        self.train(was_training)
        return x

    def _network_input(self, x):
        """What the first masked conv reads: the images themselves."""
        return x

    def _row_logits(self, x, row, caches):
        """The logits of row ``row`` (N, out, 1, W), from the drawn pixels ``x`` and, in
        ``caches``, each block's masked-conv input for the rows above (this row is written
        into them as it is computed)."""
        first, *blocks, relu1, head1, relu2, head2 = self.net
        reach = first.kernel_size[0] // 2
        h = _masked_row(first, _above(self._network_input(x[..., max(0, row - reach):row + 1, :]), reach + 1))
        for index, block in enumerate(blocks):
            relu_a, squeeze, relu_b, masked, relu_c, expand = block.body
            u = relu_b(squeeze(relu_a(h)))                        # the masked conv's input, row r
            cache = caches.get(index)
            if cache is None:
                cache = caches[index] = zeros(*u.shape[:2], x.shape[-2], u.shape[-1], dtype=u.dtype,
                                              device=u.device)
            cache[:, :, row] = u[:, :, 0]
            h = h + expand(relu_c(_masked_row(masked, _above(cache[:, :, max(0, row - 1):row + 1], 2))))
        return head2(relu2(head1(relu1(h))))


def _above(slab, rows):
    """A (N, C, h, W) slab of the rows up to the current one, zero rows added on top (the
    conv's own zero padding above the image) until it has ``rows`` rows."""
    missing = rows - slab.shape[2]
    return F.pad(slab, (0, 0, missing, 0)) if missing else slab


def _masked_row(conv, slab):
    """The current row of a masked conv's output, from a slab of its input's rows above it
    and the row itself: the kernel's rows below the centre are masked to zero, so they and
    the input rows they would read are left out."""
    k = conv.kernel_size[0]
    weight = (conv.weight * conv.mask)[:, :, :k // 2 + 1]
    return F.conv2d(slab, weight, conv.bias, 1, (0, k // 2))


class CategoricalPixelCNN(PixelCNN):
    """The same network over maps of K-way categories, (N, H, W) integers: the learned prior
    p(z) = Π_i Categorical(z_i | softmax(ℓ_i(z_<i))) over a VQ-VAE's code maps.

    Each category is first embedded (a learned vector per code), then the masked network
    gives K logits per position; NLL(z) = Σ_i CE(ℓ_i, z_i)."""

    def __init__(self, num_categories, hidden=32, num_blocks=5, output_hidden=64, embedding_dim=16):
        super().__init__(hidden, num_blocks, output_hidden, in_channels=embedding_dim,
                         out_channels=num_categories)
        self.num_categories = num_categories
        self.embedding = nn.Embedding(num_categories, embedding_dim)

    def forward(self, codes):
        if codes.ndim != 3 or codes.dtype.kind not in "iu":
            raise ValueError(f"CategoricalPixelCNN expects integer code maps (N, H, W), got "
                             f"{tuple(codes.shape)} {codes.dtype}")
        return self.net(self._network_input(codes))    # (N, K, H, W)

    def _network_input(self, codes):
        """Each code's embedding vector, as channels: (N, H, W) → (N, D, H, W)."""
        return self.embedding(codes).permute(0, 3, 1, 2)

    def nll(self, codes):
        """Per-map exact negative log-likelihood in nats, Σ_i -log softmax(ℓ_i)[z_i], shape (N,)."""
        return F.cross_entropy(self(codes), codes, reduction="none").flatten(1).sum(1)

    def _blank(self, n, height, width):
        return zeros(n, height, width, dtype="int64", device=self.net[0].weight.device)

    def _draw(self, pixel_logits):
        """z_i ~ Categorical(softmax(ℓ_i)) by the Gumbel-max trick: argmax_k ℓ_ik + g_k,
        g_k = -log(-log u_k), u_k ~ U(0, 1)."""
        u = rand(*pixel_logits.shape, device=pixel_logits.device).clamp(1e-12, 1.0)
        return (pixel_logits - (-u.log()).log()).argmax(1)
