"""The conditional VAE (seed 002) on MNIST: the seed-004 VAE with a one-hot label fed to
the encoder and the decoder, sampled per requested digit with ``model.sample(labels=...)``.

    python examples/cvae_mnist.py              # default CPU run
    python examples/cvae_mnist.py --quick

It is vae_mnist.py with --conditional (one training loop for both): metrics.json
adds the conditional accuracy (the reference classifier's label against the
requested one) and the per-class FID.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import vae_mnist  # noqa: E402


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    return vae_mnist.main(argv + ["--conditional"])


if __name__ == "__main__":
    main()
