"""16-bit floating input (float16, bfloat16) read directly by the kernels.

softmax, log_softmax, logsumexp (without ``where`` / ``temperature``) and
the fused cross-entropy with class-index targets (without ``softcap``) hand
float16 and bfloat16 rows to 16-bit drivers as their raw 16-bit codes
(``uint16`` views): each chunk of rows is converted to float32 in a
per-thread scratch block, computed by the float32 kernel and rounded once
(round to nearest even) into the 16-bit output, so no float32 copy of the
input or output exists.  bfloat16 is ``ml_dtypes.bfloat16`` (recognised by
its dtype, without importing ml_dtypes); every other function keeps today's
route for float16 (a float32 copy) and rejects bfloat16 with a TypeError.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._driver import core
from ._typing import Array
from ._validation import is_bfloat16

__all__ = ["BFLOAT16", "FLOAT16", "half_kind", "is_bfloat16", "row_kernel", "codes"]

FLOAT16 = 0   # the drivers' kind argument
BFLOAT16 = 1
_U16 = np.dtype(np.uint16)
_F16 = np.dtype(np.float16)


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
