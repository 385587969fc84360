"""Energy-based models: the RBM (CD-k, PCD) and the deep belief network built from RBMs."""
from .rbm import RBM, base_rate_visible_bias
from .dbn import DeepBeliefNetwork
