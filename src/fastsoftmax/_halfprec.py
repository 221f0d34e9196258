"""16-bit floating input (float16, bfloat16) read directly by the kernels.

softmax, log_softmax, logsumexp (without ``where`` / ``temperature``) and
the fused cross-entropy with class-index targets (without ``softcap``) hand
float16 and bfloat16 rows to 16-bit drivers as their raw 16-bit codes
(``uint16`` views): each chunk of rows is converted to float32 in a
per-thread scratch block, computed by the float32 kernel and rounded once
(round to nearest even) into the 16-bit output, so no float32 copy of the
input or output exists.  bfloat16 is ``ml_dtypes.bfloat16`` (recognised by
its dtype, without importing ml_dtypes).

The staged functions (``STAGED``) take the same route through their
``*_staged`` drivers: every floating operand is a float32 array or the codes
of a 16-bit one (:func:`operand`), each chunk of the float32 driver is
widened into float32 scratch, computed by the float32 kernel and its array
results rounded into 16-bit outputs.  Their dtype rule: the primary operand
(the logits, ``input``, the student's logits, ``x``) fixes the computation
and result dtypes exactly as for float32 and float64 (a 16-bit primary
computes in float32); the other floating operands are converted to that
computation dtype, 16-bit ones read directly when it is float32.  Results:
float16 as the float32-copy route always gave (float16 arrays and scalars);
bfloat16 arrays (gradients, hessians, "none" losses) in bfloat16 -- the
float32 results rounded once -- and reduced losses as float32 scalars.
Every other function keeps the float32 copy for float16 and rejects
bfloat16 with a TypeError.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._driver import core
from ._typing import Array
from ._validation import (as_array, float_dtypes, is_bfloat16, kernel_array,
                          promoted_float_dtypes, real_array)

__all__ = ["BFLOAT16", "FLOAT16", "F32_OPERAND", "STAGED", "half_kind", "is_bfloat16",
           "row_kernel", "codes", "operand", "scalar_dtype", "per_sample", "staged_dtype"]

FLOAT16 = 0   # the drivers' kind argument
BFLOAT16 = 1
F32_OPERAND = -1   # the staged drivers' kind of a float32 operand
_U16 = np.dtype(np.uint16)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)

# The public functions that read 16-bit operands through the staged drivers.
STAGED = ("focal_loss", "focal_loss_and_grad", "kl_div", "distillation_loss",
          "distillation_loss_and_grad", "cross_entropy_gradient_hessian",
          "binary_cross_entropy_gradient_hessian", "softmax_backward",
          "log_softmax_backward", "sigmoid_focal_loss", "sigmoid_focal_loss_and_grad")


def half_kind(dt: np.dtype[Any]) -> int | None:
    """The 16-bit drivers' kind for dtype ``dt`` (float16 of either byte
    order, bfloat16), or None."""
    if dt.kind == "f" and dt.itemsize == 2:
        return FLOAT16
    if is_bfloat16(dt):
        return BFLOAT16
    return None


def native(dt: np.dtype[Any]) -> np.dtype[Any]:
    """The native-order form of a 16-bit dtype (what the drivers read)."""
    return _F16 if dt.kind == "f" else dt


def codes(a: Array) -> Array:
    """The 16-bit codes of a (native, C-contiguous) 16-bit array."""
    return a.view(_U16)


_ROW_DRIVERS: dict[Any, Callable[..., Any]] = {
    core.softmax: core.softmax_half, core.log_softmax: core.log_softmax_half}


def row_kernel(kernel: Callable[..., Any], kind: int) -> Callable[[Array, Array, int], None]:
    """The 16-bit driver of ``kernel`` (core.softmax or core.log_softmax) for
    16-bit rows of ``kind``, with the float drivers' (x, out, n_threads)."""
    driver = _ROW_DRIVERS[kernel]

    def run(x: Array, out: Array, n_threads: int) -> None:
        driver(codes(x), codes(out), kind, n_threads)
    return run


