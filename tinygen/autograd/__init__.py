"""The autograd engine: Function, backward/grad, grad modes, anomaly detection, gradcheck."""
from .function import Function
from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, detect_anomaly, is_grad_enabled
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
