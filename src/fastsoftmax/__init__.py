"""fastsoftmax: fast, numerically stable softmax and cross-entropy for NumPy.

Compiled (Cython + OpenMP + SIMD) drop-ins for ``scipy.special.softmax``,
``log_softmax`` and ``logsumexp``, with fused cross-entropy losses.
"""
from importlib.metadata import PackageNotFoundError, version as _version

from . import _openmp_wait

# The extensions link the OpenMP runtime, which reads its environment when it
# is loaded, i.e. here: see _openmp_wait for the spin setting applied.
with _openmp_wait.loading():
    from . import _core  # noqa: F401

from ._config import show_config
from ._threads import get_num_threads, num_threads, openmp_enabled, set_num_threads
from .losses import (binary_cross_entropy, binary_cross_entropy_and_grad,
                     binary_cross_entropy_with_logits,
                     binary_cross_entropy_with_logits_and_grad,
                     categorical_cross_entropy, cross_entropy,
                     cross_entropy_and_grad, nll_loss)
from .linear import linear_cross_entropy, linear_cross_entropy_and_grad
from .sigmoid import log_sigmoid, sigmoid
from .softmax import log_softmax, logsumexp, softmax
from .divergence import distillation_loss, distillation_loss_and_grad, kl_div

try:
    __version__ = _version("fastsoftmax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "cross_entropy_and_grad", "nll_loss", "categorical_cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_and_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad",
    "sigmoid", "log_sigmoid",
    "linear_cross_entropy", "linear_cross_entropy_and_grad",
    "get_num_threads", "set_num_threads", "num_threads", "openmp_enabled",
    "show_config", "__version__",
    "kl_div", "distillation_loss", "distillation_loss_and_grad",
]
