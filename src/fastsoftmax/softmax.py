"""softmax, log_softmax and logsumexp over one axis (SciPy semantics)."""
from __future__ import annotations

from typing import Any, Callable, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _pool, _threads
from ._driver import core
from ._halfprec import half_kind, native
from ._rows import RowsProblem
from ._threads import resolve
from ._typing import Array, Axis, Float, Int, Kernel, RowAxes
from ._validation import (as_array, check_mask, check_out, check_temperature, float_dtypes,
                          is_kernel_array, moved_last, normalize_axis)

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _prepare(x: ArrayLike, axis: Axis, half: bool = False
             ) -> tuple[Array, int | None, np.dtype[Any], np.dtype[Any]]:
    """(array, axis, compute dtype, result dtype) with axis an int or None.

    A 0-d input is treated as a vector of one element (as SciPy does).
    ``half``: float16 and bfloat16 input keep their dtype as the compute
    dtype (the kernels read it, :mod:`._halfprec`)."""
    arr = as_array(x)
    if half and half_kind(arr.dtype) is not None:
        compute = result = native(arr.dtype)
    else:
        compute, result = float_dtypes(arr)
    if axis is not None:
        axis = normalize_axis(axis, max(arr.ndim, 1))
    return arr, axis, compute, result


_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _elementwise(kernel: Kernel, small_op: int, x: ArrayLike, axis: Axis, out: Array | None,
                 num_threads: SupportsIndex | None) -> Any:
    # Fast path, small C-contiguous native float32/64 along the last axis:
    # the general checks below cost ~9 us, far more than the kernel, and
    # core.small_rows reads the buffers without the memoryview drivers' cost.
    if (out is None and (num_threads is None or _threads.valid_count(num_threads))
            and type(x) is np.ndarray
            and type(axis) is int and x.dtype in _FAST_DTYPES and x.ndim
            and (axis == -1 or axis == x.ndim - 1) and is_kernel_array(x, x.dtype)
            and 0 < x.size < _threads.PARALLEL_MIN_ELEMENTS):
        res = np.empty_like(x)  # fresh: a kernel array too
        core.small_rows(small_op, x, res)
        return res
    arr, axis, compute, result = _prepare(x, axis, half=True)
    if out is None:
        res = _pool.empty(arr.shape, result)
    else:
        res = check_out(out, arr.shape, result)
    nt = resolve(num_threads, arr.size)  # validates num_threads even with no work
    if arr.size:
        RowsProblem(arr, axis, compute).elementwise(kernel, res, nt)
    if out is None and res.ndim == 0:
        return res[()]
    return res


# Rows the where= / temperature= path prepares at a time (about this many
# bytes), so its temporaries are chunk-sized.
_PREP_CHUNK_BYTES = 16 << 20

_NEG_INF_BITS: dict[np.dtype[Any], Array] = {
    np.dtype(np.float32): np.array(-np.inf, np.float32).view(np.int32),
    np.dtype(np.float64): np.array(-np.inf, np.float64).view(np.int64)}


