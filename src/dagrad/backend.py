"""The array layer under every tensor: NumPy or CuPy namespace, default dtype, devices, RNG."""

from __future__ import annotations

import numpy

try:
    import cupy
except ImportError:
    cupy = None

ndarray_types: tuple[type, ...] = (numpy.ndarray,) if cupy is None else (numpy.ndarray, cupy.ndarray)

float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_default_dtype = float32


if cupy is None:

    def namespace(*arrays: object):
        """The array module (numpy or cupy) that holds `arrays`."""
        return numpy

else:

    def namespace(*arrays: object):
        """The array module (numpy or cupy) that holds `arrays`."""
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
        return numpy


def get_default_dtype() -> numpy.dtype:
    """The floating dtype that new tensors get when none is given (float32 at start)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the floating dtype for new tensors; must be a floating dtype."""
    global _default_dtype
    d = numpy.dtype(dtype)
    if d.kind != "f":
        from dagrad.errors import DtypeError

        raise DtypeError(f"set_default_dtype: expected a floating dtype, received {d}")
    _default_dtype = d


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


class Device:
    """Where a tensor's data lives: 'cpu' (NumPy) or 'cuda[:i]' (CuPy)."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | Device = "cpu") -> None:
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        kind, _, idx = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            from dagrad.errors import DeviceError

            raise DeviceError(f"Device: expected 'cpu' or 'cuda[:index]', received {spec!r}")
        self.type = kind
        self.index = int(idx) if idx else (0 if kind == "cuda" else None)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = Device("cpu")


def device_of(array) -> Device:
    if cupy is not None and isinstance(array, cupy.ndarray):
        return Device(f"cuda:{array.device.id}")
    return CPU


def to_device(array, device: Device):
    """Copy `array` to `device` (no copy when it is already there)."""
    if device.type == "cpu":
        return array if isinstance(array, numpy.ndarray) else cupy.asnumpy(array)
    if cupy is None:
        from dagrad.errors import DeviceError

        raise DeviceError("to('cuda'): expected CuPy to be installed for GPU tensors, received no cupy module")
    with cupy.cuda.Device(device.index or 0):
        return cupy.asarray(array)


class Generator:
    """A seeded source of random numbers, as torch.Generator (wraps numpy.random.Generator)."""

    __slots__ = ("_np", "_seed")

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(seed if seed is not None else numpy.random.SeedSequence().entropy % (2**63))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._np = numpy.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._np.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._np.bit_generator.state = state

    @property
    def numpy(self) -> numpy.random.Generator:
        return self._np


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator (as torch.manual_seed) and return it."""
    return default_generator.manual_seed(seed)


def rng(generator: Generator | None = None) -> numpy.random.Generator:
    return (generator or default_generator).numpy
