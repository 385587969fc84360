"""``tinygen.metrics``: sample quality in a reference feature space (its classifier lives
here too), and the likelihood bounds of ``tinygen.distributions``."""
from ..distributions import (log_mean_exp, iwae_bound, gaussian_log_density,
                             standard_normal_log_density, bits_per_dim, binarization_protocol)
from .fid import fid, frechet_distance, gaussian_stats
from .kid import kid
from .precision_recall import precision_recall
from .reference import load_reference_classifier, features_and_probs, reference_record
from .report import (evaluate_samples, real_floor, classifier_score, class_histogram,
                     modes_covered)
from .linear_probe import linear_probe
from .classifier import SmallCNN
