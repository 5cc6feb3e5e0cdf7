"""Neural-network building blocks: Module and its parameter tree, layers, activations,
losses, initialisers (``pg.nn.init``).

Every layer is written once against polygrad's array-API namespace, so it runs (and
differentiates) on every backend; initial weights, dropout masks and every other random
draw come from NumPy's Generator on the host, so a seed gives the same numbers everywhere.
"""
from . import init as init
from ._activations import elu as elu
from ._activations import gelu as gelu
from ._activations import leaky_relu as leaky_relu
from ._activations import silu as silu
from ._activations import softplus as softplus
from ._attention import MultiHeadAttention as MultiHeadAttention
from ._attention import scaled_dot_product_attention as scaled_dot_product_attention
from ._conv import Conv1d as Conv1d
from ._conv import Conv2d as Conv2d
from ._conv import conv as conv
from ._conv import conv1d as conv1d
from ._conv import conv2d as conv2d
from ._layers import MLP as MLP
from ._layers import Dropout as Dropout
from ._layers import Embedding as Embedding
from ._layers import LayerNorm as LayerNorm
from ._layers import Linear as Linear
from ._layers import RMSNorm as RMSNorm
from ._layers import dropout as dropout
from ._layers import embedding as embedding
from ._layers import layer_norm as layer_norm
from ._layers import linear as linear
from ._layers import rms_norm as rms_norm
from ._losses import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from ._losses import cross_entropy as cross_entropy
from ._losses import huber_loss as huber_loss
from ._losses import l1_loss as l1_loss
from ._losses import mse_loss as mse_loss
from ._losses import pinball_loss as pinball_loss
from ._losses import softmax_cross_entropy as softmax_cross_entropy
from ._module import Module as Module
from ._module import Sequential as Sequential
from ..namespace import log_softmax as log_softmax
from ..namespace import relu as relu
from ..namespace import sigmoid as sigmoid
from ..namespace import softmax as softmax
from ..namespace import tanh as tanh
from ..transforms.functional_call import functional_call as functional_call

__all__ = [
    # modules
    "Module", "Sequential", "Linear", "MLP", "Embedding", "LayerNorm", "RMSNorm", "Dropout",
    "Conv1d", "Conv2d", "MultiHeadAttention",
    # functional forms
    "linear", "embedding", "layer_norm", "rms_norm", "dropout", "conv", "conv1d", "conv2d",
    "scaled_dot_product_attention",
    # activations
    "gelu", "silu", "softplus", "elu", "leaky_relu", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    # losses
    "mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy_with_logits", "cross_entropy",
    "pinball_loss", "softmax_cross_entropy",
    # initialisers
    "init",
    # transforms over modules
    "functional_call",
]
