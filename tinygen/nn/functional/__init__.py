"""``tinygen.nn.functional``: stateless ops with PyTorch's names and signatures."""
from .activation import (relu, leaky_relu, elu, sigmoid, tanh, softplus, silu, gelu, softmax,
                         log_softmax)
from .conv import conv2d, conv_transpose2d
from .normalization import batch_norm, layer_norm, group_norm, instance_norm
from .pooling import max_pool2d, avg_pool2d, adaptive_avg_pool2d
from .layers import linear, dropout, embedding, one_hot, interpolate
from .loss import (mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
                   cross_entropy, nll_loss, kl_div, gaussian_nll_loss)
from ...autograd.ops import pad
