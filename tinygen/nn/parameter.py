"""``Parameter``: a leaf Tensor that a Module registers as learnable."""
from __future__ import annotations

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A Tensor with ``requires_grad=True`` that a Module lists in ``parameters()``."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = []
        Tensor.__init__(self, data.data if isinstance(data, Tensor) else data,
                        dtype=data.dtype if hasattr(data, "dtype") else None,
                        requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)
