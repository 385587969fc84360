"""Plant realistic bugs in a copy of tinygen, one at a time, and check the suite catches each.

    python tests/mutation/plant.py            # every plant (a few minutes)
    python tests/mutation/plant.py clamp adam # some of them

Each plant is one small edit of the kind a refactor makes by accident, and names the
test files that should catch it. The script copies the repository to a temporary
folder, applies the edit there, runs those tests with ``-x``, and reports CAUGHT (the
tests failed) or MISSED. Not part of CI: it is for whoever changes the tests, to see
that they still bite. Add a plant when a bug slips through the suite.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name: (file, text to replace, replacement, tests that must catch it)
PLANTS = {
    "same-padding-side": (
        "tinygen/nn/functional/conv.py",
        "x = pad_op(x, (before[1], total[1] - before[1], before[0], total[0] - before[0]))",
        "x = pad_op(x, (total[1] - before[1], before[1], total[0] - before[0], before[0]))",
        ["tests/test_conv_grid.py", "tests/test_conv.py"]),
    "col2im-floor": (
        "tinygen/nn/functional/im2col.py",
        "hq = max(-(-(hout + 2 * ph) // sh), (dh * (kh - 1)) // sh + h)",
        "hq = max((hout + 2 * ph) // sh, (dh * (kh - 1)) // sh + h)",
        ["tests/test_conv_grid.py", "tests/test_conv.py"]),
    "clamp-edge": (
        "tinygen/autograd/ops/math.py",
        "keep = _xp(x).ones(x.shape, dtype=bool) if self.lo is None else (x >= self.lo)",
        "keep = _xp(x).ones(x.shape, dtype=bool) if self.lo is None else (x > self.lo)",
        ["tests/test_ops_elementwise.py"]),
    "adam-bias-correction": (
        "tinygen/optim/adam.py",
        "step *= lr / bias1",
        "step *= lr",
        ["tests/test_optim.py"]),
    "rmsprop-weight-decay-sign": (
        "tinygen/optim/rmsprop.py",
        "g = g + wd * p.data",
        "g = g - wd * p.data",
        ["tests/test_optim.py"]),
    "cast-backward": (
        "tinygen/autograd/ops/math.py",
        "        return cast(gy, self.inputs[0].dtype)",
        "        return gy",
        ["tests/test_tensor.py", "tests/test_ops_elementwise.py"]),
    "ddpm-alpha-bar": (
        "tinygen/models/diffusion/ddpm.py",
        "beta, alpha_bar = float(betas[i]), float(alpha_bars[i])",
        "beta, alpha_bar = float(betas[i]), float(alpha_bars[max(i - 1, 0)])",
        ["tests/test_ddpm.py"]),
    "actnorm-logdet-detached": (
        "tinygen/models/flows/layers.py",
        "logdet = self.log_scale.sum() * (x.shape[2] * x.shape[3])",
        "logdet = self.log_scale.detach().sum() * (x.shape[2] * x.shape[3])",
        ["tests/test_flows.py"]),
    "int-float-promotion": (
        "tinygen/autograd/ops/arithmetic.py",
        "    if ka in \"biu\" and kb in \"fc\":\n        a = constant(a.data.astype(b.dtype))",
        "    if False:\n        a = constant(a.data.astype(b.dtype))",
        ["tests/test_tensor.py"]),
    "leaf-grad-dtype": (
        "tinygen/autograd/engine.py",
        "    g = _in_dtype_of(leaf, g)\n",
        "",
        ["tests/test_tensor.py"]),
    "embedding-padding-zeroed": (
        "tinygen/nn/functional/layers.py",
        "        out = out * keep + ops.getitem(weight.detach(), idx) * (1.0 - keep)",
        "        out = out * keep",
        ["tests/test_arguments.py"]),
    "mean-of-nothing-is-zero": (
        "tinygen/autograd/ops/reduction.py",
        "(1.0 / count if count else float(\"nan\"))",
        "(1.0 / max(count, 1))",
        ["tests/test_edges.py"]),
    "clip-generator-read-once": (
        "tinygen/nn/utils/clip_grad.py",
        "    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)\n",
        "    parameters = [parameters] if isinstance(parameters, Tensor) else parameters\n",
        ["tests/test_optim.py"]),
    "bce-pos-weight-ignored": (
        "tinygen/nn/functional/loss.py",
        "    if pos_weight is None:\n        loss = (1.0 - target) * logits + softplus(-logits)",
        "    if True:\n        loss = (1.0 - target) * logits + softplus(-logits)",
        ["tests/test_arguments.py"]),
}


def plant(name, quiet=True):
    path, old, new, tests = PLANTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "repo")
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "runs", ".ci-venv", ".venv",
                                                                 "__pycache__", ".hypothesis"))
        target = os.path.join(copy, path)
        with open(target) as f:
            text = f.read()
        if text.count(old) != 1:
            return "STALE (the planted line is not in the code any more: update the plant)"
        with open(target, "w") as f:
            f.write(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=copy, CI="true")
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                cwd=copy, env=env, capture_output=True, text=True)
        return "CAUGHT" if result.returncode == 1 else ("MISSED" if result.returncode == 0 else
                                                         f"ERROR (pytest exit {result.returncode})")


def main(names):
    names = names or list(PLANTS)
    unknown = [n for n in names if n not in PLANTS]
    if unknown:
        raise SystemExit(f"unknown plants {unknown}; known: {', '.join(PLANTS)}")
    missed = 0
    for name in names:
        verdict = plant(name)
        missed += verdict != "CAUGHT"
        print(f"{name:28s} {verdict}", flush=True)
    print(f"{len(names) - missed} of {len(names)} plants caught")
    return missed


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
