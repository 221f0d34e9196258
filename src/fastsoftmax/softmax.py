"""softmax, log_softmax and logsumexp over one axis (SciPy semantics)."""
from __future__ import annotations

import numpy as np

from . import _kernels
from ._threads import resolve
from ._validation import (as_array, check_out, float_dtypes, normalize_axis,
                          overlaps_partially, rows_view, writable_rows)

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _prepare(x, axis):
    """(array, axis, compute dtype, result dtype) with axis an int or None.

    A 0-d input is treated as a vector of one element (as SciPy does)."""
    arr = as_array(x)
    compute, result = float_dtypes(arr)
    if axis is not None:
        axis = normalize_axis(axis, max(arr.ndim, 1))
    return arr, axis, compute, result


def _rows(arr, axis, compute):
    """C-contiguous (rows, n) compute-dtype view with the reduction axis last."""
    if axis is None or arr.ndim <= 1:
        return np.ascontiguousarray(arr, dtype=compute).reshape(1, -1)
    return rows_view(arr, axis, compute)


def _elementwise(kernel, x, axis, out, num_threads):
    arr, axis, compute, result = _prepare(x, axis)
    if out is None:
        res = np.empty(arr.shape, dtype=result)
    else:
        res = check_out(out, arr.shape, result)
    nt = resolve(num_threads, arr.size)  # validates num_threads even with no work
    if arr.size == 0:
        return res
    xr = _rows(arr, axis, compute)
    if axis is None or arr.ndim <= 1:
        target = res.reshape(1, -1) if (res.flags.c_contiguous and res.dtype == compute
                                         and res.dtype.isnative) else None
    else:
        target = writable_rows(res, axis, compute)
    if target is not None and not overlaps_partially(target, xr):
        kernel(xr, target, nt)
    else:
        tmp = np.empty_like(xr)
        kernel(xr, tmp, nt)
        if axis is None or arr.ndim <= 1:
            res[...] = tmp.reshape(arr.shape)
        else:
            dst = np.moveaxis(res, axis, -1)
            dst[...] = tmp.reshape(dst.shape)
    if out is None and res.ndim == 0:
        return res[()]
    return res


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """Softmax along an axis: ``exp(x - max) / sum(exp(x - max))``.

    Numerically stable for any finite input.  Special values follow
    ``scipy.special.softmax``: a slice containing NaN or +inf, or only -inf,
    is all NaN.

    Parameters
    ----------
    x : array_like
        Input; float16/32/64, integer or bool (integers compute in float64).
    axis : int or None, optional
        Axis along which to normalise (default: the last).  None normalises
        over all elements.
    out : ndarray, optional
        Where to write the result; same shape as ``x`` and the result dtype.
        ``out=x`` computes in place.
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    ndarray
        Same shape as ``x``; dtype of ``x`` for floating input, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import softmax
    >>> softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softmax(np.array([[1000.0, 1000.0], [0.0, -np.inf]]), axis=1)
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    return _elementwise(_kernels.softmax, x, axis, out, num_threads)


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """Logarithm of softmax along an axis: ``x - logsumexp(x)``.

    Accurate where ``log(softmax(x))`` underflows.  Special values follow
    ``scipy.special.log_softmax``.

    Parameters
    ----------
    x : array_like
        Input; float16/32/64, integer or bool (integers compute in float64).
    axis : int or None, optional
        Axis along which to normalise (default: the last); None: all elements.
    out : ndarray, optional
        Where to write the result; ``out=x`` computes in place.
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import log_softmax
    >>> log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    """
    return _elementwise(_kernels.log_softmax, x, axis, out, num_threads)


def logsumexp(x, axis=-1, *, keepdims=False, out=None, num_threads=None):
    """``log(sum(exp(x)))`` along an axis, without overflow or underflow.

    Computed as ``max + log1p(sum of the other terms)``, as SciPy does, so it
    keeps full relative precision when one term dominates.  An empty axis
    gives -inf; NaN and infinities follow ``scipy.special.logsumexp``.

    Parameters
    ----------
    x : array_like
        Input; float16/32/64, integer or bool (integers compute in float64).
    axis : int or None, optional
        Axis to reduce (default: the last); None reduces over all elements.
    keepdims : bool, optional
        Keep the reduced axis with length one.
    out : ndarray, optional
        Where to write the result (shape of the reduction, result dtype).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    ndarray or scalar
        The reduction; a NumPy scalar when it is 0-d and ``out`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import logsumexp
    >>> float(logsumexp(np.array([0.0, 0.0])))
    0.6931471805599453
    >>> logsumexp(np.array([[1e4, 1e4], [0.0, -40.0]]), axis=1)
    array([1.00006931e+04, 4.24835426e-18])
    """
    arr, axis, compute, result = _prepare(x, axis)
    if axis is None or arr.ndim == 0:
        shape = (1,) * arr.ndim if keepdims else ()
    else:
        shape = arr.shape[:axis] + ((1,) if keepdims else ()) + arr.shape[axis + 1:]
    if out is not None:
        check_out(out, shape, result)
    nt = resolve(num_threads, arr.size)
    xr = _rows(arr, axis, compute)
    flat = None
    if (out is not None and out.dtype == compute and out.dtype.isnative
            and out.flags.c_contiguous and not np.may_share_memory(out, xr)):
        flat = out.reshape(-1)
    if flat is None:
        flat = np.empty(xr.shape[0], dtype=compute)
    if xr.shape[0]:
        _kernels.logsumexp(xr, flat, nt)
    if out is not None:
        if not np.shares_memory(flat, out):
            out[...] = flat.reshape(shape)
        return out
    res = flat.reshape(shape).astype(result, copy=False)
    return res[()] if res.ndim == 0 else res
