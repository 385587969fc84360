"""``Optimizer``: parameter groups, per-parameter state, and state_dict, as in PyTorch.

Updates run on raw arrays in place (no graph, no host sync). The state_dict
refers to parameters by their index, as PyTorch does, so it can be saved
with ``tg.save`` and loaded into a fresh optimizer over the same model.
"""
from __future__ import annotations

import copy

from .. import backend as _backend
from ..autograd.tensor import Tensor, constant


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for g in groups:
            group = dict(self.defaults)
            group.update(g)
            group["params"] = list(group["params"])
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise TypeError("optimizers take Tensors with requires_grad=True "
                                    "(e.g. model.parameters())")
            self.param_groups.append(group)
        self.state = {}   # id(param) -> dict of arrays and numbers

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = constant(p.grad.data * 0)

    def step(self):
        raise NotImplementedError(f"{type(self).__name__} must define step")  # abstract

    def _params_with_grad(self, group):
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad.data, self.state.setdefault(id(p), {})

    # -- state_dict ----------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {name: value}}, 'param_groups': [{hyper-parameters, 'params': [index]}]}"""
        index, state, groups = 0, {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                if id(p) in self.state:
                    # copies: later steps update the live buffers in place
                    state[index] = {k: (v.copy() if hasattr(v, "copy") else v)
                                    for k, v in self.state[id(p)].items()}
                ids.append(index)
                index += 1
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = ids
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError("loaded optimizer state does not match this optimizer's parameter groups")
        params = [p for group in self.param_groups for p in group["params"]]
        self.state = {}
        for key, values in state_dict["state"].items():
            p = params[int(key)]
            self.state[id(p)] = {k: (_backend.to_backend(v, p.device).astype(p.dtype)
                                     if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0 else v)
                                 for k, v in values.items()}
        for own, loaded in zip(self.param_groups, groups):
            for k, v in loaded.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k, v in sorted(g.items()):
                if k != "params":
                    lines.append(f"    {k}: {v}")
        return "\n".join(lines) + "\n)"
