"""``Module``: the base class of every layer and model, with PyTorch's API.

Attributes that are Parameters, Modules or registered buffers are found by
``__setattr__`` and kept in ordered dicts, so ``state_dict`` keys come out in
PyTorch's order and with its names (``0.weight``, ``1.running_mean``, ...).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend as _backend
from ..autograd.tensor import Tensor, constant
from .parameter import Parameter


class _RemovableHandle:
    def __init__(self, hooks, key):
        self.hooks, self.key = hooks, key

    def remove(self):
        self.hooks.pop(self.key, None)


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("call super().__init__() before assigning attributes to a Module")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, (Parameter, Module)):
            for store in (params, buffers, modules):
                store.pop(name, None)
            d.pop(name, None)
            (params if isinstance(value, Parameter) else modules)[name] = value
        elif name in params or name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to {name!r}: it holds a "
                                f"{'Parameter' if name in params else 'Module'} (or None)")
            (params if name in params else modules)[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """A non-learnable state Tensor (running statistics) saved in the state_dict."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def register_parameter(self, name, param):
        self._parameters[name] = param

    def add_module(self, name, module):
        self._modules[str(name)] = module

    # -- calling ---------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")  # abstract

    def __call__(self, *args, **kwargs):
        for hook in self.__dict__.get("_forward_pre_hooks", {}).values():
            replaced = hook(self, args)
            if replaced is not None:        # a hook may swap the inputs, as in PyTorch
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, args)`` before every forward (spectral_norm recomputes its weight
        there). Returns a handle whose ``remove()`` unregisters it."""
        hooks = self._forward_pre_hooks
        key = max(hooks, default=-1) + 1
        hooks[key] = hook
        return _RemovableHandle(hooks, key)

    # -- traversal -------------------------------------------------------
    def named_modules(self, prefix=""):
        """(name, module) for this module and every descendant, depth first, without repeats."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and gradients ----------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = constant(p.grad.data * 0)

    def to(self, target):
        """Move every parameter and buffer to a backend ('numpy'/'cupy') or cast floats to a dtype."""
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is None:
                        continue
                    if isinstance(target, str) and target in _backend.BACKENDS:
                        t.data = _backend.to_backend(t.data, target)
                    elif t.dtype.kind == "f":
                        t.data = t.data.astype(np.dtype(target))
                    if t.grad is not None:
                        t.grad = None
        return self

    def cuda(self):
        return self.to("cupy")

    def cpu(self):
        return self.to("numpy")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def apply(self, fn):
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # -- state -----------------------------------------------------------
    def state_dict(self, prefix=""):
        """Ordered {key: array} of parameters and persistent buffers, PyTorch's keys and order."""
        out = OrderedDict()
        self._collect_state(out, prefix)
        return out

    def _collect_state(self, out, prefix):
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p.data
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b.data
        for name, m in self._modules.items():
            if m is not None:
                m._collect_state(out, prefix + name + ".")

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers; with ``strict``, every key must match.

        Errors name every missing, unexpected and mis-shaped key at once.
        Returns (missing_keys, unexpected_keys) like PyTorch.
        """
        own = self.state_dict()
        targets = {}
        for module_name, module in self.named_modules():
            pre = module_name + "." if module_name else ""
            for name, t in list(module._parameters.items()) + list(module._buffers.items()):
                if t is not None:
                    targets[pre + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, v in state_dict.items():
            if k in own:
                shape = tuple(getattr(v, "shape", np.shape(v)))
                if shape != tuple(own[k].shape):
                    mismatched.append(f"{k}: checkpoint {shape} vs model {tuple(own[k].shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"error loading state_dict into {type(self).__name__}: "
                               + " | ".join(problems))
        for k, v in state_dict.items():
            if k in targets:
                t = targets[k]
                array = v.data if isinstance(v, Tensor) else v
                array = _backend.to_backend(np.asarray(array) if not hasattr(array, "shape") else array,
                                            t.device)
                t.data = array.astype(t.dtype, copy=True)
        return missing, unexpected

    # -- printing --------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
