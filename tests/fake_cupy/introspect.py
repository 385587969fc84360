"""Write manifest.json: the namespace and keyword signatures of real CuPy releases.

Run it once per release with that release importable (the wheels import without a GPU):

    pip install --no-deps --target /tmp/cupy13 cupy-cuda12x==13.6.0   # + fastrlock
    PYTHONPATH=/tmp/cupy13:/tmp/deps python tests/fake_cupy/introspect.py
    pip install --no-deps --target /tmp/cupy14 cupy-cuda13x==14.2.0   # + fastrlock, cuda-pathfinder
    PYTHONPATH=/tmp/cupy14:/tmp/deps python tests/fake_cupy/introspect.py

Each run adds (or replaces) its version's entry. Signatures come from
``inspect.signature`` where CuPy's functions have one, and from the first line of the
docstring for its Cython functions, ufuncs and ndarray methods (``exp(x, /, out=None,
\\*, casting='same_kind', dtype=None)``), parsed with ``ast``; a name whose signature
cannot be read is recorded with ``params: null`` (the stand-in then checks only that
the name exists).
"""
import ast
import importlib
import inspect
import json
import os
import re
import sys

NAMESPACES = ("cupy", "cupy.random", "cupy.linalg", "cupy.fft", "cupy.lib", "cupy.lib.stride_tricks",
              "cupy.cuda", "cupy.cuda.runtime",
              "cupyx", "cupyx.scipy", "cupyx.scipy.special")
CLASSES = ("cupy.ndarray", "cupy.random.RandomState", "cupy.random.Generator")
MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifest.json")


def params_from_signature(sig):
    out = []
    for p in sig.parameters.values():
        kind = {p.POSITIONAL_ONLY: "positional", p.POSITIONAL_OR_KEYWORD: "either", p.KEYWORD_ONLY: "keyword",
                p.VAR_POSITIONAL: "*args", p.VAR_KEYWORD: "**kwargs"}[p.kind]
        out.append([p.name, kind, p.default is not p.empty])
    return out


def params_from_doc(obj, name):
    doc = (getattr(obj, "__doc__", None) or "").strip()
    if not doc:
        return None
    first = doc.splitlines()[0].replace("\\*", "*").replace("\\", "")
    match = re.match(r"^[\w.]*?" + re.escape(name) + r"\((.*)\)", first)
    if not match:
        return None
    text = match.group(1)
    text = re.sub(r"\bself,\s*", "", text)
    text = re.sub(r"^self$", "", text)
    try:
        tree = ast.parse(f"def f({text}): pass")
    except SyntaxError:
        return None
    a = tree.body[0].args
    out = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + a.defaults
    for arg, d in zip(positional, defaults):
        out.append([arg.arg, "positional" if arg in a.posonlyargs else "either", d is not None])
    if a.vararg:
        out.append([a.vararg.arg, "*args", False])
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append([arg.arg, "keyword", d is not None])
    if a.kwarg:
        out.append([a.kwarg.arg, "**kwargs", False])
    return out


def describe(obj, name):
    if inspect.ismodule(obj):
        return {"kind": "module"}
    if inspect.isclass(obj):
        return {"kind": "class"}
    if type(obj).__name__ in ("ufunc", "_GUFunc"):
        return {"kind": "ufunc", "params": params_from_doc(obj, name), "nin": getattr(obj, "nin", None)}
    if callable(obj):
        try:
            params = params_from_signature(inspect.signature(obj))
        except (TypeError, ValueError):
            params = params_from_doc(obj, name)
        return {"kind": "function", "params": params}
    if isinstance(obj, property) or type(obj).__name__ in ("getset_descriptor", "member_descriptor",
                                                            "attribute"):
        return {"kind": "attribute"}
    return {"kind": "value", "type": type(obj).__name__}


def namespace(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    return {n: describe(getattr(module, n), n) for n in sorted(set(names)) if hasattr(module, n)}


def members(class_path):
    module_name, cls_name = class_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    if cls is None:
        return None
    out = {}
    for n in sorted(dir(cls)):
        if n.startswith("_") and n not in ("__getitem__", "__setitem__", "__array__", "__array_ufunc__",
                                           "__array_function__", "__dlpack__", "__cuda_array_interface__"):
            continue
        raw = inspect.getattr_static(cls, n, None)
        if isinstance(raw, property) or type(raw).__name__ in ("getset_descriptor", "member_descriptor"):
            out[n] = {"kind": "attribute"}
        else:
            out[n] = describe(getattr(cls, n), n)
    return out


def main():
    # this folder holds the stand-in, which must not shadow the real CuPy here
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    import cupy
    if os.path.abspath(cupy.__file__).startswith(here):
        raise SystemExit("introspect.py needs the real CuPy on the path, not the stand-in")
    version = cupy.__version__
    entry = {"namespaces": {m: namespace(m) for m in NAMESPACES},
             "classes": {c: members(c) for c in CLASSES}}
    manifest = {}
    if os.path.exists(MANIFEST):
        with open(MANIFEST) as f:
            manifest = json.load(f)
    manifest.setdefault("versions", {})[version] = entry
    manifest["about"] = ("CuPy's public names and keyword signatures, read from the released wheels by "
                         "tests/fake_cupy/introspect.py; the stand-in accepts a name or keyword only if "
                         "every listed version has it")
    with open(MANIFEST, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    counts = {m: len(v) for m, v in entry["namespaces"].items()}
    unknown = sum(1 for v in entry["namespaces"].values() for d in v.values() if d.get("params", 0) is None)
    print(f"cupy {version}: {counts}; ndarray members {len(entry['classes']['cupy.ndarray'])}; "
          f"{unknown} callables without a readable signature")


if __name__ == "__main__":
    main()
