"""Function transforms, as torch.func: grad, vjp, jvp, Jacobians, Hessians and vmap."""

from dagrad.func.transforms import grad, grad_and_value, hessian, hvp, jacfwd, jacrev, jvp, vjp
from dagrad.func.vmap import BatchedTensor, NoBatchingRule, VmapError, vmap

__all__ = [
    "BatchedTensor", "NoBatchingRule", "VmapError", "grad", "grad_and_value", "hessian", "hvp", "jacfwd", "jacrev",
    "jvp", "vjp", "vmap",
]  # fmt: skip
