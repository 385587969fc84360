"""``tinygen.nn.utils``: helpers that act on a model's parameters, as in ``torch.nn.utils``."""
from .clip_grad import clip_grad_norm_
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["clip_grad_norm_", "spectral_norm", "remove_spectral_norm"]
