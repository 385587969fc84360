"""VQ-VAE: nearest codes against a brute-force loop, the straight-through gradient, the loss
on a hand-computed case, the codebook's data init, training, and the prior's bound."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
from tinygen import optim
from tinygen.autograd import gradcheck
from tinygen.models import VQVAE, VectorQuantizer
from tinygen.models.vq import code_perplexity
from helpers import leaf


def quantizer_with(codebook, beta=0.25, **ema):
    q = VectorQuantizer(len(codebook), codebook.shape[1], beta, **ema).double()
    q.embedding.data[...] = codebook
    if ema:
        q.embed_sum.data[...] = codebook
        q.cluster_size.data[...] = 1.0
    q.initialized.data[...] = 1.0
    return q


@given(seed=st.integers(0, 2**16), k=st.integers(1, 7), d=st.integers(1, 4))
@settings(max_examples=20)
def test_nearest_codes_match_a_brute_force_loop(seed, k, d):
    rng = np.random.default_rng(seed)
    codebook = rng.normal(size=(k, d))
    z = rng.normal(size=(2, d, 3, 2))
    codes = quantizer_with(codebook).nearest_codes(tg.tensor(z, dtype="float64")).numpy()
    for n in range(2):
        for i in range(3):
            for j in range(2):
                distances = [sum((z[n, c, i, j] - codebook[m, c]) ** 2 for c in range(d)) for m in range(k)]
                assert codes[n, i, j] == int(np.argmin(distances))


def test_loss_terms_on_a_hand_computed_case():
    # codebook {(0, 0), (2, 2)}; z_e at two positions: (0.5, 0) → code 0, (2, 3) → code 1
    q = quantizer_with(np.array([[0.0, 0.0], [2.0, 2.0]]), beta=0.25)
    z_e = leaf(np.array([[[[0.5, 2.0]], [[0.0, 3.0]]]]))                # (1, 2, 1, 2)
    z_q, codes, codebook_loss, commitment_loss = q(z_e)
    assert codes.numpy().tolist() == [[[0, 1]]]
    np.testing.assert_allclose(z_q.detach().numpy()[0, :, 0], [[0.0, 2.0], [0.0, 2.0]])
    # ‖z_e - z_q‖² = 0.5² + 1² = 1.25
    assert codebook_loss.item() == pytest.approx(1.25)
    assert commitment_loss.item() == pytest.approx(0.25 * 1.25)
    # gradients: codebook ∂/∂e_k Σ‖sg[z_e] - e_k‖² = 2 (e_k - z_e) over the positions that chose k
    (codebook_loss + commitment_loss).backward()
    np.testing.assert_allclose(q.embedding.grad.numpy(), [[-1.0, 0.0], [0.0, -2.0]])
    # commitment ∂/∂z_e β‖z_e - sg[e]‖² = 2β (z_e - e)
    np.testing.assert_allclose(z_e.grad.numpy()[0, :, 0], 0.5 * np.array([[0.5, 0.0], [0.0, 1.0]]))


def test_straight_through_gradient_and_gradcheck_of_the_vq_terms():
    rng = np.random.default_rng(0)
    q = quantizer_with(rng.normal(size=(5, 3)))
    z_e = leaf(rng.normal(size=(2, 3, 2, 2)))
    weights = rng.normal(size=(2, 3, 2, 2))
    z_q, *_ = q(z_e)
    (z_q * tg.tensor(weights, dtype="float64")).sum().backward()
    np.testing.assert_allclose(z_e.grad.numpy(), weights)                # copied straight through
    assert q.embedding.grad is None                                # the decoder path skips e
    # away from ties each term is smooth; a stop-gradient hides a dependence that finite
    # differences see, so each term is checked against the argument it trains
    gradcheck(lambda z: q(z)[3], (z_e,))                                  # commitment → encoder
    gradcheck(lambda e: q(z_e.detach())[2], (q.embedding,))         # codebook → entries


def test_ema_codebook_by_hand_and_dead_code_restart():
    # γ = ½; codes e = (0,0), (4,0), (9,9); vectors (1,0), (0,1) → code 0, (5,0) → code 1; code 2 unused
    book = np.array([[0.0, 0.0], [4.0, 0.0], [9.0, 9.0]])
    z = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 0.0]]).T.reshape(1, 2, 1, 3)
    q = quantizer_with(book, ema_decay=0.5, dead_threshold=0.1, eps=1e-12)
    _, codes, codebook_loss, _ = q(tg.tensor(z, dtype="float64"))
    assert codes.numpy().tolist() == [[[0, 0, 1]]] and codebook_loss.item() == 0.0
    # N = ½·1 + ½·(2, 1, 0) = (1.5, 1, 0.5); m = ½·e + ½·Σ assigned z
    np.testing.assert_allclose(q.cluster_size.numpy(), [1.5, 1.0, 0.5])
    m = 0.5 * book + 0.5 * np.array([[1.0, 1.0], [5.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(q.embed_sum.numpy(), m)
    np.testing.assert_allclose(q.embedding.numpy(), m / np.array([[1.5], [1.0], [0.5]]), rtol=1e-9)
    # a higher threshold: code 2 (N = ¼ after another step without it) restarts at a batch vector
    q.dead_threshold = 0.3
    q(tg.tensor(z, dtype="float64"))
    restarted = q.embedding.numpy()[2]
    assert any(np.allclose(restarted, v) for v in z.reshape(2, 3).T)
    assert q.cluster_size.numpy()[2] == 1.0
    assert not [p for p in q.parameters()]                # nothing here for an optimizer


def test_codebook_starts_from_encoder_outputs_once():
    tg.manual_seed(0)
    model = VQVAE(num_codes=8, code_dim=4, hidden=8, ema_decay=None)   # no EMA moves after the init
    x = tg.tensor((np.random.default_rng(0).random((4, 1, 28, 28)) < 0.3).astype(np.float32))
    with tg.no_grad():
        z_e = model.encoder(x).permute(0, 2, 3, 1).reshape(-1, 4).numpy()
        model(x)
    book = model.quantizer.embedding.detach().numpy()
    assert all(np.isclose(z_e, row).all(1).any() for row in book)        # every entry is a z_e
    assert model.quantizer.initialized.item() == 1.0
    with tg.no_grad():
        model(x * 0)                                                     # a second batch: no re-init
    np.testing.assert_array_equal(model.quantizer.embedding.detach().numpy(), book)
    fresh = VQVAE(num_codes=8, code_dim=4, hidden=8, ema_decay=None)
    fresh.load_state_dict(model.state_dict())                             # a loaded model keeps its book
    with tg.no_grad():
        fresh(x * 0)
    np.testing.assert_array_equal(fresh.quantizer.embedding.detach().numpy(), book)


def test_shapes_a_few_steps_and_errors():
    tg.manual_seed(0)
    model = VQVAE(num_codes=16, code_dim=4, hidden=16)
    x = tg.tensor((np.random.default_rng(0).random((16, 1, 28, 28)) < 0.2).astype(np.float32))
    assert model.encode(x).shape == (16, 7, 7) and model.decode(model.encode(x)).shape == (16, 1, 28, 28)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        loss, parts = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = parts["rec"].item() if first is None else first
    assert parts["rec"].item() < first - 20.0
    with tg.no_grad():
        np.testing.assert_allclose(model.reconstruction_nll(x).numpy().mean(), parts["rec"].item(), rtol=0.1)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(tg.rand(2, 28, 28))
    with pytest.raises(ValueError, match="4-dim"):
        model.quantizer.nearest_codes(tg.rand(2, 3, 7, 7))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from([0.25, 0.5, 1.0, 2.0]))
def test_mean_image_is_the_tempered_bernoulli_mean(seed, tau):
    """E_τ[x_i] = p_i^(1/τ) / (p_i^(1/τ) + (1 − p_i)^(1/τ)), p_i = σ(ℓ_i): the mean of the
    normalised p(x_i)^(1/τ), written from the probabilities, not from ℓ/τ."""
    tg.manual_seed(seed)
    model = VQVAE(num_codes=8, code_dim=4, hidden=8)
    codes = tg.tensor(np.random.default_rng(seed).integers(0, 8, (3, 7, 7)), dtype="int64")
    with tg.no_grad():
        p = 1 / (1 + np.exp(-model.decode(codes).numpy().astype(np.float64)))
        mean = model.mean_image(codes, tau).numpy()
    on, off = p ** (1 / tau), (1 - p) ** (1 / tau)
    np.testing.assert_allclose(mean, on / (on + off), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pixel_temperature must be positive"):
        model.mean_image(codes, 0.0)


def test_code_perplexity():
    assert code_perplexity(np.arange(8), 8) == pytest.approx(8.0)
    assert code_perplexity(np.zeros(10, int), 8) == pytest.approx(1.0)
    assert code_perplexity([0, 0, 1, 1], 8) == pytest.approx(2.0)
