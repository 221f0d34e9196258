"""Argument checking and array preparation shared by the public functions.

Everything the compiled drivers must be able to assume is established here:
arrays that are C-contiguous, aligned, native-endian and of the compute dtype
(:func:`kernel_array`, the one gate every array handed to a driver passes),
2-D with the reduction axis last, and output buffers that do not partially
overlap the inputs.  The drivers themselves never validate.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import DTypeLike

from ._typing import Array, RowAxes

# Floating types the kernels compute in; float16 is computed in float32.
_COMPUTE: dict[np.dtype[Any], np.dtype[Any]] = {np.dtype(np.float32): np.dtype(np.float32),
            np.dtype(np.float64): np.dtype(np.float64),
            np.dtype(np.float16): np.dtype(np.float32)}


def as_array(x: object, name: str = "x") -> Array:
    """``np.asarray`` with the rejections NumPy itself would not make."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name}: masked arrays are not supported (the mask would be ignored); "
            "pass x.filled(...) or use the where= of a masked computation")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from None
    return arr


def float_dtypes(arr: Array, name: str = "x") -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(compute dtype, result dtype) for an input array, SciPy's rules.

    float32 -> float32, float64 -> float64, float16 -> computed in float32 and
    returned as float16, integers and bool -> float64.  Anything else raises.
    """
    dt = arr.dtype
    if dt.kind == "f":
        return _COMPUTE[_supported_float(dt, name)], dt.newbyteorder("=")
    if dt.kind in "iub":
        return np.dtype(np.float64), np.dtype(np.float64)
    if is_bfloat16(dt):
        raise TypeError(
            f"{name} has dtype bfloat16, which this function does not support (bfloat16 "
            "is read by the softmax family, the cross-entropy with class indices, the focal "
            "losses, the divergences, the gradient-boosting objectives and the softmax "
            "backwards): convert it with .astype(numpy.float32)")
    raise TypeError(
        f"{name} must have a real numeric dtype (float, int or bool), got {dt}")


def is_bfloat16(dt: np.dtype[Any]) -> bool:
    """Whether ``dt`` is ml_dtypes' bfloat16 (a 2-byte void-kind dtype of
    that name; ml_dtypes itself is never imported)."""
    return dt.kind == "V" and dt.itemsize == 2 and dt.name == "bfloat16"


def _supported_float(dt: np.dtype[Any], name: str) -> np.dtype[Any]:
    """The native form of a floating dtype the kernels support (else TypeError)."""
    native = dt.newbyteorder("=")
    if native not in _COMPUTE:
        raise TypeError(
            f"{name} has dtype {dt}, which is not supported: use float16, float32 or float64")
    return native


def real_array(value: object, name: str) -> Array:
    """An operand of a mixed-dtype computation (the linear layer's hidden,
    weight and bias): real numbers, floating ones of a supported type."""
    arr = as_array(value, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    if arr.dtype.kind == "f":
        _supported_float(arr.dtype, name)
    return arr


def promoted_float_dtypes(*arrays: Array) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(compute, result) dtypes of several operands (see :func:`real_array`):
    their promoted float type, integers and bool counting as float64,
    computed in float32 for float16 (as :func:`float_dtypes`)."""
    kinds = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in arrays]
    result = np.result_type(*kinds).newbyteorder("=")
    return _COMPUTE[result], result


def normalize_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """An int axis in range(ndim); negative values count from the end."""
    try:
        if isinstance(axis, (bool, np.bool_)):
            raise TypeError
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name} must be an integer or None, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise np.exceptions.AxisError(ax, ndim)
    return ax % ndim


def is_kernel_array(a: Array, dtype: DTypeLike) -> bool:
    """The drivers' rule for every array: C-contiguous, aligned, and of
    ``dtype`` (a native dtype, so native byte order too).  The small-input
    fast paths test it directly; everything else goes through
    :func:`kernel_array`."""
    flags = a.flags
    return a.dtype == dtype and flags.c_contiguous and flags.aligned


@overload
def kernel_array(a: Array, dtype: DTypeLike, *, writable: Literal[False] = False,
                 shape: tuple[int, ...] | None = None) -> Array: ...
