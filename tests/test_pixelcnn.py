"""PixelCNN: the causal masks, the masked conv against naive loops, causality of the whole
network, the exact NLL, training, and sampling."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
from tinygen import optim
from tinygen.autograd import gradcheck
from tinygen.models import CategoricalPixelCNN, PixelCNN
from tinygen.models.autoregressive import MaskedConv2d, causal_mask
from helpers import check_forward, leaf


def test_causal_masks_by_hand():
    np.testing.assert_array_equal(causal_mask(3, include_centre=False), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask(3, include_centre=True), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    assert causal_mask(7, False).sum() == 24 and causal_mask(1, True).sum() == 1
    with pytest.raises(ValueError, match="odd"):
        causal_mask(4, True)
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")


def naive_masked_conv(x, w, b, mask):
    """y[n,o,r,c] = b[o] + Σ_{ch,i,j} w[o,ch,i,j]·M[i,j]·x[n, ch, r+i-p, c+j-p] (zero outside)."""
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    p = k // 2
    y = np.zeros((n, cout, h, wd))
    for b_ in range(n):
        for o in range(cout):
            for r in range(h):
                for c in range(wd):
                    total = b[o]
                    for ch in range(cin):
                        for i in range(k):
                            for j in range(k):
                                rr, cc = r + i - p, c + j - p
                                if 0 <= rr < h and 0 <= cc < wd:
                                    total += w[o, ch, i, j] * mask[i, j] * x[b_, ch, rr, cc]
                    y[b_, o, r, c] = total
    return y


@given(k=st.sampled_from([1, 3, 5]), mask_type=st.sampled_from("AB"), seed=st.integers(0, 2**16))
@settings(max_examples=12)
def test_masked_conv_matches_naive_loops_and_gradcheck(k, mask_type, seed):
    if k == 1 and mask_type == "A":
        return                               # a 1×1 mask-A kernel sees nothing: all zeros, still valid
    rng = np.random.default_rng(seed)
    layer = MaskedConv2d(2, 3, k, mask_type).double()
    x = rng.normal(size=(2, 2, 4, 5))
    expected = naive_masked_conv(x, layer.weight.detach().numpy(), layer.bias.detach().numpy(),
                                 causal_mask(k, mask_type == "B"))
    check_forward(layer(tg.tensor(x, dtype="float64")), expected)
    # the gradient through W ⊙ M, for x, W and b: masked weights get exactly zero
    x_leaf = leaf(x)
    gradcheck(lambda x_, w_, b_: layer(x_), (x_leaf, layer.weight, layer.bias))   # perturbed in place
    layer(x_leaf).sum().backward()
    masked_out = causal_mask(k, mask_type == "B") == 0
    assert np.all(layer.weight.grad.numpy()[:, :, masked_out] == 0)


def small_model(seed=0):
    tg.manual_seed(seed)
    return PixelCNN(hidden=4, num_blocks=2, output_hidden=8).double()


@given(row=st.integers(0, 6), col=st.integers(0, 6), seed=st.integers(0, 2**16))
@settings(max_examples=15)
def test_each_logit_depends_only_on_earlier_pixels(row, col, seed):
    """∂ℓ_(row,col)/∂x_j = 0 for every pixel j at or after (row, col) in raster order, and
    its left neighbour (or, in column 0, the pixel above) does matter: the model is not
    trivially causal."""
    model = small_model(seed % 7)
    x = leaf(np.random.default_rng(seed).random((1, 1, 7, 7)))
    model(x)[0, 0, row, col].backward()
    grad = np.abs(x.grad.numpy()[0, 0]).ravel()
    position = row * 7 + col
    assert np.all(grad[position:] == 0), f"pixel ({row}, {col}) sees itself or a later pixel"
    if col > 0:
        assert grad[position - 1] > 0
    elif row > 0:
        assert grad[position - 7] > 0


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_row_cached_sampler_follows_the_full_image_logits(monkeypatch, categorical, temperature):
    """Every logit the sampler draws a pixel from equals the whole-image pass's logit for
    that pixel, given the pixels drawn so far, over the temperature: the row caches and
    the one-row passes (with the zero rows above the image, which for codes are zero
    embeddings, not code 0) add nothing and lose nothing."""
    if categorical:
        tg.manual_seed(2)
        model = CategoricalPixelCNN(5, hidden=3, num_blocks=2, embedding_dim=3).double()
        noise = np.random.default_rng(3)
        for p in model.parameters():
            p.data[...] = p.data + tg.tensor(0.3 * noise.standard_normal(p.shape), dtype=p.dtype).data
    else:
        model = small_model()
    seen = []
    real_draw = model._draw

    def recording_draw(logits):
        seen.append(logits.numpy().copy())
        return real_draw(logits)
    monkeypatch.setattr(model, "_draw", recording_draw)
    tg.manual_seed(5)
    fast = model.sample(3, 8, 13, temperature=temperature).numpy()
    model.eval()
    x = tg.tensor(fast) if categorical else tg.tensor(fast, dtype="float64")
    with tg.no_grad():
        full = model(x).numpy()                  # causal: pixel i's logit sees only pixels < i
    expected = [full[:, :, row, col] / temperature for row in range(8) for col in range(13)]
    np.testing.assert_allclose(np.stack(seen), np.stack(expected), rtol=1e-12, atol=1e-12)
    assert len(np.unique(fast)) > 1


def test_nll_on_a_hand_computed_case():
    # the last conv set to 0 ⇒ every logit is 0 ⇒ p = ½ per pixel ⇒ NLL = H·W·ln 2 per image
    model = small_model()
    last = model.net[-1]
    last.weight.data[...] = 0.0
    last.bias.data[...] = 0.0
    x = tg.tensor((np.random.default_rng(0).random((3, 1, 5, 4)) < 0.5).astype(np.float64), dtype="float64")
    model.requires_grad_(False)
    np.testing.assert_allclose(model.nll(x).numpy(), [20 * math.log(2)] * 3, rtol=1e-12)
    # bias b: NLL = Σ_i [softplus(b) - x_i·b] (BCE with logit b), so it depends on the ones' count
    last.bias.data[...] = 1.5
    ones = x.numpy().reshape(3, -1).sum(1)
    expected = 20 * math.log1p(math.exp(1.5)) - 1.5 * ones
    np.testing.assert_allclose(model.nll(x).numpy(), expected, rtol=1e-12)
    assert model.loss(x).item() == pytest.approx(expected.mean(), rel=1e-12)


def test_a_few_steps_lower_the_loss():
    tg.manual_seed(0)
    model = PixelCNN(hidden=8, num_blocks=2, output_hidden=16)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    x = tg.tensor((np.random.default_rng(0).random((16, 1, 12, 12)) < 0.3).astype(np.float32))
    first = None
    for _ in range(15):
        loss = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first - 5.0


def test_sampling_shapes_values_and_the_logits_it_follows():
    model = PixelCNN(hidden=4, num_blocks=1, output_hidden=8)
    tg.manual_seed(3)
    a = model.sample(4, 6, 5).numpy()
    tg.manual_seed(3)
    b = model.sample(4, 6, 5).numpy()
    assert a.shape == (4, 1, 6, 5) and set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)                          # seeded: reproducible
    last = model.net[-1]
    last.weight.data[...] = 0.0
    for bias, value in ((30.0, 1.0), (-30.0, 0.0)):               # p = sigmoid(±30): all 1s / all 0s
        last.bias.data[...] = bias
        assert np.all(model.sample(2, 4, 4).numpy() == value)
    assert model.training                                          # sample() restores the mode


def test_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        PixelCNN(4, 1)(tg.rand(2, 28, 28))
    with pytest.raises(ValueError, match="temperature must be positive"):
        PixelCNN(4, 1).sample(2, 4, 4, temperature=0.0)


def test_categorical_logits_ignore_later_codes():
    """Changing the code at position j leaves every logit at positions ≤ j (raster order) as it was."""
    tg.manual_seed(0)
    model = CategoricalPixelCNN(6, hidden=4, num_blocks=2, embedding_dim=3).double()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, (1, 5, 5))
    with tg.no_grad():
        base = model(tg.tensor(codes)).numpy()
        for position in range(25):
            changed = codes.copy()
            changed.reshape(-1)[position] = (changed.reshape(-1)[position] + 1) % 6
            diff = np.abs(model(tg.tensor(changed)).numpy() - base).max(1).reshape(-1)  # per position
            assert np.all(diff[:position + 1] == 0), f"a logit at or before {position} saw it"
            if position < 24:
                assert diff[position + 1:].max() > 0                     # and some later one does


def test_categorical_nll_and_sampling():
    model = CategoricalPixelCNN(5, hidden=4, num_blocks=1, embedding_dim=3).double()
    last = model.net[-1]
    last.weight.data[...] = 0.0
    last.bias.data[...] = 0.0                                   # uniform: NLL = H·W·ln K
    codes = tg.tensor(np.random.default_rng(0).integers(0, 5, (2, 3, 4)))
    with tg.no_grad():
        np.testing.assert_allclose(model.nll(codes).numpy(), [12 * math.log(5)] * 2, rtol=1e-12)
    # Gumbel-max draws follow softmax(ℓ): logits log p give frequencies p
    p = np.array([0.5, 0.25, 0.15, 0.1, 0.0])
    last.bias.data[...] = np.log(np.maximum(p, 1e-30))
    tg.manual_seed(1)
    draws = model.sample(400, 3, 3).numpy()
    assert draws.shape == (400, 3, 3) and draws.dtype == np.int64
    np.testing.assert_allclose(np.bincount(draws.ravel(), minlength=5) / draws.size, p, atol=0.025)
    with pytest.raises(ValueError, match="integer code maps"):
        model(tg.rand(2, 3, 4))
