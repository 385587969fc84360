"""RBM and DBN: free energy against brute-force sums over h, the conditionals, the CD loss's
gradient against the textbook update, AIS against exact enumeration, training, the DBN's
layers, and the linear probe used to score their features."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
from tinygen import optim
from tinygen.autograd import gradcheck
from tinygen.metrics import linear_probe
from tinygen.models import RBM, DBNClassifier, DeepBeliefNetwork
from tinygen.models.energy import base_rate_visible_bias
from helpers import leaf


def small_rbm(visible, hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    rbm = RBM(visible, hidden).double()
    rbm.weight.data[...] = rng.normal(scale=scale, size=(hidden, visible))
    rbm.visible_bias.data[...] = rng.normal(size=visible)
    rbm.hidden_bias.data[...] = rng.normal(size=hidden)
    return rbm, rng


def params(rbm):
    return (rbm.weight.detach().numpy(), rbm.visible_bias.detach().numpy(), rbm.hidden_bias.detach().numpy())


@given(seed=st.integers(0, 2**16), visible=st.integers(1, 5), hidden=st.integers(1, 4))
@settings(max_examples=20)
def test_free_energy_is_minus_log_sum_over_hidden_states(seed, visible, hidden):
    rbm, rng = small_rbm(visible, hidden, seed)
    w, b, c = params(rbm)
    v = (rng.random((3, visible)) < 0.5).astype(np.float64)
    expected = []
    for row in v:          # F(v) = -log Σ_h exp(bᵀv + cᵀh + hᵀWv), every h written out
        energies = [b @ row + c @ np.array(h) + np.array(h) @ w @ row
                    for h in itertools.product([0.0, 1.0], repeat=hidden)]
        expected.append(-np.log(np.sum(np.exp(energies))))
    with tg.no_grad():
        np.testing.assert_allclose(rbm.free_energy(tg.tensor(v, dtype="float64")).numpy(), expected, rtol=1e-10)
    gradcheck(lambda x: rbm.free_energy(x), (leaf(rng.random((2, visible))),))


def test_conditionals_match_the_joint():
    rbm, rng = small_rbm(3, 2, 0)
    w, b, c = params(rbm)
    v = np.array([[1.0, 0.0, 1.0]])
    with tg.no_grad():
        ph = rbm.hidden_probs(tg.tensor(v, dtype="float64")).numpy()[0]
        h = np.array([[0.0, 1.0]])
        pv = rbm.visible_probs(tg.tensor(h, dtype="float64")).numpy()[0]
    # p(h_j = 1 | v) from the joint: the ratio of exp(-E) with h_j = 1 and h_j = 0
    np.testing.assert_allclose(ph, 1 / (1 + np.exp(-(c + w @ v[0]))))
    np.testing.assert_allclose(pv, 1 / (1 + np.exp(-(b + w.T @ h[0]))))


def test_cd_loss_gradient_is_the_textbook_update():
    """∂L/∂W = -(⟨p(h|v) vᵀ⟩_data - ⟨p(h|v) vᵀ⟩_model), and the same for the biases."""
    rbm, rng = small_rbm(5, 3, 1)
    v_data = tg.tensor((rng.random((4, 5)) < 0.5).astype(np.float64), dtype="float64")
    v_model = tg.tensor((rng.random((4, 5)) < 0.5).astype(np.float64), dtype="float64")
    rbm.contrastive_divergence_loss(v_data, v_model).backward()
    with tg.no_grad():
        ph_d, ph_m = rbm.hidden_probs(v_data).numpy(), rbm.hidden_probs(v_model).numpy()
    vd, vm = v_data.numpy(), v_model.numpy()
    np.testing.assert_allclose(rbm.weight.grad.numpy(), -(ph_d.T @ vd - ph_m.T @ vm) / 4, rtol=1e-10)
    np.testing.assert_allclose(rbm.visible_bias.grad.numpy(), -(vd - vm).mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rbm.hidden_bias.grad.numpy(), -(ph_d - ph_m).mean(0), rtol=1e-10, atol=1e-12)


def test_exact_log_partition_by_enumerating_both_layers():
    rbm, _ = small_rbm(4, 3, 2)
    w, b, c = params(rbm)
    total = sum(math.exp(b @ np.array(v) + c @ np.array(h) + np.array(h) @ w @ np.array(v))
                for v in itertools.product([0.0, 1.0], repeat=4) for h in itertools.product([0.0, 1.0], repeat=3))
    assert rbm.exact_log_partition() == pytest.approx(math.log(total), rel=1e-12)
    with pytest.raises(ValueError, match="2\\^hidden"):
        RBM(4, 21).exact_log_partition()


def test_ais_estimate_agrees_with_the_exact_log_partition():
    rbm, _ = small_rbm(30, 8, 3, scale=0.5)
    exact = rbm.exact_log_partition()
    base = tg.tensor(base_rate_visible_bias(np.full(30, 0.4)), dtype="float64")
    estimate, stderr = rbm.ais_log_partition(base, num_chains=200, num_betas=1000)
    assert abs(estimate - exact) < 0.1 and stderr < 0.1
    # base = target (W = 0, c = 0): every weight is 1 and the estimate is exact
    flat = RBM(6, 3).double()
    flat.weight.data[...] = 0.0
    flat.visible_bias.data[...] = 0.3
    est, err = flat.ais_log_partition(flat.visible_bias, num_chains=5, num_betas=10)
    assert est == pytest.approx(flat.exact_log_partition(), rel=1e-12) and err == pytest.approx(0.0, abs=1e-12)


def test_cd1_training_lowers_the_free_energy_gap_and_sampling_shapes():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    prototypes = (rng.random((2, 16)) < 0.5).astype(np.float32)
    data = prototypes[rng.integers(0, 2, 64)]              # two binary patterns
    rbm = RBM(16, 8)
    opt = optim.SGD(rbm.parameters(), lr=0.1)
    v = tg.tensor(data)
    for _ in range(600):      # 300 steps found both patterns for some seeds only (0.22-0.96)
        v_model, _ = rbm.gibbs(v, 1)
        loss = rbm.contrastive_divergence_loss(v, v_model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    samples = rbm.sample(50, steps=200).numpy()
    assert samples.shape == (50, 16) and samples.min() >= 0 and samples.max() <= 1
    nearest = np.abs(np.round(samples)[:, None] - prototypes[None]).sum(2).min(1)
    assert np.mean(nearest == 0) > 0.9                    # the chains found the two patterns
    with pytest.raises(ValueError, match="flatten"):
        rbm.free_energy(tg.rand(2, 4, 4))


def test_dbn_layers_shapes_and_sampling():
    tg.manual_seed(0)
    dbn = DeepBeliefNetwork((12, 6, 4))
    v = tg.tensor((np.random.default_rng(0).random((5, 12)) < 0.5).astype(np.float32))
    h1 = dbn.layer_input(v, 1)
    assert h1.shape == (5, 6) and set(np.unique(h1.numpy())) <= {0.0, 1.0}
    # mean-field features: the top RBM's p(h2 | p(h1 | v))
    with tg.no_grad():
        expected = dbn.rbms[1].hidden_probs(dbn.rbms[0].hidden_probs(v)).numpy()
        np.testing.assert_allclose(dbn.features(v).numpy(), expected, rtol=1e-6)
    samples = dbn.sample(7, steps=3).numpy()
    assert samples.shape == (7, 12) and samples.min() >= 0 and samples.max() <= 1
    with pytest.raises(ValueError, match="at least one RBM"):
        DeepBeliefNetwork((784,))


def test_dbn_classifier_starts_as_the_dbns_bottom_up_pass():
    """from_dbn: its hidden layers compute the DBN's mean-field features, written out as
    h_l = sigmoid(W_l h_{l-1} + c_l) with NumPy, and the logits are U h_L + d."""
    tg.manual_seed(1)
    dbn = DeepBeliefNetwork((12, 6, 4)).double()
    rng = np.random.default_rng(1)
    for rbm in dbn.rbms:
        rbm.weight.data[...] = rng.normal(size=rbm.weight.shape)
        rbm.hidden_bias.data[...] = rng.normal(size=rbm.hidden_bias.shape)
    classifier = DBNClassifier.from_dbn(dbn, num_classes=3).double()
    v = rng.random((5, 12))
    h = v
    for rbm in dbn.rbms:
        h = 1 / (1 + np.exp(-(h @ rbm.weight.detach().numpy().T + rbm.hidden_bias.detach().numpy())))
    expected = h @ classifier.classify.weight.detach().numpy().T + classifier.classify.bias.detach().numpy()
    np.testing.assert_allclose(classifier(tg.tensor(v, dtype=np.float64)).detach().numpy(), expected, rtol=1e-12)
    with tg.no_grad():
        np.testing.assert_allclose(dbn.features(tg.tensor(v, dtype=np.float64)).numpy(), h, rtol=1e-12)
    # the weights are copies: fine-tuning the classifier leaves the DBN as it was
    classifier.hidden[0].weight.data[...] = 0.0
    assert np.abs(dbn.rbms[0].weight.detach().numpy()).sum() > 0
    # a random-init control differs from the pretrained start
    control = DBNClassifier((12, 6, 4), num_classes=3).double()
    assert not np.allclose(control.hidden[0].weight.detach().numpy(), dbn.rbms[0].weight.detach().numpy())
    with pytest.raises(ValueError, match="sizes"):
        DBNClassifier((12, 5, 4)).load_rbms(dbn)


def test_linear_probe_separates_separable_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 5))
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64) + 2 * (x[:, 1] > 0)      # 4 classes, linear borders
    assert linear_probe(x[:2500], y[:2500], x[2500:], y[2500:], num_classes=4, epochs=60) > 95.0
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        linear_probe(x[:10], y[:10], x[:10, :3], y[:10])
