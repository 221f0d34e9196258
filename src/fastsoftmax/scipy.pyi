# Type stubs for fastsoftmax.scipy, the drop-in for scipy.special (checked
# against the implementation, which has SciPy 1.17's signatures, by
# tests/test_typing.py).  A 0-d input gives a NumPy scalar.
from typing import Any, Literal, SupportsIndex, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["softmax", "log_softmax", "logsumexp", "expit", "log_expit"]

# dtypes returned unchanged (complex and longdouble are computed by SciPy)
_I = TypeVar("_I", bound=np.inexact[Any])
_Axis = SupportsIndex | tuple[SupportsIndex, ...] | None
_ArrayT = TypeVar("_ArrayT", bound=NDArray[Any])
_Casting = Literal["no", "equiv", "safe", "same_kind", "unsafe"]
_Order = Literal["K", "A", "C", "F"] | None
# expit's loops: float32 -> float32, float64 -> float64 (longdouble -> longdouble
# too, but NumPy types longdouble with a platform-dependent precision that
# overlaps float16: it takes the general overload)
_L = TypeVar("_L", np.float32, np.float64)
# computed in float64 by expit (float16 too: there is no float16 loop)
_Int = np.integer[Any] | np.bool_

@overload
def softmax(x: NDArray[_I], axis: _Axis = None) -> NDArray[_I]: ...
@overload
def softmax(x: NDArray[np.integer[Any]], axis: _Axis = None) -> NDArray[np.floating[Any]]: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = None) -> Any: ...

@overload
def log_softmax(x: NDArray[_I], axis: _Axis = None) -> NDArray[_I]: ...
@overload
def log_softmax(x: NDArray[np.integer[Any]], axis: _Axis = None) -> NDArray[np.floating[Any]]: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = None) -> Any: ...

# all elements, no keepdims: a scalar
@overload
def logsumexp(a: NDArray[_I], axis: None = None, b: None = None, keepdims: Literal[False] = False, return_sign: Literal[False] = False) -> _I: ...
@overload
def logsumexp(a: NDArray[np.integer[Any] | np.bool_], axis: None = None, b: None = None, keepdims: Literal[False] = False, return_sign: Literal[False] = False) -> np.float64: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None, keepdims: bool = False, *, return_sign: Literal[True]) -> tuple[Any, Any]: ...
@overload
def logsumexp(a: ArrayLike, axis: _Axis = None, b: ArrayLike | None = None, keepdims: bool = False, return_sign: bool = False) -> Any: ...

@overload
def expit(x: NDArray[_L], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[_L]: ...
@overload
def expit(x: NDArray[_Int], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def expit(x: NDArray[np.float16], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def expit(x: ArrayLike, /, out: _ArrayT | tuple[_ArrayT], *, where: ArrayLike = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None, subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> _ArrayT: ...
@overload
def expit(x: ArrayLike, /, out: None = None, *, where: ArrayLike = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None, subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> Any: ...

@overload
def log_expit(x: NDArray[_L], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[_L]: ...
@overload
def log_expit(x: NDArray[_Int], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def log_expit(x: NDArray[np.float16], /, out: None = None, *, where: Literal[True] = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None, subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def log_expit(x: ArrayLike, /, out: _ArrayT | tuple[_ArrayT], *, where: ArrayLike = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None, subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> _ArrayT: ...
@overload
def log_expit(x: ArrayLike, /, out: None = None, *, where: ArrayLike = True, casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None, subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> Any: ...