def logsumexp(x: Array, out: Array, kind: int, n_threads: int) -> None:
    """The rows' logsumexp of 16-bit rows ``x`` into ``out`` (same dtype)."""
    core.logsumexp_half(codes(x), codes(out), kind, n_threads)


def operand(a: Array) -> tuple[Array, int]:
    """(what a staged driver reads, its kind) for a kernel array ``a``:
    float32 as it is (kind F32_OPERAND), 16-bit as its codes."""
    kind = half_kind(a.dtype)
    return (a, F32_OPERAND) if kind is None else (codes(a), kind)


def staged_dtype(dt: np.dtype[Any], compute: np.dtype[Any]) -> np.dtype[Any]:
    """The buffer dtype of a staged driver's operand or output of dtype
    ``dt`` computed in ``compute`` (float32): its native 16-bit dtype, else
    ``compute``."""
    return native(dt) if half_kind(dt) is not None else compute


def scalar_dtype(result: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of a reduced loss of result dtype ``result``: float32 for
    bfloat16 (as the bfloat16 cross-entropy's), else ``result``."""
    return _F32 if is_bfloat16(result) else result


def per_sample(values: Array, result: np.dtype[Any]) -> Array:
    """Per-sample losses computed in float64 as the result dtype: bfloat16
    as the float32 values rounded once (the float32 computation's result,
    rounded), float16 directly (as the float32-copy route always has)."""
    with np.errstate(over="ignore"):  # a loss beyond the type's range: inf
        if is_bfloat16(result):
            return values.astype(_F32).astype(result)
        return values.astype(result)


def dtypes(arr: Array, name: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(compute, result) dtypes of a staged function's primary operand:
    :func:`~fastsoftmax._validation.float_dtypes`, bfloat16 computing in
    float32 with result bfloat16."""
    if is_bfloat16(arr.dtype):
        return _F32, arr.dtype
    return float_dtypes(arr, name)


def is_staged(compute: np.dtype[Any], *arrays: Array) -> bool:
    """Whether a computation in ``compute`` takes the staged route: float32
    with at least one 16-bit operand."""
    return compute == _F32 and any(half_kind(a.dtype) is not None for a in arrays)


def staged_operand(a: Array, compute: np.dtype[Any],
                   shape: tuple[int, ...] | None = None) -> tuple[Array, int]:
    """:func:`operand` of a secondary operand converted to the computation
    dtype ``compute`` (float32): a 16-bit array as its codes (a 16-bit copy
    only when it is not a kernel array), anything else as float32."""
    if half_kind(a.dtype) is not None:
        return operand(kernel_array(a, native(a.dtype), shape=shape))
    return kernel_array(a, compute, shape=shape), F32_OPERAND


def secondary(a: Array, compute: np.dtype[Any], shape: tuple[int, ...] | None = None) -> Array:
    """A secondary operand for the float32/float64 route: converted to
    ``compute`` (16-bit values widen exactly)."""
    return kernel_array(a, compute, shape=shape)


def real_half_array(value: object, name: str) -> Array:
    """:func:`~fastsoftmax._validation.real_array`, bfloat16 accepted."""
    arr = as_array(value, name)
    return arr if is_bfloat16(arr.dtype) else real_array(arr, name)


def promoted_dtypes(*arrays: Array) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(compute, result) dtypes of operands promoted together
    (:func:`~fastsoftmax._validation.promoted_float_dtypes`), bfloat16
    promoting as float16 does: with itself only it stays bfloat16 (computed
    in float32); with float16 it gives float32, with wider types theirs."""
    bf = [is_bfloat16(a.dtype) for a in arrays]
    if not any(bf):
        return promoted_float_dtypes(*arrays)
    stand_in = [np.empty(0, _F16) if b else a for a, b in zip(arrays, bf)]
    compute, result = promoted_float_dtypes(*stand_in)
    if result == _F16:
        return _F32, (arrays[0].dtype if all(bf) else _F32)
    return compute, result