@overload
def kernel_array(a: Array, dtype: DTypeLike, *, writable: bool,
                 shape: tuple[int, ...] | None = None) -> Array | None: ...
def kernel_array(a: Array, dtype: DTypeLike, *, writable: bool = False,
                 shape: tuple[int, ...] | None = None) -> Array | None:
    """``a`` as the compiled drivers require every array they are handed.

    The drivers use raw pointers into C-contiguous buffers of ``dtype``
    (float32 / float64, int64, a native dtype) and never check them; an
    unaligned buffer (a view at an odd byte offset, a field of a packed record
    array) would be accessed with misaligned loads and stores, undefined
    behaviour in C.  Every array handed to a driver is a return value of this
    function (or a slice of rows of one, which keeps these properties).

    An input (``writable=False``) is returned as it is when it is C-contiguous,
    aligned, native-endian and of ``dtype``, else as a copy that is.  An output
    (``writable=True``) is returned as it is when it qualifies, else None: the
    driver must then write into a fresh buffer that the caller copies back.
    ``shape``: reshape the result (a view) to this shape.
    """
    if not is_kernel_array(a, dtype):
        if writable:
            return None
        a = np.array(a, dtype=dtype, order="C")  # a fresh, aligned copy
    return a if shape is None else a.reshape(shape)


def moved_last(arr: Array, axes: RowAxes) -> tuple[Array, int, int]:
    """(view, rows, row length): ``arr`` with ``axes`` moved last.

    ``axes`` is an int, a tuple of ints (merged into one trailing axis in
    that order) or None (all axes); the other axes stay in front, in order.
    """
    if axes is None:
        axes = tuple(range(arr.ndim))
    elif not isinstance(axes, tuple):
        axes = (axes,)
    lead = [i for i in range(arr.ndim) if i not in axes]
    moved = arr.transpose(lead + list(axes))
    return (moved, math.prod(moved.shape[:len(lead)]),
            math.prod(moved.shape[len(lead):]))


def rows_view(arr: Array, axes: RowAxes, dtype: np.dtype[Any]) -> Array:
    """A (rows, n) kernel array of ``dtype`` with ``axes`` last (see
    :func:`moved_last`).  Copies only when it must."""
    moved, rows, n = moved_last(arr, axes)
    return kernel_array(moved, dtype, shape=(rows, n))


