"""The logistic sigmoid and its logarithm (``scipy.special.expit`` / ``log_expit``)."""
from __future__ import annotations

import numpy as np

from ._validation import as_array, check_out, float_dtypes

__all__ = ["sigmoid", "log_sigmoid"]


def _prepare(x, out):
    arr = as_array(x)
    compute, result = float_dtypes(arr)
    xc = arr.astype(compute, copy=False)
    if out is not None:
        check_out(out, arr.shape, result)
    return xc, result


def _finish(value, result, out):
    if out is not None:
        out[...] = value
        return out
    value = value.astype(result, copy=False)
    return value[()] if value.ndim == 0 else value


def sigmoid(x, *, out=None):
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
    xc, result = _prepare(x, out)
    # exp(-|x|) underflows for large |x| by design: never a warning (SciPy's
    # expit is silent too)
    with np.errstate(invalid="ignore", under="ignore"):
        e = np.exp(-np.abs(xc))
        value = np.where(xc >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(xc.dtype, copy=False)
    value = np.where(np.isnan(xc), xc, value)
    return _finish(value, result, out)


def log_sigmoid(x, *, out=None):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, never -inf for finite x.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import log_sigmoid
    >>> log_sigmoid(np.array([-1000.0, 0.0, 50.0]))
    array([-1.00000000e+03, -6.93147181e-01, -1.92874985e-22])
    """
    xc, result = _prepare(x, out)
    with np.errstate(invalid="ignore", under="ignore"):
        # written as -(a - b) so that large x gives -0.0, as SciPy's log_expit
        value = -(np.log1p(np.exp(-np.abs(xc))) - np.minimum(xc, 0))
    return _finish(value, result, out)
