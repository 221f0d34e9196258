# Type stubs for fastsoftmax.linear (checked against the implementation by
# tests/test_typing.py).  Reduced losses are NumPy scalars, reduction="none"
# gives per-sample losses; the gradients include grad_bias only when a bias
# is given.
from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["linear_cross_entropy", "linear_cross_entropy_and_grad"]

_Scalar = np.floating[Any]
_Array = NDArray[np.floating[Any]]
_Reduced = Literal["mean", "sum"]

@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: _Reduced = "mean", z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> _Scalar: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: Literal["none"], z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> _Array: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: str = "mean", z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> Any: ...

# without bias: (loss, grad_hidden, grad_weight)
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: _Reduced = "mean", z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> tuple[_Scalar, _Array, _Array]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: Literal["none"], z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> tuple[_Array, _Array, _Array]: ...
# with bias: (loss, grad_hidden, grad_weight, grad_bias)
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: _Reduced = "mean", z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> tuple[_Scalar, _Array, _Array, _Array]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: Literal["none"], z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> tuple[_Array, _Array, _Array, _Array]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *, bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0, reduction: str = "mean", z_loss: float = 0.0, softcap: float | None = None, chunk_size: SupportsIndex | None = None, num_threads: SupportsIndex | None = None) -> tuple[Any, ...]: ...
