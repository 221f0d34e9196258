"""Drop-in replacements for ``scipy.special``'s softmax family and logistic functions.

Change one import and keep the rest of the code::

    from fastsoftmax import scipy as special     # was: from scipy import special

    special.softmax(x, axis=1)
    special.logsumexp(x, axis=-1, keepdims=True)

The five functions have exactly the signatures and defaults of SciPy 1.17
(note ``axis=None``, "all elements", is SciPy's default, unlike the
``axis=-1`` of :func:`fastsoftmax.softmax`) and return the same shapes,
dtypes and values.  The compiled kernels do the work wherever they apply:

* ``softmax``, ``log_softmax``, ``logsumexp``: real input (float16/32/64,
  integers, and bool for ``logsumexp``) with ``axis`` None, an int or a tuple
  of ints (the axes are moved last and merged into one);
  ``logsumexp(..., return_sign=True)`` too.
* ``expit``, ``log_expit``: real input with at most ``out=``.

Everything else is handed to SciPy itself, imported at call time (never at
import): ``logsumexp``'s ``b=`` weights, complex and longdouble input, object
and string arrays, the other ufunc keywords of ``expit`` / ``log_expit``
(``where``, ``casting``, ``order``, ``dtype``, ``subok``, ``signature``),
ndarray subclasses and ``__array_ufunc__`` containers given to those two, and
non-NumPy arrays (which SciPy may return in their own namespace).  Without
SciPy installed, such calls raise ``NotImplementedError`` (``TypeError`` for
dtypes SciPy would reject as well) saying what is missing -- except non-NumPy
arrays given to the softmax family, which are then converted with
``np.asarray``, as SciPy does by default.

Deliberate differences from SciPy 1.17 -- all either more accurate or where
SciPy fails:

* No ``RuntimeWarning`` for special values (SciPy's ``softmax`` warns
  "invalid value encountered in subtract" for +inf), and ``np.errstate``
  does not turn them into ``FloatingPointError``.  The values are SciPy's.
* Integer input to ``softmax`` / ``log_softmax`` is converted to the result
  dtype (SciPy's: float16 for 8-bit, float32 for 16-bit, else float64)
  before the maximum is subtracted.  SciPy subtracts in the integer type,
  which wraps around for unsigned integers and wide signed ranges and gives
  NaN or -inf; values agree wherever SciPy's integer arithmetic does not
  overflow.
* float16 input to the softmax family is computed in float32 and rounded
  once (SciPy rounds every float16 operation): results may differ in the
  last float16 bit.  float16 and bfloat16 (``ml_dtypes``) are read by the
  kernels directly, without a float32 copy.
* ``log_softmax`` is computed as ``(x - max) - log1p(sum of the others)``,
  more accurate than SciPy's ``log(sum)`` when the result is near 0.
* ``expit`` keeps subnormal results (``expit(-720.0)`` is ``2e-313``) where
  SciPy's underflows to 0.
* ``logsumexp`` of an empty array of two or more dimensions with ``axis``
  None or a tuple returns ``-inf``; SciPy 1.17 raises ``IndexError`` (and
  with ``axis=()`` returns an array of the wrong shape).
* ``expit`` and ``log_expit`` are functions, not ``numpy.ufunc`` objects:
  no ``.reduce`` / ``.outer`` / ``.at`` / ``.types`` attributes.

Examples
--------
>>> import numpy as np
>>> from fastsoftmax import scipy as special
>>> special.softmax(np.array([[1.0, 2.0], [3.0, 4.0]]))        # axis=None: all elements
array([[0.0320586 , 0.08714432],
       [0.23688282, 0.64391426]])
>>> float(special.logsumexp(np.arange(10)))
9.45862974442671
"""
from __future__ import annotations

