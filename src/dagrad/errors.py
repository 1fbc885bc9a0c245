"""dagrad's exceptions: each message names the op or layer, what was expected and what was received."""


class DagradError(Exception):
    """Base of every error dagrad raises on purpose."""


class ShapeError(DagradError, ValueError):
    """Shapes that do not fit: broadcasting, matmul, reshape, layer inputs."""


class DtypeError(DagradError, TypeError):
    """A dtype the op cannot take (integer where a float is needed, mixed kinds)."""


class DeviceError(DagradError, RuntimeError):
    """Tensors on different devices, or a device that is not available."""


class GradientError(DagradError, RuntimeError):
    """Misuse of the autograd engine: freed graphs, non-scalar roots, missing gradients."""


class InplaceError(GradientError):
    """A tensor needed for backward was modified in place, or an in-place op is not allowed."""


class AnomalyError(GradientError):
    """detect_anomaly() found a NaN or Inf; names the op and the source line that produced it."""


class ArgumentError(DagradError, ValueError):
    """A hyper-parameter or argument value out of range (negative padding, p outside [0, 1], unknown mode)."""


class OptionalDependencyError(DagradError, ImportError):
    """A feature needs a package from one of dagrad's optional extras that is not installed."""
