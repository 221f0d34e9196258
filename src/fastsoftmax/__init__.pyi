# Type stubs for the fastsoftmax package namespace.  tests/test_typing.py
# checks that this lists exactly fastsoftmax.__all__; the signatures live in
# the submodules' stubs (softmax.pyi, losses.pyi, ...), checked there.
# fastsoftmax.scipy is a submodule imported on request, not here.
from ._config import show_config as show_config
from ._threads import (
    get_num_threads as get_num_threads,
    num_threads as num_threads,
    openmp_enabled as openmp_enabled,
    set_num_threads as set_num_threads,
)
from .losses import (
    binary_cross_entropy as binary_cross_entropy,
    binary_cross_entropy_and_grad as binary_cross_entropy_and_grad,
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_and_grad as binary_cross_entropy_with_logits_and_grad,
    categorical_cross_entropy as categorical_cross_entropy,
    cross_entropy as cross_entropy,
    cross_entropy_and_grad as cross_entropy_and_grad,
    nll_loss as nll_loss,
)
from .linear import (
    linear_cross_entropy as linear_cross_entropy,
    linear_cross_entropy_and_grad as linear_cross_entropy_and_grad,
)
from .sigmoid import log_sigmoid as log_sigmoid, sigmoid as sigmoid
from .softmax import log_softmax as log_softmax, logsumexp as logsumexp, softmax as softmax

__version__: str

__all__ = [
    "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "cross_entropy_and_grad", "nll_loss", "categorical_cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_and_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad",
    "sigmoid", "log_sigmoid",
    "linear_cross_entropy", "linear_cross_entropy_and_grad",
    "get_num_threads", "set_num_threads", "num_threads", "openmp_enabled",
    "show_config", "__version__",
]