from typing import Any, Callable, Literal, TypeVar, Union, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _pool
from ._driver import core
from ._rows import RowsProblem
from ._threads import resolve
from ._typing import Array, Axes, Int as _Int, Kernel, RowAxes
from ._halfprec import half_kind, native
from ._validation import float_dtypes, is_bfloat16, normalize_axis
from .sigmoid import log_sigmoid as _fs_log_sigmoid
from .sigmoid import sigmoid as _fs_sigmoid
from .softmax import log_softmax as _fs_log_softmax
from .softmax import logsumexp as _fs_logsumexp
from .softmax import softmax as _fs_softmax

__all__ = ["softmax", "log_softmax", "logsumexp", "expit", "log_expit"]

# dtypes returned unchanged (complex and longdouble are computed by SciPy)
_I = TypeVar("_I", bound=np.inexact[Any])
_ArrayT = TypeVar("_ArrayT", bound=NDArray[Any])
_Casting = Literal["no", "equiv", "safe", "same_kind", "unsafe"]
_Order = Union[Literal["K", "A", "C", "F"], None]
# expit's loops: float32 -> float32, float64 -> float64 (longdouble -> longdouble
# too, but NumPy types longdouble with a platform-dependent precision that
# overlaps float16: it takes the general overload); float16 and integers are
# computed in float64 (there is no float16 loop)
_L = TypeVar("_L", np.float32, np.float64)

# dtype.char of the floating types the kernels take (longdouble 'g' is not one
# of them, even where it is 64 bits wide).
_KERNEL_FLOATS = "efd"
# np.exp's result dtype for integer input, by item size: what SciPy's softmax
# and log_softmax return for integers.
_EXP_OF_INT: dict[int, np.dtype[Any]] = {1: np.dtype(np.float16), 2: np.dtype(np.float32)}
_FLOAT64 = np.dtype(np.float64)


# ------------------------------------------------------------------ helpers

def _scipy_special(func: str, why: str | None, unsupported_type: bool = False) -> Any:
    """``scipy.special``, imported now; a clear error if SciPy is missing.

    ``unsupported_type``: raise TypeError instead of NotImplementedError (the
    input is of a kind SciPy itself would reject)."""
    try:
        import scipy.special
    except ImportError:
        msg = (f"fastsoftmax.scipy.{func}: {why} is not handled by fastsoftmax's "
               "kernels; such calls are passed to SciPy, which is not installed "
               "(pip install scipy)")
        raise (TypeError if unsupported_type else NotImplementedError)(msg) from None
    return scipy.special


def _scipy_if_installed() -> Any:
    try:
        import scipy.special
    except ImportError:
        return None
    return scipy.special


def _is_numpy_input(x: object) -> bool:
    """Input SciPy turns into a NumPy array (ndarray and its subclasses, NumPy
    and Python scalars, nested lists).  Anything else may be an array of
    another library, which SciPy can return in its own namespace."""
    return isinstance(x, (np.ndarray, np.generic, int, float, complex, list, tuple))


def _is_plain_for_ufunc(x: object) -> bool:
    """Input a ufunc converts to a plain ndarray, with no subclass to keep and
    no ``__array_ufunc__`` override to dispatch to."""
    if type(x) is np.ndarray or isinstance(x, (np.generic, int, float, complex, list, tuple)):
        return True
    return not isinstance(x, np.ndarray) and not hasattr(type(x), "__array_ufunc__")


def _delegated_kind(dt: np.dtype[Any]) -> bool:
    """True if SciPy computes this dtype (an exception without SciPy would be
    NotImplementedError); False if SciPy rejects it too (TypeError)."""
    return dt.kind in "fc"


