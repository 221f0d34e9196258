# Type stubs for fastsoftmax.sigmoid (checked against the implementation by
# tests/test_typing.py).  A 0-d input gives a NumPy scalar.
from typing import Any, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["sigmoid", "log_sigmoid"]

_F = TypeVar("_F", np.float16, np.float32, np.float64)
_Int = np.integer[Any] | np.bool_

@overload
def sigmoid(x: NDArray[_F], *, out: NDArray[_F] | None = None) -> NDArray[_F]: ...
@overload
def sigmoid(x: NDArray[_Int], *, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]: ...
@overload
def sigmoid(x: ArrayLike, *, out: NDArray[Any] | None = None) -> Any: ...

@overload
def log_sigmoid(x: NDArray[_F], *, out: NDArray[_F] | None = None) -> NDArray[_F]: ...
@overload
def log_sigmoid(x: NDArray[_Int], *, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]: ...
@overload
def log_sigmoid(x: ArrayLike, *, out: NDArray[Any] | None = None) -> Any: ...
