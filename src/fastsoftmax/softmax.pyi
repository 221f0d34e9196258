# Type stubs for fastsoftmax.softmax.  tests/test_typing.py checks that every
# signature here matches the implementation (names, kinds, defaults).
# Element-wise results are typed as arrays; a 0-d input gives a NumPy scalar.
from typing import Any, Literal, SupportsIndex, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp"]

# the floating types the kernels return unchanged
_F = TypeVar("_F", np.float16, np.float32, np.float64)
# inputs computed in float64
_Int = np.integer[Any] | np.bool_

@overload
def softmax(x: NDArray[_F], axis: SupportsIndex | None = -1, *, out: NDArray[_F] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> NDArray[_F]: ...
@overload
def softmax(x: NDArray[_Int], axis: SupportsIndex | None = -1, *, out: NDArray[np.float64] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def softmax(x: ArrayLike, axis: SupportsIndex | None = -1, *, out: NDArray[Any] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> Any: ...

@overload
def log_softmax(x: NDArray[_F], axis: SupportsIndex | None = -1, *, out: NDArray[_F] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> NDArray[_F]: ...
@overload
def log_softmax(x: NDArray[_Int], axis: SupportsIndex | None = -1, *, out: NDArray[np.float64] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def log_softmax(x: ArrayLike, axis: SupportsIndex | None = -1, *, out: NDArray[Any] | None = None, num_threads: SupportsIndex | None = None, where: ArrayLike | None = None, temperature: float | None = None) -> Any: ...

# axis=None without keepdims and out: always a scalar
@overload
def logsumexp(x: NDArray[_F], axis: None, *, keepdims: Literal[False] = False, out: None = None, num_threads: SupportsIndex | None = None) -> _F: ...
@overload
def logsumexp(x: NDArray[_Int], axis: None, *, keepdims: Literal[False] = False, out: None = None, num_threads: SupportsIndex | None = None) -> np.float64: ...
@overload
def logsumexp(x: ArrayLike, axis: SupportsIndex | None = -1, *, keepdims: bool = False, out: NDArray[Any] | None = None, num_threads: SupportsIndex | None = None) -> Any: ...