def check_out(out: object, shape: tuple[int, ...], dtype: np.dtype[Any],
              name: str = "out") -> Array:
    """Validate a user-supplied output array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def writable_rows(out: Array, axes: RowAxes, compute: np.dtype[Any]) -> Array | None:
    """The (rows, n) view of ``out`` (``axes`` last) the driver can write
    into, or None.

    None means the driver must write into a temporary that is then copied
    into ``out`` (non-contiguous layout, other dtype, non-native order, or
    unaligned).
    """
    moved, rows, n = moved_last(out, axes)
    return kernel_array(moved, compute, writable=True, shape=(rows, n))


def output_rows(out: Array, axes: RowAxes, compute: np.dtype[Any], inputs: tuple[Array, ...], *,
                in_place: bool = False) -> tuple[Array, bool]:
    """(rows buffer the driver writes, whether it is ``out`` itself).

    The driver writes straight into ``out``'s (rows, n) view (``axes`` last)
    when that is a kernel array sharing no memory with ``inputs`` -- or, with
    ``in_place``, being exactly the same elements as an input (``out=x``);
    otherwise into a temporary that :func:`copy_back` copies into ``out``.
    """
    rows = writable_rows(out, axes, compute)
    if rows is not None and not any(
            overlaps_partially(rows, a) if in_place else np.may_share_memory(rows, a)
            for a in inputs):
        return rows, True
    _, nrows, n = moved_last(out, axes)
    return np.empty((nrows, n), dtype=compute), False


def copy_back(buf: Array, out: Array, axes: RowAxes) -> None:
    """Copy the (rows, n) buffer into ``out`` (``axes`` last, see
    :func:`moved_last`)."""
    dst = moved_last(out, axes)[0]
    dst[...] = buf.reshape(dst.shape)


def overlaps_partially(a: Array, b: Array) -> bool:
    """True if a and b share memory but are not the very same elements in the
    same order (in-place operation is only safe for identical views)."""
    if not np.may_share_memory(a, b):
        return False
    same = (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides)
    return not same


REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: object) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {', '.join(repr(r) for r in REDUCTIONS)}; "
            f"got {reduction!r}")
    return reduction


def check_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not -2**63 <= v < 2**63:
        raise ValueError(f"{name} must fit in a 64-bit integer, got {v}")
    return v


def check_real(value: Any, name: str, *, min: float | None = None, above: float | None = None,
               max: float | None = None, below: float | None = None,
               what: str = "a real number", strict: bool = True) -> float:
    """``value`` as a float within bounds, or TypeError / ValueError.

    ``min`` / ``max`` are inclusive bounds, ``above`` / ``below`` exclusive
    ones.  With a lower bound only, the value must also be finite ("must be
    finite and > 0"); with both, it must lie in the interval ("must be in
    [0, 1]", which NaN and the infinities do not).  ``strict`` rejects bools,
    strings and bytes (which ``float()`` would accept) as not ``what``.
    """
    if strict and isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what}, got {value!r}") from None
    lo: Any  # every caller gives a lower bound
    lo, lo_open = (above, True) if above is not None else (min, False)
    hi, hi_open = (below, True) if below is not None else (max, False)
    if hi is None:
        ok = (v > lo if lo_open else v >= lo) and np.isfinite(v)
        if not ok:
            raise ValueError(f"{name} must be finite and {'>' if lo_open else '>='} {lo:g}, "
                             f"got {v}")
        return v
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ValueError(f"{name} must be in {'(' if lo_open else '['}{lo:g}, "
                         f"{hi:g}{')' if hi_open else ']'}, got {v}")
    return v


def check_temperature(value: object) -> float | None:
    """A softmax temperature: None (none) or a finite positive real."""
    if value is None:
        return None
    return check_real(value, "temperature", above=0.0, what="a positive real number")


def check_fraction(value: object, name: str) -> float:
    """A float in [0, 1] (label smoothing)."""
    return check_real(value, name, min=0.0, max=1.0, strict=False)


def check_class_weight(weight: object, n_classes: int, dtype: DTypeLike,
                       name: str = "weight") -> Array | None:
    """A (C,) kernel array of the compute dtype, or None."""
    if weight is None:
        return None
    w = as_array(weight, name)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {w.dtype}")
    if w.shape != (n_classes,):
        raise ValueError(
            f"{name} must have shape ({n_classes},) (one weight per class), got {w.shape}")
    return kernel_array(w, dtype)


def torch_layout_hint(target_shape: tuple[int, ...], shape: tuple[int, ...] | None,
                      batch_shape: tuple[int, ...]) -> str:
    """The end of a target-shape error when the target has the shape of
    torch's layout, class axis 1 (``(N, C, d1, ...)`` input, ``(N, d1, ...)``
    target), while another axis is the class axis: "" otherwise."""
    if (shape is not None and len(shape) >= 3 and tuple(target_shape) != batch_shape
            and tuple(target_shape) == shape[:1] + shape[2:]):
        return ("; the target fits torch's layout (N, C, d1, ...) with the classes "
                "on axis 1: pass axis=1")
    return ""


def check_target_shape(target: Array, batch_shape: tuple[int, ...],
                       name: str = "target", shape: tuple[int, ...] | None = None) -> None:
    """Class indices must have the input's shape without the class axis
    (``shape``: the input's, for the hint of :func:`torch_layout_hint`)."""
    if tuple(target.shape) != tuple(batch_shape):
        raise ValueError(
            f"{name} has shape {tuple(target.shape)}, expected {batch_shape} (the input's "
            "shape without the class axis) for class indices, or the input's own "
            "shape for class probabilities"
            + torch_layout_hint(tuple(target.shape), shape, tuple(batch_shape)))


def check_class_indices(target: Array, n_classes: int, ignore_index: int | None,
                        name: str = "target", offset: tuple[int, ...] | None = None) -> None:
    """Raise IndexError naming the first class index outside [0, n_classes)
    that is not ignore_index (None: no index is ignored).

    ``offset``: the position of ``target`` in a larger array (a Dask block),
    added to the position reported.
    """
    if target.size == 0:
        return
    bad = (target < 0) | (target >= n_classes)
    if bad.any() and ignore_index is not None:
        bad &= target != ignore_index
    if bad.any():
        raise bad_class_index(target, int(np.argmax(bad)), n_classes, ignore_index, name,
                              offset)


def bad_class_index(target: Array, flat_pos: int, n_classes: int, ignore_index: int | None,
                    name: str = "target", offset: tuple[int, ...] | None = None
                    ) -> IndexError:
    """The error for the bad class index at flat (C order) position
    ``flat_pos`` of ``target``, the first one (see
    :func:`check_class_indices`; a compiled scan finds it too)."""
    pos = np.unravel_index(flat_pos, target.shape)
    value = target[pos]
    if offset is not None:
        pos = tuple(p + s for p, s in zip(pos, offset))
    also = "" if ignore_index is None else f" and not ignore_index ({ignore_index})"
    return IndexError(
        f"{name}[{', '.join(map(str, pos))}] = {value} is not a class index in "
        f"[0, {n_classes}){also}")


def check_index_target(target: Array, batch_shape: tuple[int, ...], n_classes: int,
                       ignore_index: int | None, name: str = "target",
                       shape: tuple[int, ...] | None = None) -> None:
    """:func:`check_target_shape` and :func:`check_class_indices`."""
    check_target_shape(target, batch_shape, name, shape)
    check_class_indices(target, n_classes, ignore_index, name)


def check_broadcasts_to(shape: tuple[int, ...], target_shape: tuple[int, ...], name: str,
                        owner: str) -> None:
    """``name`` (of ``shape``) must broadcast to ``target_shape`` without
    enlarging it: the result has the shape of ``owner`` (e.g. "the input's")."""
    try:
        ok = np.broadcast_shapes(tuple(shape), tuple(target_shape)) == tuple(target_shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} of shape {tuple(shape)} does not broadcast to {owner} "
                         f"shape {tuple(target_shape)}")


