"""``python -m tinygen.zoo.export NAME --run DIR --command "..." [--model KEY] [--float32]``

Writes ``tinygen/zoo/weights/NAME.npz`` and ``NAME.json`` from a finished run folder
(its ``checkpoint.npz``, ``config.json`` and ``metrics.json``): only the sampling
network (``--model``, default the EMA of G where the run kept one, else G or model),
in float16 unless the float16 samples drift from the float32 ones by more than
``--max-drift`` (then in float32), and a card with the training command, epochs, wall
time, the commit and the run's metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from ..experiment import with_earlier_defaults
from ..serialization import load, save
from . import WEIGHTS_DIR, kinds

KIND_OF_ARCH = {"cgan": "cgan", "acgan": "acgan", "selfcond": "selfcond-gan", "dcgan": "dcgan",
                "wgan-gp": "wgan-gp", "mlp": "mlp-gan", "conv": "conv-gan"}
# metrics worth a card: (key in metrics.json, or a path into it with '/')
CARD_METRICS = ("fid", "kid_x1000", "precision", "recall", "modes_covered", "classifier_score",
                "conditional_accuracy", "class_histogram", "n", "test_iwae_nll_nats",
                "test_iwae_nll_stderr", "iwae_k", "iwae_n", "test_negative_elbo_nats", "binarization",
                "clamped_samples",     # the flows: draws that touched the sampler's clamp
                "pixel_temperature")   # the VQ-VAE: the decoder's temperature τ of the scored samples


LIKELIHOOD_CONFIG = {"pixelcnn": ("hidden", "blocks"), "glow": ("arch", "levels", "steps", "hidden", "alpha"),
                     "realnvp": ("arch", "levels", "hidden", "alpha"),
                     "vqvae": ("num_codes", "code_dim", "hidden", "ema_decay", "prior_hidden", "prior_blocks")}
PROTOCOLS = {
    "default": ("10,000 samples (or as given by n) scored in the MNIST reference classifier's "
                "feature space against the 10,000 MNIST test images; real-vs-real floor FID 2.28"),
    "cyclegan-digits": ("G applied to the MNIST test images, scored in the UCI-digits reference classifier's "
                        "feature space against the digits test split; conditional_accuracy (= label_kept_AB) "
                        "is the share of G(x) that the digits classifier labels as x's true digit (CyCADA)"),
}


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _pick(metrics):
    return {k: metrics[k] for k in CARD_METRICS if k in metrics}


def export(name, run_dir, command, model_key=None, storage="auto", max_drift=2e-2, commit=None,
           wall_time_s=None, notes=None):
    """Write NAME.npz and NAME.json into the zoo; returns the card."""
    checkpoint = load(os.path.join(run_dir, "checkpoint.npz"))
    with open(os.path.join(run_dir, "config.json")) as f:
        config = with_earlier_defaults(json.load(f))
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    example = config.get("example", "")
    if example.startswith("gan_"):
        kind = KIND_OF_ARCH[config["arch"]]
        model_key = model_key or ("G_ema" if "G_ema" in checkpoint["models"] else "G")
    elif example in ("vae_mnist", "cvae_mnist"):
        kind = "cvae" if config.get("conditional") else "vae"
        model_key = model_key or "model"
    elif example == "ddpm_mnist":
        kind = "ddpm-cfg" if config.get("conditional") else "ddpm"
        model_key = model_key or "ema"                # DDPMs are sampled from the weights' average
    elif example == "cyclegan_mnist":
        if config.get("target") != "digits":
            raise SystemExit("the zoo ships the CycleGAN between two digit sets (--target digits)")
        kind, model_key = "cyclegan-digits", model_key or "cyclegan"
    elif example == "pixelcnn_mnist":
        kind, model_key = "pixelcnn", model_key or "model"
    elif example in ("flow_glow_mnist", "flow_realnvp_mnist"):
        kind, model_key = config["arch"], model_key or "model"
    elif example == "vqvae_mnist":
        kind, model_key = "vqvae", model_key or "vqvae"
    elif example in ("rbm_mnist", "dbn_mnist"):
        kind = "rbm" if example == "rbm_mnist" else "dbn"
        model_key = model_key or "dbn"
    else:
        raise SystemExit(f"export knows no zoo kind for the example {example!r}")
    wanted = {"selfcond-gan": ("latent_dim", "clusters"), "vae": ("latent_dim", "prior"),
              "cvae": ("latent_dim", "prior")}.get(kind, ("latent_dim",))
    model_config = {k: config[k] for k in wanted if config.get(k) is not None}
    if kind in ("rbm", "dbn"):
        model_config = {"sizes": metrics["sizes"]}
    if kind in ("ddpm", "ddpm-cfg"):
        model_config = {"channels": config["channels"], **({"num_classes": 10} if kind == "ddpm-cfg" else {})}
    if kind == "mlp-gan" and config.get("g_batch_norm"):
        model_config["batch_norm"] = True
    if kind in ("vae", "cvae"):          # the example settles the prior after recording its flags
        model_config["prior"] = metrics.get("prior") or ("class" if kind == "cvae" else "standard")
    state = {k: np.asarray(v) for k, v in checkpoint["models"][model_key].items()}
    if kind in LIKELIHOOD_CONFIG:
        model_config = {k: config[k] for k in LIKELIHOOD_CONFIG[kind]}
    if kind == "vqvae":                  # the codes' model and their prior, as one module
        state = {**{"vqvae." + k: v for k, v in state.items()},
                 **{"prior." + k: np.asarray(v) for k, v in checkpoint["models"]["prior"].items()}}
    if kind == "cyclegan-digits":        # only G: A → B samples; F and the two critics stay behind
        model_config = {"gen_width": config["gen_width"], "blocks": config["blocks"]}
        state = {k[len("G."):]: v for k, v in state.items() if k.startswith("G.")}
    extra, sampling, card_metrics = {}, {}, {}
    if kind in ("vae", "cvae"):
        density_path = os.path.join(run_dir, "expost_density.npz")
        if os.path.exists(density_path):
            extra = load(density_path)
            sampling["sampler"] = "expost"
            card_metrics = {"likelihood": _pick(metrics), "samples_expost": _pick(metrics.get("samples_expost", {})),
                            "samples_prior": _pick(metrics.get("samples", {}))}
        else:
            sampling["sampler"] = "prior"
            card_metrics = {"likelihood": _pick(metrics), "samples_prior": _pick(metrics.get("samples", {}))}
    elif kind in ("rbm", "dbn"):
        sampling["steps"] = config["gibbs_steps"]
        card_metrics = {"samples": _pick(metrics.get("samples", {})),
                        "likelihood": {k: metrics[k] for k in ("test_nll_nats", "test_nll_stderr", "test_nll_n",
                                                               "ais_log_z", "ais_log_z_stderr", "binarization")
                                       if k in metrics},
                        "linear_probe": metrics.get("linear_probe", {})}
        if "finetune" in metrics:       # the DBN as a classifier, beside its random-init control
            card_metrics["classifier"] = metrics["finetune"]
    elif kind == "cyclegan-digits":
        card_metrics = {"samples": {**_pick(metrics["G_of_mnist_vs_digits"]), "dataset": "digits",
                                    "conditional_accuracy": metrics["label_kept_AB"]},
                        **{k: metrics[k] for k in ("label_kept_AB", "label_kept_BA", "label_kept_ABA",
                                                   "cycle_l1_ABA", "cycle_l1_BAB", "digits_floor_fid",
                                                   "mnist_floor_fid", "eval_n_A", "eval_n_B")},
                        "F_of_digits_vs_mnist": _pick(metrics["F_of_digits_vs_mnist"])}
    elif kind in LIKELIHOOD_CONFIG:
        figure = {"pixelcnn": "test_nll_nats", "vqvae": "test_nll_bound_nats"}.get(kind, "test_bits_per_dim")
        stderr = {"pixelcnn": "test_nll_stderr", "vqvae": "test_nll_bound_stderr"}.get(kind,
                                                                                        "test_bits_per_dim_stderr")
        card_metrics = {"likelihood": {"figure": figure, "value": metrics[figure], "stderr": metrics[stderr],
                                       "unit": kinds()[kind].unit,
                                       "n": metrics.get("test_nll_n", metrics.get("test_n")),
                                       "protocol": metrics.get("binarization") or metrics.get("dequantization")},
                        "samples": _pick(metrics.get("samples", {}))}
        if kind == "vqvae":              # the decoder's temperature the samples were scored at
            sampling = {"pixel_temperature": metrics.get("samples", {}).get("pixel_temperature", 1.0)}
        for key in ("samples_reduced_temperature", "samples_untempered", "code_perplexity", "codes_used",
                    "test_reconstruction_nll_nats", "test_prior_nll_nats"):
            if key in metrics:
                card_metrics[key] = _pick(metrics[key]) if isinstance(metrics[key], dict) else metrics[key]
    elif kind in ("ddpm", "ddpm-cfg"):
        sampling = {"sampler": metrics.get("sampler") or "ancestral", "steps": metrics["sample_steps"]}
        if metrics.get("eta"):                    # DDIM's noise share, where the run scored with one
            sampling["eta"] = metrics["eta"]
        scored = {k: _pick(v) for k, v in metrics.items() if k.startswith("samples") and isinstance(v, dict)}
        if kind == "ddpm-cfg":                    # the card samples at the first scale the run scored
            sampling["guidance"] = metrics["guidance_scales"][0]
            scored["samples"] = scored[f"samples_w{sampling['guidance']:g}"]
        card_metrics = {"test_l_simple": metrics["test_l_simple"], **scored}
    else:
        card_metrics = {"samples": _pick(metrics)}
    # float16 where it holds: samples from the rounded weights against the float32 ones
    drift = _float16_drift(kind, model_config, state, extra, sampling)
    use16 = storage == "float16" or (storage == "auto" and drift <= max_drift)
    stored = {k: (v.astype(np.float16) if use16 and v.dtype == np.float32 else v) for k, v in state.items()}
    card = {
        "name": name, "kind": kind, "config": model_config,
        "command": command, "example": example, "epochs": checkpoint["epoch"],
        "wall_time_s": wall_time_s if wall_time_s is not None else metrics.get("wall_time_s"),
        "machine": "2 CPU cores, no GPU (OPENBLAS_NUM_THREADS=1 beside another run)",
        "commit": commit or _commit(),
        "weights": {"network": model_key, "storage": "float16" if use16 else "float32",
                    "parameters": int(sum(v.size for v in state.values())),
                    "float16_max_pixel_drift": round(drift, 5)},
        "sampling": sampling,
        "metrics": card_metrics,
        "protocol": PROTOCOLS.get(kind, PROTOCOLS["default"]),
    }
    if notes:
        card["notes"] = notes
    os.makedirs(WEIGHTS_DIR, exist_ok=True)
    save({"model": stored, "extra": extra}, os.path.join(WEIGHTS_DIR, name + ".npz"),
         compress=True)       # keeps the largest G (the self-conditioned one) under 8 MB
    tmp = os.path.join(WEIGHTS_DIR, name + ".json.tmp")
    with open(tmp, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(WEIGHTS_DIR, name + ".json"))
    return card


def _float16_drift(kind_name, config, state, extra, sampling):
    """Largest pixel difference between 64 samples from float32 and float16-rounded weights."""
    from .. import random as _random
    kind = kinds()[kind_name]
    outputs = []
    for dtype in (np.float32, np.float16):
        model = kind.build(config)
        model.load_state_dict({k: (v.astype(dtype).astype(np.float32) if v.dtype == np.float32 else v)
                               for k, v in state.items()})
        model.eval()
        _random.manual_seed(0)
        labels = np.arange(64) % 10 if kind.conditional else None
        outputs.append(kind.draw(model, 64, labels, extra, {**sampling, "seed": 0})[0])
    return float(np.abs(outputs[0] - outputs[1]).max())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygen.zoo.export", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the zoo name, e.g. cgan")
    parser.add_argument("--run", required=True, help="the finished run folder")
    parser.add_argument("--command", required=True, help="the exact command that trained it")
    parser.add_argument("--model", default=None, help="which network of the checkpoint to ship")
    parser.add_argument("--storage", choices=["auto", "float16", "float32"], default="auto",
                        help="auto: float16 unless samples drift more than --max-drift")
    parser.add_argument("--max-drift", type=float, default=2e-2, help="largest pixel drift float16 may cause")
    parser.add_argument("--commit", default=None, help="the commit that trained it (default: HEAD)")
    parser.add_argument("--wall-time-s", type=float, default=None,
                        help="the training run's wall time (default: metrics.json's)")
    parser.add_argument("--notes", default=None, help="a sentence for the card")
    args = parser.parse_args(argv)
    card = export(args.name, args.run, args.command, args.model, args.storage, args.max_drift, args.commit,
                  args.wall_time_s, args.notes)
    json.dump(card, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
