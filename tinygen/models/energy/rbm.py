"""Restricted Boltzmann machine (binary visible v, binary hidden h), trained by contrastive
divergence, with its log-likelihood estimated by annealed importance sampling.

Energy and free energy (W is (H, V), laid out like ``nn.Linear(V, H).weight``):

    E(v, h) = -bᵀv - cᵀh - hᵀW v,        p(v, h) = exp(-E(v, h)) / Z
    F(v)    = -log Σ_h exp(-E(v, h)) = -bᵀv - Σ_j softplus(c_j + W_j·v),   p(v) = exp(-F(v)) / Z

The conditionals factorise, which is what makes Gibbs sampling cheap:

    p(h_j = 1 | v) = sigmoid(c_j + W_j·v),     p(v_i = 1 | h) = sigmoid(b_i + (Wᵀh)_i)

The log-likelihood gradient is ∂/∂θ [-F(v_data)] - E_model[∂/∂θ (-F(v))]. Contrastive
divergence (Hinton 2002) replaces the model expectation by v_k, k Gibbs steps from the
data (CD-k), or from chains kept across updates (persistent CD, Tieleman 2008). So the
training loss is written as

    L = mean F(v_data) - mean F(sg[v_k]),

whose autograd gradient *is* the CD update: no hand-written ΔW = ⟨vhᵀ⟩_data - ⟨vhᵀ⟩_model.

log Z has no closed form; ``ais_log_partition`` estimates it (Salakhutdinov & Murray,
2008) by annealing from a base RBM with W = 0, c = 0, b = b_A (log Z_A exact) to this one.
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import rand, randn, zeros
from ...nn import functional as F


class RBM(nn.Module):
    """A Bernoulli-Bernoulli RBM with ``visible`` and ``hidden`` units."""

    def __init__(self, visible=784, hidden=500):
        super().__init__()
        self.visible, self.hidden = visible, hidden
        self.weight = nn.Parameter(randn(hidden, visible) * 0.01)     # Hinton's guide: N(0, 0.01²)
        self.visible_bias = nn.Parameter(zeros(visible))
        self.hidden_bias = nn.Parameter(zeros(hidden))

    def _check(self, v):
        if v.ndim != 2 or v.shape[1] != self.visible:
            raise ValueError(f"RBM expects visible vectors (N, {self.visible}); got {tuple(v.shape)} "
                             f"(flatten images first: x.flatten(1))")

    def free_energy(self, v):
        """F(v) = -bᵀv - Σ_j softplus(c_j + W_j·v), per row of v, shape (N,)."""
        self._check(v)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight.T + self.hidden_bias).sum(1)

    def hidden_probs(self, v):
        """p(h = 1 | v) = sigmoid(c + W v)."""
        return F.sigmoid(v @ self.weight.T + self.hidden_bias)

    def visible_probs(self, h):
        """p(v = 1 | h) = sigmoid(b + Wᵀ h)."""
        return F.sigmoid(h @ self.weight + self.visible_bias)

    @staticmethod
    def bernoulli(p):
        return (rand(*p.shape, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def gibbs(self, v, steps=1):
        """v → h ~ p(h|v) → v ~ p(v|h), ``steps`` times; returns (v, p(v|h) of the last step)."""
        if steps < 1:
            raise ValueError(f"steps (Gibbs sweeps) must be at least 1, got {steps}")
        with no_grad():
            probs = v
            for _ in range(steps):
                h = self.bernoulli(self.hidden_probs(v))
                probs = self.visible_probs(h)
                v = self.bernoulli(probs)
        return v, probs

    def contrastive_divergence_loss(self, v_data, v_model):
        """L = mean F(v_data) - mean F(sg[v_model]): its gradient is the CD/PCD update."""
        return self.free_energy(v_data).mean() - self.free_energy(v_model.detach()).mean()

    def sample(self, n, steps=1000, start=None):
        """n visible samples: ``steps`` Gibbs sweeps from ``start`` (default: uniform noise);
        returns the mean images p(v|h) of the last sweep."""
        v = start if start is not None else self.bernoulli(
            zeros(n, self.visible, dtype=self.weight.dtype, device=self.weight.device) + 0.5)
        return self.gibbs(v, steps)[1]

    def ais_log_partition(self, base_visible_bias, num_chains=100, num_betas=10_000, seed=0, progress=False):
        """(log Z estimate, its standard error over chains) by annealed importance sampling.

        Intermediate distributions p_k(v) ∝ p*_k(v), β_k from 0 to 1:
            log p*_k(v) = (1-β_k) b_Aᵀv + β_k bᵀv + Σ_j softplus(β_k (c_j + W_j·v))
        (at β = 0 each hidden unit contributes softplus(0) = log 2: that is p_A's sum over its
        unconnected hidden units, so Z_0 = Z_A). Each chain starts
        with an exact draw v ~ p_A (independent Bernoulli(sigmoid(b_A))), accumulates
        log w += log p*_k(v) - log p*_{k-1}(v), and moves by one Gibbs step that leaves p_k
        invariant. Then log Z ≈ log Z_A + log mean_chains exp(log w), with
        log Z_A = Σ_i softplus(b_A,i) + H log 2. ``progress``: a tqdm bar over the β's.
        """
        from ...random import manual_seed
        manual_seed(seed)
        with no_grad():
            b_a = base_visible_bias.detach()
            betas = np.linspace(0.0, 1.0, num_betas + 1)
            h_log2 = self.hidden * math.log(2.0)

            def log_p_star(v, pre, beta):
                """log p*_β(v), with pre = c + W v computed once per step by the caller."""
                return ((1 - beta) * (v @ b_a) + beta * (v @ self.visible_bias)
                        + F.softplus(beta * pre).sum(1))

            v = self.bernoulli(F.sigmoid(b_a).unsqueeze(0) + zeros(num_chains, self.visible, dtype=b_a.dtype,
                                                                   device=b_a.device))
            log_w = zeros(num_chains, dtype=b_a.dtype, device=b_a.device)
            steps = zip(betas[:-1], betas[1:])
            if progress:
                import sys
                from tqdm import tqdm
                steps = tqdm(steps, total=num_betas, desc="AIS", file=sys.stderr, mininterval=1.0)
            for previous, beta in steps:
                pre = v @ self.weight.T + self.hidden_bias        # shared by the three uses below
                log_w = log_w + log_p_star(v, pre, beta) - log_p_star(v, pre, previous)
                h = self.bernoulli(F.sigmoid(beta * pre))
                v = self.bernoulli(F.sigmoid((1 - beta) * b_a + beta * (h @ self.weight + self.visible_bias)))
            log_w = log_w.numpy().astype(np.float64)
        log_z_a = float(np.logaddexp(0.0, base_visible_bias.detach().numpy().astype(np.float64)).sum()) + h_log2
        shift = log_w.max()
        log_mean_w = shift + math.log(np.exp(log_w - shift).mean())
        # delta method: sd(w)/ (√M · mean w), with w measured relative to exp(shift)
        w = np.exp(log_w - shift)
        stderr = float(w.std(ddof=1) / (math.sqrt(len(w)) * w.mean())) if len(w) > 1 else float("nan")
        return log_z_a + log_mean_w, stderr

    def exact_log_partition(self):
        """log Z by enumerating every hidden configuration (only for hidden ≤ 20):
        log Z = log Σ_h exp(cᵀh + Σ_i softplus(b_i + (Wᵀh)_i))."""
        if self.hidden > 20:
            raise ValueError(f"exact log Z enumerates 2^hidden states; hidden = {self.hidden} is too many")
        with no_grad():
            states = ((np.arange(2 ** self.hidden)[:, None] >> np.arange(self.hidden)) & 1).astype(np.float64)
            w = self.weight.detach().numpy().astype(np.float64)
            b = self.visible_bias.detach().numpy().astype(np.float64)
            c = self.hidden_bias.detach().numpy().astype(np.float64)
            terms = states @ c + np.logaddexp(0.0, states @ w + b).sum(1)
        shift = terms.max()
        return float(shift + np.log(np.exp(terms - shift).sum()))


def base_rate_visible_bias(data_mean, eps=1e-3):
    """b_A = logit of the data's per-pixel mean (clipped): the AIS base model that already
    matches the marginals, so the annealing has less distance to cover."""
    p = np.clip(np.asarray(data_mean, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)
