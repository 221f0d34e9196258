"""Type aliases shared by the modules' annotations (private).

Run-time valid on every supported Python (``typing.Union``, not ``|``, in
the aliases themselves); the annotations use them under
``from __future__ import annotations``.
"""
from __future__ import annotations

from typing import Any, Callable, Literal, SupportsIndex, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["Array", "FloatArray", "FloatScalar", "Float", "Int", "Axis", "Axes",
           "RowAxes", "Reduced", "Kernel"]

#: Any ndarray (the validated inputs and outputs of the private helpers).
Array = NDArray[Any]
#: Public results: the float dtype depends on the input's, known at run time.
FloatArray = NDArray[np.floating[Any]]
FloatScalar = np.floating[Any]
#: The floating types the kernels return unchanged.
Float = TypeVar("Float", np.float16, np.float32, np.float64)
#: Inputs computed in float64.
Int = Union[np.integer[Any], np.bool_]
#: One axis or none (all elements).
Axis = Union[SupportsIndex, None]
#: scipy.special's axis: one, several or all.
Axes = Union[SupportsIndex, tuple[SupportsIndex, ...], None]
#: Validated axes of a rows problem: one, several (in order) or all.
RowAxes = Union[int, tuple[int, ...], None]
#: The reductions that give a scalar loss.
Reduced = Literal["mean", "sum"]
#: A row driver of fastsoftmax._core: ``kernel(rows, out, n_threads)``.
Kernel = Callable[[Array, Array, int], None]