def _axes(axis: Any, ndim: int) -> RowAxes:
    """None, an int in range(ndim), or a sorted tuple of distinct axes.

    SciPy (through NumPy's reductions) accepts None, an integer or a tuple of
    integers; a list or a bool is a TypeError, a repeated axis a ValueError."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        axes = [normalize_axis(a, ndim) for a in axis]
        if len(set(axes)) != len(axes):
            raise ValueError("duplicate value in 'axis'")
        return tuple(sorted(axes))
    return normalize_axis(axis, ndim)


def _reduced_over(arr: Array, axes: tuple[int, ...], kernel: Kernel | None = None) -> Array:
    """softmax / log_softmax (``kernel``: the driver) of ``arr`` over the
    tuple of ``axes`` merged into one, or (``kernel`` None) its logsumexp, of
    the shape of the axes kept."""
    if half_kind(arr.dtype) is not None:  # float16, bfloat16: the kernels read them
        compute = result = native(arr.dtype)
    else:
        compute, result = float_dtypes(arr)
    p = RowsProblem(arr, axes, compute)
    nt = resolve(None, arr.size)
    if kernel is not None:
        return p.elementwise(kernel, _pool.empty(arr.shape, result), nt)  # C order
    kept = tuple(n for i, n in enumerate(arr.shape) if i not in axes)
    return p.logsumexp(None, nt).reshape(kept).astype(result, copy=False)


# ------------------------------------------------------------------ softmax family

def _softmax_family(name: str, kernel: Callable[..., Any], x: ArrayLike, axis: Axes) -> Any:
    """``kernel``: the fastsoftmax function; ``getattr(core, name)`` the driver
    (for a tuple of axes)."""
    if not _is_numpy_input(x):
        sp = _scipy_if_installed()
        if sp is not None:
            return getattr(sp, name)(x, axis=axis)
    arr = np.asarray(x)  # as SciPy: a masked array's mask is ignored
    dt = arr.dtype
    if dt.char in _KERNEL_FLOATS or is_bfloat16(dt):
        work, rdt = arr, dt.newbyteorder("=")
    elif dt.kind in "iu":
        rdt = _EXP_OF_INT.get(dt.itemsize, _FLOAT64)
        work = arr if rdt == _FLOAT64 else arr.astype(rdt)  # the kernels: ints in float64
    elif dt.kind == "b":
        # SciPy fails only after taking the maximum: axis errors come first
        if arr.size == 0:
            np.max(arr, axis=axis, keepdims=True)
        _axes(axis, arr.ndim if isinstance(axis, tuple) else max(arr.ndim, 1))
        raise TypeError(
            f"fastsoftmax.scipy.{name}: boolean input is not supported, as in "
            "scipy.special (NumPy has no boolean subtract); convert it with "
            "x.astype(float)")
    else:
        sp = _scipy_special(name, f"input of dtype {dt}", not _delegated_kind(dt))
        return getattr(sp, name)(arr, axis=axis)

    if work.size == 0:
        # SciPy takes the maximum first: NumPy's errors for an empty reduction
        # and for a bad axis, exactly.  Cheap: the array is empty.
        np.max(work, axis=axis, keepdims=True)
        return np.empty(work.shape, dtype=rdt)

    # NumPy's reductions take an int axis 0 or -1 for a 0-d array, but no
    # tuple other than ()
    axes = _axes(axis, work.ndim if isinstance(axis, tuple) else max(work.ndim, 1))
    if axes is None or isinstance(axes, int):
        return kernel(work, axis=axes)
    if work.ndim == 0 or len(axes) == work.ndim:
        return kernel(work, axis=None)
    if len(axes) == 1:
        return kernel(work, axis=axes[0])
    return _reduced_over(work, axes, getattr(core, name))


@overload
def softmax(x: NDArray[_I], axis: Axes = None) -> NDArray[_I]: ...
@overload
def softmax(x: NDArray[np.integer[Any]], axis: Axes = None) -> NDArray[np.floating[Any]]: ...
@overload
def softmax(x: ArrayLike, axis: Axes = None) -> Any: ...
def softmax(x: ArrayLike, axis: Axes = None) -> Any:
    r"""Softmax over all elements or along axes: ``exp(x) / sum(exp(x))``.

    Drop-in for :func:`scipy.special.softmax`, computed by the compiled
    kernels (SciPy is used only for complex and longdouble input).

    Parameters
    ----------
    x : array_like
        Input array.
    axis : int or tuple of ints, optional
        Axis or axes to compute values along.  Default is None: the softmax is
        computed over the entire array ``x``.

    Returns
    -------
    s : ndarray
        An array the same shape as ``x``; it sums to 1 along ``axis``.  A 0-d
        input gives a NumPy scalar.

    Notes
    -----
    An empty reduction raises ``ValueError``, as in SciPy.  A slice holding
    NaN or +inf, or only -inf, is all NaN, as in SciPy (without its
    ``RuntimeWarning``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax.scipy import softmax
    >>> x = np.array([[1, 0.5, 0.2, 3],
    ...               [1,  -1,   7, 3],
    ...               [2,  12,  13, 3]])
    >>> float(softmax(x).sum())
    1.0
    >>> softmax(x, axis=1).round(5)
    array([[1.0588e-01, 6.4220e-02, 4.7570e-02, 7.8233e-01],
           [2.4300e-03, 3.3000e-04, 9.7931e-01, 1.7940e-02],
           [1.0000e-05, 2.6893e-01, 7.3103e-01, 3.0000e-05]])
    >>> softmax(x, axis=(0, 1)).shape
    (3, 4)
    """
    return _softmax_family("softmax", _fs_softmax, x, axis)


@overload
def log_softmax(x: NDArray[_I], axis: Axes = None) -> NDArray[_I]: ...
@overload
def log_softmax(x: NDArray[np.integer[Any]], axis: Axes = None) -> NDArray[np.floating[Any]]: ...
@overload
def log_softmax(x: ArrayLike, axis: Axes = None) -> Any: ...
def log_softmax(x: ArrayLike, axis: Axes = None) -> Any:
    r"""Logarithm of the softmax, accurate where ``log(softmax(x))`` underflows.

    Drop-in for :func:`scipy.special.log_softmax`.

    Parameters
    ----------
    x : array_like
        Input array.
    axis : int or tuple of ints, optional
        Axis or axes to compute values along.  Default is None: the whole
        array.

    Returns
    -------
    s : ndarray or scalar
        An array with the same shape as ``x``; its exponential sums to 1 along
        ``axis``.  A scalar for a 0-d input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax.scipy import log_softmax
    >>> log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    >>> float(log_softmax(2.5))
    0.0
    """
    return _softmax_family("log_softmax", _fs_log_softmax, x, axis)


# all elements, no keepdims: a scalar
@overload
def logsumexp(a: NDArray[_I], axis: None = None, b: None = None, keepdims: Literal[False] = False,
              return_sign: Literal[False] = False) -> _I: ...
@overload
def logsumexp(a: NDArray[_Int], axis: None = None, b: None = None, keepdims: Literal[False] = False,
              return_sign: Literal[False] = False) -> np.float64: ...
@overload
def logsumexp(a: ArrayLike, axis: Axes = None, b: ArrayLike | None = None, keepdims: bool = False,
              *, return_sign: Literal[True]) -> tuple[Any, Any]: ...
@overload
def logsumexp(a: ArrayLike, axis: Axes = None, b: ArrayLike | None = None, keepdims: bool = False,
              return_sign: bool = False) -> Any: ...
def logsumexp(a: ArrayLike, axis: Axes = None, b: ArrayLike | None = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """Log of the sum of exponentials of the elements, without overflow.

    Drop-in for :func:`scipy.special.logsumexp`; computed by the compiled
    kernels except for the weights ``b`` and complex or longdouble input,
    which are passed to SciPy.

    Parameters
    ----------
    a : array_like
        Input array.
    axis : None or int or tuple of ints, optional
        Axis or axes over which the sum is taken.  Default is None: all
        elements.
    b : array_like, optional
        Scaling factors for ``exp(a)``, broadcastable to ``a`` (may be
        negative).  Needs SciPy.
    keepdims : bool, optional
        Keep the reduced axes as dimensions of length one.
    return_sign : bool, optional
        Also return the sign of the sum (1, 0 for a sum of 0, NaN for NaN;
        -1 for an empty array, as SciPy).

    Returns
    -------
    res : ndarray or scalar
        ``log(sum(exp(a)))`` (``log(sum(b * exp(a)))``), NaN where that sum is
        negative and ``return_sign`` is False.  ``-inf`` for an empty axis.
    sgn : ndarray or scalar
        The sign, if ``return_sign`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax.scipy import logsumexp
    >>> a = np.arange(10)
    >>> float(logsumexp(a))
    9.45862974442671
    >>> logsumexp(np.array([[1e10, 1e-10], [-1e10, -np.inf]]), axis=-1)
    array([ 1.e+10, -1.e+10])
    >>> res, sgn = logsumexp(np.array([0.0, -np.inf]), return_sign=True)
    >>> float(res), float(sgn)
    (0.0, 1.0)
    """
    if b is not None:
        sp = _scipy_special("logsumexp", "b= (weights)")
        return sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    if not _is_numpy_input(a):
        sp = _scipy_if_installed()
        if sp is not None:
            return sp.logsumexp(a, axis=axis, keepdims=keepdims, return_sign=return_sign)
    arr = np.asarray(a)
    dt = arr.dtype
    if not (dt.char in _KERNEL_FLOATS or dt.kind in "iub" or is_bfloat16(dt)):
        sp = _scipy_special("logsumexp", f"input of dtype {dt}", not _delegated_kind(dt))
        return sp.logsumexp(arr, axis=axis, keepdims=keepdims, return_sign=return_sign)
    if arr.ndim == 0:
        arr = arr.reshape(1)  # SciPy works on at least 1-d arrays
    axes = _axes(axis, arr.ndim)
    if isinstance(axes, tuple):
        if len(axes) == arr.ndim:
            axes = None
        elif len(axes) == 1:
            axes = axes[0]
    if axes is None or isinstance(axes, int):
        res = _fs_logsumexp(arr, axis=axes, keepdims=keepdims)
    else:
        res = _reduced_over(arr, axes)
        if keepdims:
            res = res.reshape(tuple(1 if i in axes else n for i, n in enumerate(arr.shape)))
    if not return_sign:
        return res
    r = np.asarray(res)
    if arr.size == 0:
        sgn = np.sign(r)  # SciPy's empty-input branch: the sign of -inf, -1
    else:
        sgn = np.where(np.isnan(r), r, np.where(r == -np.inf, 0, 1)).astype(r.dtype, copy=False)
    return res, (sgn[()] if sgn.ndim == 0 else sgn)


# ------------------------------------------------------------------ logistic

_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "dtype": None,
                   "subok": True, "signature": None}


def _logistic(name: str, kernel: Callable[..., Any], x: ArrayLike, out: Any,
              kwargs: dict[str, Any]) -> Any:
    """expit / log_expit: the fast path for plain calls, SciPy's ufunc otherwise."""
    extra = {k: v for k, v in kwargs.items()
             if not (v is _UFUNC_DEFAULTS[k] or (k in ("casting", "order") and
                                                 v == _UFUNC_DEFAULTS[k]))}
    target = out[0] if isinstance(out, tuple) and len(out) == 1 else out
    why = None
    if extra:
        why = f"the ufunc keyword(s) {', '.join(sorted(extra))}"
    elif not _is_plain_for_ufunc(x):
        why = f"input of type {type(x).__name__} (kept by the ufunc)"
    elif target is not None and type(target) is not np.ndarray:
        why = f"out of type {type(target).__name__}"
    else:
        arr = np.asarray(x)
        dt = arr.dtype
        if dt.char in "fd":
            work = arr
        elif dt.char == "e" or dt.kind in "iub":
            work = arr.astype(np.float64)  # the ufunc's 'd->d' loop
        else:
            work = None
            why = f"input of dtype {dt}"
            if dt.kind != "f":  # complex, object, ...: SciPy's ufunc rejects them too
                return getattr(_scipy_special(name, why, True), name)(x, out=out)
        if work is not None:
            value = kernel(work)
            if target is None:
                return value
            np.copyto(target, value, casting="same_kind")
            return target
    sp = _scipy_special(name, why)
    return getattr(sp, name)(x, out=out, **extra)


@overload
def expit(x: NDArray[_L], /, out: None = None, *, where: Literal[True] = True,
          casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
          subok: bool = True, signature: None = None) -> NDArray[_L]: ...
@overload
def expit(x: NDArray[_Int], /, out: None = None, *, where: Literal[True] = True,
          casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
          subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def expit(x: NDArray[np.float16], /, out: None = None, *, where: Literal[True] = True,
          casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
          subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def expit(x: ArrayLike, /, out: _ArrayT | tuple[_ArrayT], *, where: ArrayLike = True,
          casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None,
          subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> _ArrayT: ...
@overload
def expit(x: ArrayLike, /, out: None = None, *, where: ArrayLike = True,
          casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None,
          subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> Any: ...
def expit(x: ArrayLike, /, out: Any = None, *, where: ArrayLike = True, casting: str = "same_kind",
          order: str | None = "K", dtype: DTypeLike | None = None, subok: bool = True,
          signature: str | tuple[Any, ...] | None = None) -> Any:
    """Logistic sigmoid ``1 / (1 + exp(-x))``; drop-in for :func:`scipy.special.expit`.

    Same signature as the ufunc.  Plain calls (an array, scalar or list, and
    optionally ``out=`` an ndarray, or a 1-tuple of one, of any dtype the
    result casts to with ``casting="same_kind"``, broadcasting as a ufunc)
    are computed by :func:`fastsoftmax.sigmoid`; the other keywords, ndarray
    subclasses, ``__array_ufunc__`` containers and longdouble input are
    passed to ``scipy.special.expit``.

    Result dtypes are the ufunc's: float32 for float32 input, float64 for
    float64, float16, integers and bool.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax.scipy import expit
    >>> expit(np.array([-np.inf, -1.5, 0.0, 1.5, np.inf]))
    array([0.        , 0.18242552, 0.5       , 0.81757448, 1.        ])
    >>> expit(np.array([0.0, 1.0], dtype=np.float32)).dtype
    dtype('float32')
    >>> buf = np.empty(2)
    >>> expit([0.0, 100.0], out=buf) is buf
    True
    """
    return _logistic("expit", _fs_sigmoid, x, out,
                     {"where": where, "casting": casting, "order": order, "dtype": dtype,
                      "subok": subok, "signature": signature})


@overload
def log_expit(x: NDArray[_L], /, out: None = None, *, where: Literal[True] = True,
              casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
              subok: bool = True, signature: None = None) -> NDArray[_L]: ...
@overload
def log_expit(x: NDArray[_Int], /, out: None = None, *, where: Literal[True] = True,
              casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
              subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def log_expit(x: NDArray[np.float16], /, out: None = None, *, where: Literal[True] = True,
              casting: _Casting = "same_kind", order: _Order = "K", dtype: None = None,
              subok: bool = True, signature: None = None) -> NDArray[np.float64]: ...
@overload
def log_expit(x: ArrayLike, /, out: _ArrayT | tuple[_ArrayT], *, where: ArrayLike = True,
              casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None,
              subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> _ArrayT: ...
@overload
def log_expit(x: ArrayLike, /, out: None = None, *, where: ArrayLike = True,
              casting: _Casting = "same_kind", order: _Order = "K", dtype: DTypeLike | None = None,
              subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> Any: ...
def log_expit(x: ArrayLike, /, out: Any = None, *, where: ArrayLike = True,
              casting: str = "same_kind", order: str | None = "K", dtype: DTypeLike | None = None,
              subok: bool = True, signature: str | tuple[Any, ...] | None = None) -> Any:
    """``log(expit(x))``, accurate for large ``|x|``; drop-in for
    :func:`scipy.special.log_expit`.

    Same signature, dtypes and dispatch as :func:`expit`; plain calls are
    computed by :func:`fastsoftmax.log_sigmoid`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax.scipy import log_expit
    >>> log_expit(np.array([-1000.0, 0.0, 1000.0]))
    array([-1.00000000e+03, -6.93147181e-01, -0.00000000e+00])
    """
    return _logistic("log_expit", _fs_log_sigmoid, x, out,
                     {"where": where, "casting": casting, "order": order, "dtype": dtype,
                      "subok": subok, "signature": signature})
