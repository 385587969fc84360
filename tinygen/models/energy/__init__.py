"""Energy-based models: the RBM (CD-k, PCD), the deep belief network built from RBMs, and the
classifier a DBN initialises."""
from .rbm import RBM, base_rate_visible_bias
from .dbn import DeepBeliefNetwork
from .dbn_classifier import DBNClassifier
