"""The package's layers only point down: parse every import in tinygen/ and fail on one
that runs up the table below, or on a cycle between top-level modules.

    backend, dtypes, host_allocator, workspace   arrays, their types, host memory
    random                            random arrays on either backend
    autograd                          Tensor, Function, the ops, backward
    creation, serialization, viz      making, saving and drawing tensors
    nn, optim                         layers and optimizers
    distributed                       data-parallel training over MPI or NCCL
    data                              datasets, transforms, the loader
    distributions                     log densities and likelihood bounds
    models                            the generative models, by family
    metrics                           sample quality (with its reference classifier)
    experiment, zoo, sample           runs, shipped models, the sampling command
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tinygen"
LAYERS = [("backend", "dtypes", "host_allocator", "workspace"), ("random",), ("autograd",),
          ("creation", "serialization", "viz"), ("nn", "optim"), ("distributed",), ("data",),
          ("distributions",),
          ("models",), ("metrics",), ("experiment", "zoo", "sample")]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted):
    path = ROOT.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path, source=None):
    """(line, imported module) for every tinygen import in the file, relative ones resolved;
    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    source = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "tinygen"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "tinygen":
                continue
            subs = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
            found += [(node.lineno, t) for t in subs] if len(subs) == len(node.names) else [(node.lineno, target)]
    return found


def _top(dotted):
    """'tinygen.models.gans.dcgan' -> 'models'; the package root itself -> None."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_top_level_module_has_a_layer():
    tops = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__" and p.stem != "__main__")
            or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops == set(RANK), f"give these a layer in the table: {sorted(tops ^ set(RANK))}"


@pytest.mark.parametrize("path", sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.stem != "__init__"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    upward = upward_imports(path)
    assert not upward, "\n".join(upward)


def upward_imports(path, source=None):
    here = _top(_module_name(path))
    upward = []
    for line, target in imports_of(path, source):
        there = _top(target)
        if there is None:
            upward.append(f"line {line}: imports the package root ({target}); import the module that defines the name")
        elif there != here and RANK[there] > RANK[here]:
            upward.append(f"line {line}: {here} (layer {RANK[here]}) imports {target} (layer {RANK[there]})")
    return upward


def import_cycle(edges):
    """A cycle in the graph {module: modules it imports} as a list [a, b, …, a], or None.
    Depth-first with an explicit stack: a module met again while still on the current
    path (grey) closes a cycle."""
    state = {}
    for root in sorted(edges):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(edges.get(root, ())))]
        state[root] = "grey"
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:                      # every import of path[-1] explored
                state[path.pop()] = "black"
                stack.pop()
            elif state.get(nxt) == "grey":
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = "grey"
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_no_cycle_between_top_level_modules():
    edges = {}
    for path in ROOT.rglob("*.py"):
        here = _top(_module_name(path))
        if here is None:
            continue
        for _, target in imports_of(path):
            there = _top(target)
            if there and there != here:
                edges.setdefault(here, set()).add(there)
    cycle = import_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    assert import_cycle({"nn": {"optim"}, "optim": {"autograd"}, "autograd": {"nn"}}) == \
        ["autograd", "nn", "optim", "autograd"]      # roots are tried in sorted order
    assert import_cycle({"a": {"b"}, "b": {"c", "d"}, "d": {"b"}}) == ["b", "d", "b"]
    # a diamond joins again without a cycle
    assert import_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None
    assert import_cycle({}) is None


def test_the_checker_sees_upward_imports():
    """The checks above have teeth: an nn file importing models, or the package root, is reported."""
    probe = ROOT / "nn" / "probe.py"
    assert upward_imports(probe, "from ..models import gans\n") == [
        "line 1: nn (layer 4) imports tinygen.models.gans (layer 8)"]
    assert upward_imports(probe, "import numpy\nfrom .. import manual_seed\n")[0].startswith(
        "line 2: imports the package root")
    assert upward_imports(probe, "from ..autograd import ops\nfrom . import init\n") == []