def _fill_masked(dst: Array, keep: Array) -> None:
    """``dst[~keep] = -inf`` for a float32/64 ``dst`` (rows, n), with bit
    operations: about 4x faster than ``np.copyto(..., where=)``, which has no
    SIMD loop.  Whatever the masked entries held (NaN, inf) is overwritten.
    Column blocks keep the integer temporary chunk-sized for long rows."""
    ibits = _NEG_INF_BITS[dst.dtype]
    step = max(1, _PREP_CHUNK_BYTES // max(1, dst.shape[0] * dst.itemsize))
    for c0 in range(0, dst.shape[1], step):
        bits = dst[:, c0:c0 + step].view(ibits.dtype)
        m = keep[:, c0:c0 + step].astype(ibits.dtype)  # 1 keep / 0 masked
        np.negative(m, out=m)                 # all ones / zero
        np.bitwise_and(bits, m, out=bits)     # masked entries -> +0.0
        np.invert(m, out=m)                   # zero / all ones
        np.bitwise_and(m, ibits, out=m)       # 0 / bits of -inf
        np.bitwise_or(bits, m, out=bits)


def _mask_rows(where: ArrayLike, shape: tuple[int, ...], axes: RowAxes, nrows: int,
               ncols: int) -> Callable[[int, int], Array]:
    """``f(r0, r1)`` -> the (r1 - r0, ncols) boolean rows of ``where``
    broadcast to ``shape``, in the row order of :class:`RowsProblem`."""
    m = as_array(where, "where")
    check_mask(m, shape)
    m = np.broadcast_to(m, shape)
    if axes is None:
        flat = m.reshape(1, -1)
        return lambda r0, r1: flat[r0:r1]
    moved = moved_last(m, axes)[0]
    try:  # a view when the broadcast strides allow it (the usual cases)
        flat = np.reshape(moved, (nrows, ncols), copy=False)
        return lambda r0, r1: flat[r0:r1]
    except (TypeError, ValueError):
        lead = moved.shape[:-1]
        return lambda r0, r1: moved[np.unravel_index(np.arange(r0, r1), lead)]


def _masked_elementwise(kernel: Kernel, fill: float, x: ArrayLike, axis: Axis,
                        out: Array | None, num_threads: SupportsIndex | None,
                        where: ArrayLike | None, temperature: float | None) -> Any:
    """softmax / log_softmax of ``x / temperature`` with the entries where
    ``where`` is False set to -inf, row chunk by row chunk; rows with no True
    entry become ``fill``."""
    arr, axis, compute, result = _prepare(x, axis)
    temperature = check_temperature(temperature)
    res = _pool.empty(arr.shape, result) if out is None else check_out(out, arr.shape, result)
    nt = resolve(num_threads, arr.size)
    p = RowsProblem(arr, axis, compute)
    xr, nrows, ncols = p.x, p.nrows, p.ncols
    mask_rows = (None if where is None
                 else _mask_rows(where, arr.shape, p.axes, nrows, ncols))
    if arr.size == 0:
        return res
    buf, direct = p.output_rows(res)
    # the input is prepared chunk by chunk into the output (x / temperature,
    # masked entries -inf), then normalised in place by one kernel call (one
    # parallel region: cheap even when the CPUs are oversubscribed)
    step = max(1, _PREP_CHUNK_BYTES // (ncols * xr.itemsize))
    empty = []
    for r0 in range(0, nrows, step):
        r1 = min(r0 + step, nrows)
        src, dst = xr[r0:r1], buf[r0:r1]
        if temperature is not None:
            np.divide(src, temperature, out=dst)
        elif not np.shares_memory(src, dst):
            np.copyto(dst, src)
        if mask_rows is not None:
            keep = mask_rows(r0, r1)
            _fill_masked(dst, keep)
            empty.append(r0 + np.flatnonzero(~keep.any(axis=1)))
    kernel(buf, buf, nt)
    if empty:
        buf[np.concatenate(empty)] = fill  # rows with no True entry
    if not direct:
        p.copy_back(buf, res)
    if out is None and res.ndim == 0:
        return res[()]
    return res


@overload
def softmax(x: NDArray[Float], axis: Axis = -1, *, out: NDArray[Float] | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> NDArray[Float]: ...
@overload
def softmax(x: NDArray[Int], axis: Axis = -1, *, out: NDArray[np.float64] | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> Any: ...
def softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> Any:
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
    where : array_like of bool, optional
        Mask broadcastable to ``x``: only the entries where it is True take
        part; the others get probability 0 (even if they hold NaN or inf).
        A slice with no True entry gives all zeros, not NaN.
    temperature : float, optional
        Positive: computes ``softmax(x / temperature)``.

    Returns
    -------
    ndarray
        Same shape as ``x``; dtype of ``x`` for floating input, else float64.

    Notes
    -----
    ``where`` and ``temperature`` are applied to chunks of about 16 MB of
    rows staged in the output, which is then normalised in place, so they add
    no input-sized temporary (except where the plain function also needs one:
    float16, or an output of another layout; and with ``axis=None`` a
    broadcast mask is copied, one byte per element).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import softmax
    >>> softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softmax(np.array([[1000.0, 1000.0], [0.0, -np.inf]]), axis=1)
    array([[0.5, 0.5],
           [1. , 0. ]])
    >>> softmax(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    ...         where=np.array([[True, True, False], [False, False, False]]))
    array([[0.26894142, 0.73105858, 0.        ],
           [0.        , 0.        , 0.        ]])
    >>> softmax(np.array([1.0, 2.0, 3.0]), temperature=2.0)
    array([0.18632372, 0.30719589, 0.50648039])
    """
    if where is None and temperature is None:
        return _elementwise(core.softmax, core.ROW_SOFTMAX, x, axis, out, num_threads)
    return _masked_elementwise(core.softmax, 0.0, x, axis, out, num_threads, where,
                               temperature)


@overload
def log_softmax(x: NDArray[Float], axis: Axis = -1, *, out: NDArray[Float] | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> NDArray[Float]: ...
@overload
def log_softmax(x: NDArray[Int], axis: Axis = -1, *, out: NDArray[np.float64] | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def log_softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> Any: ...
def log_softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> Any:
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
    where : array_like of bool, optional
        Mask broadcastable to ``x``: only the entries where it is True take
        part; the others get -inf.  A slice with no True entry is all -inf
        (the log of the all-zero row :func:`softmax` gives), not NaN.
    temperature : float, optional
        Positive: computes ``log_softmax(x / temperature)``.

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
    >>> log_softmax(np.array([1.0, 1.0, 5.0]), where=np.array([True, True, False]))
    array([-0.69314718, -0.69314718,        -inf])
    """
    if where is None and temperature is None:
        return _elementwise(core.log_softmax, core.ROW_LOG_SOFTMAX, x, axis, out, num_threads)
    return _masked_elementwise(core.log_softmax, -np.inf, x, axis, out, num_threads,
                               where, temperature)


# axis=None without keepdims and out: always a scalar
@overload
def logsumexp(x: NDArray[Float], axis: None, *, keepdims: Literal[False] = False,
              out: None = None, num_threads: SupportsIndex | None = None) -> Float: ...
@overload
def logsumexp(x: NDArray[Int], axis: None, *, keepdims: Literal[False] = False,
              out: None = None, num_threads: SupportsIndex | None = None) -> np.float64: ...
@overload
def logsumexp(x: ArrayLike, axis: Axis = -1, *, keepdims: bool = False,
              out: Array | None = None, num_threads: SupportsIndex | None = None) -> Any: ...
def logsumexp(x: ArrayLike, axis: Axis = -1, *, keepdims: bool = False,
              out: Array | None = None, num_threads: SupportsIndex | None = None) -> Any:
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
    if (out is None and (num_threads is None or _threads.valid_count(num_threads))
            and not keepdims and type(x) is np.ndarray
            and type(axis) is int and x.dtype in _FAST_DTYPES and x.ndim
            and (axis == -1 or axis == x.ndim - 1) and is_kernel_array(x, x.dtype)
            and 0 < x.size < _threads.PARALLEL_MIN_ELEMENTS):   # as in _elementwise
        res = np.empty(x.shape[:-1], dtype=x.dtype)
        core.small_rows(core.ROW_LOGSUMEXP, x, res)
        return res[()] if res.ndim == 0 else res
    arr, axis, compute, result = _prepare(x, axis, half=True)
    if axis is None or arr.ndim == 0:
        shape = (1,) * arr.ndim if keepdims else ()
    else:
        shape = arr.shape[:axis] + ((1,) if keepdims else ()) + arr.shape[axis + 1:]
    if out is not None:
        check_out(out, shape, result)
    nt = resolve(num_threads, arr.size)
    flat = RowsProblem(arr, axis, compute).logsumexp(out, nt)
    if out is not None:
        if not np.shares_memory(flat, out):
            out[...] = flat.reshape(shape)
        return out
    res = flat.reshape(shape).astype(result, copy=False)
    return res[()] if res.ndim == 0 else res
