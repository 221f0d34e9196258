"""The logistic sigmoid and its logarithm (``scipy.special.expit`` / ``log_expit``)."""
from __future__ import annotations

from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _pool
from ._driver import core
from ._threads import resolve
from ._typing import Array, Float, Int
from ._validation import (as_array, check_out, float_dtypes, kernel_array,
                          overlaps_partially)

__all__ = ["sigmoid", "log_sigmoid"]


def _logistic(x: ArrayLike, out: Array | None, log: bool) -> Any:
    """Run the compiled elementwise kernel over x (any shape and layout)."""
    arr = as_array(x)
    compute, result = float_dtypes(arr)
    if out is not None:
        check_out(out, arr.shape, result)
    flat = kernel_array(arr, compute, shape=(-1,))
    dst = None if out is None else kernel_array(out, compute, writable=True, shape=(-1,))
    if dst is not None and overlaps_partially(dst, flat):
        dst = None
    if dst is None:
        dst = _pool.empty(flat.shape, flat.dtype)
    (core.log_sigmoid if log else core.sigmoid)(flat, dst, resolve(None, flat.size))
    if out is not None:
        if not np.shares_memory(dst, out):
            out[...] = dst.reshape(arr.shape)
        return out
    res = dst.reshape(arr.shape).astype(result, copy=False)
    return res[()] if res.ndim == 0 else res


@overload
def sigmoid(x: NDArray[Float], *, out: NDArray[Float] | None = None) -> NDArray[Float]: ...
@overload
def sigmoid(x: NDArray[Int], *, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]: ...
@overload
def sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any: ...
def sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, accurate over the whole range.

    Uses ``exp(-|x|)`` so nothing overflows; for x < 0 the result is
    ``e / (1 + e)`` which keeps full relative precision down to the
    smallest subnormals.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import sigmoid
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    return _logistic(x, out, False)


@overload
def log_sigmoid(x: NDArray[Float], *, out: NDArray[Float] | None = None) -> NDArray[Float]: ...
@overload
def log_sigmoid(x: NDArray[Int], *, out: NDArray[np.float64] | None = None
                ) -> NDArray[np.float64]: ...
@overload
def log_sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any: ...
def log_sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, never -inf for finite x.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import log_sigmoid
    >>> log_sigmoid(np.array([-1000.0, 0.0, 50.0]))
    array([-1.00000000e+03, -6.93147181e-01, -1.92874985e-22])
    """
    return _logistic(x, out, True)
