"""``spectral_norm(module)``: divide a layer's weight by its largest singular value, as
``torch.nn.utils.spectral_norm`` does (Miyato et al. 2018, "Spectral Normalization for GANs").

With the weight seen as a matrix W of shape (d, rest) — ``dim`` moved to the front —
and two unit vectors u (d) and v (rest) kept between calls, each training forward runs

    v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖        (one power iteration, no gradient)
    σ  = uᵀ W v                               (≈ the top singular value of W)
    W_SN = W / σ                              (used by the layer's forward)

so each layer is (about) 1-Lipschitz, and a discriminator built from them cannot sharpen
without bound. The gradient flows through σ into W (u and v are constants), as in the
paper's Eq. (12); since σ is made of matmuls, double backward (WGAN-GP) works too.

State, with PyTorch's names: the learnable ``weight_orig`` (Parameter) and the buffers
``weight_u`` and ``weight_v``; ``weight`` becomes a plain attribute recomputed before
every forward. In eval mode u and v stay as they are, so evaluation changes no state.
"""
from __future__ import annotations

import numpy as np

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor, constant
from ...backend import get_array_module, to_backend
from ..parameter import Parameter


def _normalize(x, eps):
    xp = get_array_module(x)
    return x / xp.maximum(xp.linalg.norm(x), eps)


class _SpectralNorm:
    """The forward pre-hook: one power iteration (when training), then weight = W / σ."""

    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations < 1:
            raise ValueError(f"spectral_norm needs n_power_iterations >= 1, got {n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def weight_matrix(self, weight):
        """(d, rest) view of the weight with ``dim`` first (a Tensor or a raw array)."""
        if self.dim != 0:
            order = (self.dim,) + tuple(i for i in range(weight.ndim) if i != self.dim)
            weight = weight.permute(*order) if isinstance(weight, Tensor) else weight.transpose(order)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, update):
        weight = getattr(module, self.name + "_orig")
        u_buf, v_buf = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        if update:
            matrix = self.weight_matrix(weight.data)
            u, v = u_buf.data, v_buf.data
            for _ in range(self.n_power_iterations):
                v = _normalize(matrix.T @ u, self.eps)
                u = _normalize(matrix @ v, self.eps)
            # new arrays, not in-place writes: a graph built by an earlier forward keeps its u, v
            u_buf.data, v_buf.data = u, v
        u = constant(u_buf.data)          # constants for the graph
        v = constant(v_buf.data)
        sigma = (u * (self.weight_matrix(weight) @ v)).sum()
        return weight / sigma

    def __call__(self, module, args):
        setattr(module, self.name, self.compute_weight(module, update=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Apply spectral normalisation to ``module.<name>`` in place and return the module.

    ``dim``: the output dimension of the weight — 0, except 1 for ConvTranspose layers,
    whose weight is (Cin, Cout, kh, kw) — as in PyTorch.
    """
    hooks = module.__dict__.get("_forward_pre_hooks", {})
    if any(isinstance(h, _SpectralNorm) and h.name == name for h in hooks.values()):
        raise RuntimeError(f"spectral_norm is already applied to {type(module).__name__}.{name}")
    weight = module._parameters.get(name)
    if not isinstance(weight, Parameter):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r} "
                         f"(it has {', '.join(module._parameters) or 'none'})")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    hook = _SpectralNorm(name, n_power_iterations, dim, eps)

    d, rest = hook.weight_matrix(weight.data).shape
    rng = np.random.default_rng(0)     # drawn on the host, then moved: one code path
    u = to_backend(_normalize(rng.standard_normal(d), eps).astype(weight.dtype), weight.device)
    v = to_backend(_normalize(rng.standard_normal(rest), eps).astype(weight.dtype), weight.device)

    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", constant(u))
    module.register_buffer(name + "_v", constant(v))
    with no_grad():
        setattr(module, name, hook.compute_weight(module, update=False))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` becomes a Parameter again, holding W / σ."""
    hooks = module.__dict__.get("_forward_pre_hooks", {})
    for key, hook in list(hooks.items()):
        if isinstance(hook, _SpectralNorm) and hook.name == name:
            with no_grad():
                normalized = hook.compute_weight(module, update=False).data
            del hooks[key]
            original = module._parameters.pop(name + "_orig")
            del module._buffers[name + "_u"], module._buffers[name + "_v"]
            module.__dict__.pop(name, None)
            setattr(module, name, Parameter(normalized.astype(original.dtype, copy=False)))
            return module
    raise ValueError(f"spectral_norm of {name!r} not found in {type(module).__name__}")