def check_mask(where: Any, shape: tuple[int, ...], name: str = "where") -> None:
    """A boolean mask broadcastable to ``shape``; needs ``dtype`` and
    ``shape`` only, so a lazy (Dask) array works too."""
    if where.dtype.kind != "b":
        raise TypeError(f"{name} must be a boolean array, got dtype {where.dtype}")
    check_broadcasts_to(where.shape, shape, name, "the input's")


def is_index_target(target: Any, shape: tuple[int, ...], batch_shape: tuple[int, ...]) -> bool:
    """Classify a cross-entropy target by dtype and shape (values unchecked).

    True: integer class indices, shape ``batch_shape`` (the input's shape
    without the class axis).  False: floating class probabilities, the
    input's own ``shape``.  Anything else raises TypeError / ValueError
    naming both accepted shapes.  ``target`` needs ``dtype`` and ``shape``
    only, so a lazy (Dask) array works too.
    """
    dt, tshape = target.dtype, tuple(target.shape)
    if dt.kind in "iu":
        if tshape == shape and tshape != batch_shape:
            raise TypeError(
                f"target has an integer dtype ({dt}) and the input's shape {shape}: "
                "class probabilities must be floating (use target.astype(float)); "
                f"class indices must have shape {batch_shape}")
        if tshape != batch_shape:
            raise ValueError(
                f"target has shape {tshape}, expected {batch_shape} (the input's "
                "shape without the class axis) for class indices, or the input's own "
                "shape for class probabilities"
                + torch_layout_hint(tshape, tuple(shape), tuple(batch_shape)))
        return True
    if dt.kind == "f":
        if tshape != shape:
            if tshape == batch_shape:
                raise TypeError(
                    f"target has a floating dtype ({dt}) and the shape of class "
                    "indices; class indices must be integers (class probabilities "
                    f"must have the input's shape {shape})")
            raise ValueError(
                f"target has shape {tshape}; expected {shape} for class "
                f"probabilities or {batch_shape} for class indices")
        return False
    raise TypeError(
        "target must hold integer class indices or floating class probabilities, "
        f"got dtype {dt}")
