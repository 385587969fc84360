"""The autograd engine: Tensor, Function, backward/grad, grad modes, anomaly detection, gradcheck."""
from .function import Function
from .tensor import Tensor, constant
from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, detect_anomaly, is_grad_enabled
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
