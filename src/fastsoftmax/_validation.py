"""Argument checking and array preparation shared by the public functions.

Everything the compiled kernels must be able to assume is established here:
a native-endian float32/float64 array, C-contiguous, 2-D with the reduction
axis last, and an output buffer of the right dtype that does not partially
overlap the input.  The kernels themselves never validate.
"""
from __future__ import annotations

import operator

import numpy as np

# Floating types the kernels compute in; float16 is computed in float32.
_COMPUTE = {np.dtype(np.float32): np.dtype(np.float32),
            np.dtype(np.float64): np.dtype(np.float64),
            np.dtype(np.float16): np.dtype(np.float32)}


def as_array(x, name: str = "x") -> np.ndarray:
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


def float_dtypes(arr: np.ndarray, name: str = "x") -> tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) for an input array, SciPy's rules.

    float32 -> float32, float64 -> float64, float16 -> computed in float32 and
    returned as float16, integers and bool -> float64.  Anything else raises.
    """
    dt = arr.dtype
    if dt.kind == "f":
        native = dt.newbyteorder("=")
        if native in _COMPUTE:
            return _COMPUTE[native], native
        raise TypeError(
            f"{name} has dtype {dt}, which is not supported: use float16, float32 or float64")
    if dt.kind in "iub":
        return np.dtype(np.float64), np.dtype(np.float64)
    raise TypeError(
        f"{name} must have a real numeric dtype (float, int or bool), got {dt}")


def normalize_axis(axis, ndim: int, name: str = "axis") -> int:
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


def rows_view(arr: np.ndarray, axis: int, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous (rows, n) array of ``dtype`` with ``axis`` last.

    Copies only when it must: when the moved array is not already contiguous
    native data of the compute dtype.
    """
    moved = np.moveaxis(arr, axis, -1)
    n = moved.shape[-1]
    rows = int(np.prod(moved.shape[:-1], dtype=np.int64))
    out = np.ascontiguousarray(moved, dtype=dtype)
    return out.reshape(rows, n)


def check_out(out, shape: tuple, dtype: np.dtype, name: str = "out") -> np.ndarray:
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


def writable_rows(out: np.ndarray, axis: int, compute: np.dtype):
    """The (rows, n) view of ``out`` the kernel can write into, or None.

    None means the kernel must write into a temporary that is then copied
    into ``out`` (non-contiguous layout, other dtype, or non-native order).
    """
    if out.dtype != compute or not out.dtype.isnative:
        return None
    moved = np.moveaxis(out, axis, -1) if out.ndim else out.reshape(1)
    if not moved.flags.c_contiguous:
        return None
    if not moved.ndim:
        return moved
    rows = int(np.prod(moved.shape[:-1], dtype=np.int64))  # -1 fails for 0 columns
    return moved.reshape(rows, moved.shape[-1])


def overlaps_partially(a: np.ndarray, b: np.ndarray) -> bool:
    """True if a and b share memory but are not the very same elements in the
    same order (in-place operation is only safe for identical views)."""
    if not np.may_share_memory(a, b):
        return False
    same = (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides)
    return not same


REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {', '.join(repr(r) for r in REDUCTIONS)}; "
            f"got {reduction!r}")
    return reduction


def check_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not -2**63 <= v < 2**63:
        raise ValueError(f"{name} must fit in a 64-bit integer, got {v}")
    return v


def check_fraction(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v


def check_class_weight(weight, n_classes: int, dtype: np.dtype, name: str = "weight"):
    """A contiguous (C,) array of the compute dtype, or None."""
    if weight is None:
        return None
    w = as_array(weight, name)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {w.dtype}")
    if w.shape != (n_classes,):
        raise ValueError(
            f"{name} must have shape ({n_classes},) (one weight per class), got {w.shape}")
    return np.ascontiguousarray(w, dtype=dtype)


def check_index_target(target: np.ndarray, batch_shape: tuple, n_classes: int,
                       ignore_index: int | None, name: str = "target") -> None:
    """Raise IndexError naming the first class index outside [0, n_classes)
    that is not ignore_index (None: no index is ignored)."""
    if target.shape != batch_shape:
        raise ValueError(
            f"{name} has shape {target.shape}, expected {batch_shape} (the input's "
            "shape without the class axis) for class indices, or the input's own "
            "shape for class probabilities")
    if target.size == 0:
        return
    bad = (target < 0) | (target >= n_classes)
    if bad.any() and ignore_index is not None:
        bad &= target != ignore_index
    if bad.any():
        pos = np.unravel_index(int(np.argmax(bad)), target.shape)
        value = target[pos]
        also = "" if ignore_index is None else f" and not ignore_index ({ignore_index})"
        raise IndexError(
            f"{name}[{', '.join(map(str, pos))}] = {value} is not a class index in "
            f"[0, {n_classes}){also}")


def is_index_target(target, shape: tuple, batch_shape: tuple) -> bool:
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
                "shape for class probabilities")
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
