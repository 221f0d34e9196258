"""The compiled drivers, imported in this one place.

Every front end reaches the compiled code as ``_driver.core``: the module
``fastsoftmax._core`` (contract: softmax, log_softmax, logsumexp, sigmoid,
log_sigmoid, cross_entropy_index, cross_entropy_prob, and the OpenMP / ISA
queries).  Its preconditions -- every array C-contiguous, aligned,
native-endian and of the stated dtype, class indices already checked -- are
established by ``_validation.kernel_array`` and the prepared problems
(``_rows``, ``_crossentropy``); the drivers never check them.
"""
from . import _core as core

__all__ = ["core"]
