"""fastsoftmax: fast, numerically stable softmax and cross-entropy for NumPy.

Compiled (Cython + OpenMP + SIMD) drop-ins for ``scipy.special.softmax``,
``log_softmax`` and ``logsumexp``, with fused cross-entropy losses.
"""
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

from . import _openmp_wait

# The extensions link the OpenMP runtime, which reads its environment when it
# is loaded, i.e. here: see _openmp_wait for the spin setting applied.
with _openmp_wait.loading():
    from . import _core  # noqa: F401

from ._config import show_config
from ._pool import get_output_pool, release_output_pool, set_output_pool
from ._threads import get_num_threads, num_threads, openmp_enabled, set_num_threads
from .losses import (binary_cross_entropy, binary_cross_entropy_and_grad,
                     binary_cross_entropy_with_logits,
                     binary_cross_entropy_with_logits_and_grad,
                     categorical_cross_entropy, cross_entropy,
                     cross_entropy_and_grad, nll_loss)
from .linear import linear_cross_entropy, linear_cross_entropy_and_grad
from .sigmoid import log_sigmoid, sigmoid
from .softmax import log_softmax, logsumexp, softmax
from .focal import (focal_loss, focal_loss_and_grad, sigmoid_focal_loss,
                    sigmoid_focal_loss_and_grad)
from .gradient_boosting import (binary_cross_entropy_gradient_hessian,
                                cross_entropy_gradient_hessian)
from .backward import log_softmax_backward, softmax_backward
from .divergence import distillation_loss, distillation_loss_and_grad, kl_div

try:
    __version__ = _version("fastsoftmax")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "cross_entropy_and_grad", "nll_loss", "categorical_cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_and_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad",
    "sigmoid", "log_sigmoid",
    "linear_cross_entropy", "linear_cross_entropy_and_grad",
    "focal_loss", "focal_loss_and_grad", "sigmoid_focal_loss", "sigmoid_focal_loss_and_grad",
    "cross_entropy_gradient_hessian", "binary_cross_entropy_gradient_hessian",
    "softmax_backward", "log_softmax_backward",
    "kl_div", "distillation_loss", "distillation_loss_and_grad",
    "get_num_threads", "set_num_threads", "num_threads", "openmp_enabled",
    "show_config", "set_output_pool", "get_output_pool", "release_output_pool",
    "__version__",
]

#: The public submodules besides the functions above: imported on first
#: access (``fastsoftmax.scipy.softmax``), so that ``import fastsoftmax``
#: imports no optional package (Dask, torch).
_SUBMODULES = ("dask", "scipy", "slow", "torch")

if not TYPE_CHECKING:  # (to mypy, a module __getattr__ would make any name valid)
    def __getattr__(name):
        if name in _SUBMODULES:
            import importlib
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public names only (not the private modules, nor the submodules
    # that the package imports for itself).
    return sorted(set(__all__) | set(_SUBMODULES))
