"""Reverse-mode automatic differentiation: Tensor, Function, the engine, grad modes and checks."""

from dagrad.autograd import forward_ad
from dagrad.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from dagrad.autograd.engine import backward, grad
from dagrad.autograd.function import REGISTRY, Function, Sample
from dagrad.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from dagrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from dagrad.autograd.memory import MemoryReport, memory_report
from dagrad.autograd.tensor import Tensor

__all__ = [
    "REGISTRY", "Function", "GradcheckError", "MemoryReport", "Sample", "Tensor", "backward", "detect_anomaly",
    "enable_grad", "forward_ad", "grad", "gradcheck", "gradgradcheck", "inference_mode", "is_anomaly_enabled",
    "is_grad_enabled", "memory_report", "no_grad", "set_detect_anomaly", "set_grad_enabled",
]  # fmt: skip
