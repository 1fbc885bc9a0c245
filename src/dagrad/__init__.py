"""dagrad: backpropagation over the computation graph a program builds as it runs, on NumPy (CuPy on a GPU)."""

from dagrad import allocator, autograd, backend, data, func, io, keras, models, ops, optim, train, viz
from dagrad.autograd import Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from dagrad.backend import (
    Device,
    Generator,
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    manual_seed,
    set_default_dtype,
    uint8,
)  # fmt: skip
from dagrad.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)  # fmt: skip
from dagrad.errors import DagradError, DtypeError, GradientError, InplaceError, ShapeError
from dagrad.ops.activation import *  # noqa: F403
from dagrad.ops.arithmetic import *  # noqa: F403
from dagrad.ops.broadcast import *  # noqa: F403
from dagrad.ops.cast import *  # noqa: F403
from dagrad.ops.compare import *  # noqa: F403
from dagrad.ops.elementwise import *  # noqa: F403
from dagrad.ops.indexing import *  # noqa: F403
from dagrad.ops.inplace import *  # noqa: F403
from dagrad.ops.linalg import *  # noqa: F403
from dagrad.ops.reduction import *  # noqa: F403
from dagrad.ops.shape import *  # noqa: F403
from dagrad.ops.softmax import *  # noqa: F403
from dagrad.ops.unary import *  # noqa: F403

__version__ = "0.1.0"
bool = bool_  # noqa: A001
double, float, long = float64, float32, int64  # noqa: A001
device = Device
is_tensor = autograd.tensor.is_tensor
