"""The softmax family's prepared problem: rows in, rows (or one value per row) out.

softmax, log_softmax and logsumexp reduce over one axis, over all elements,
or -- ``scipy.special``'s drop-in -- over a tuple of axes.  The in-memory
functions (:mod:`fastsoftmax.softmax`), the drop-in (:mod:`fastsoftmax.scipy`)
and the Dask blocks (:mod:`fastsoftmax.dask`) prepare such a call the same
way, with a :class:`RowsProblem`: the input as C-contiguous rows of the
compute dtype with the reduced axes last (merged into one), the buffer the
driver writes -- the result's own memory when it can, else a temporary --
and the copy back.  Arguments are validated by the callers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _halfprec
from ._driver import core
from ._halfprec import half_kind, row_kernel
from ._typing import Array, Kernel, RowAxes
from ._validation import copy_back, kernel_array, output_rows, rows_view


class RowsProblem:
    """A softmax-family computation over ``arr`` (a validated ndarray).

    ``axes``: None (all elements), an int (a 0-d or 1-d input is then one
    row: SciPy's rule), or a tuple of distinct ints, merged into one trailing
    axis in that order (``()``: every element is a row of one).  ``x`` is the
    (rows, n) kernel array of the ``compute`` dtype.
    """

    def __init__(self, arr: Array, axes: RowAxes, compute: np.dtype[Any],
                 kind: int | None = None) -> None:
        self.axes = None if arr.ndim <= 1 and not isinstance(axes, tuple) else axes
        self.compute = compute
        # 16-bit rows (the kernels read them), or None; ``kind`` given: ``arr``
        # holds the uint16 codes of that kind (torch bfloat16 tensors)
        self.kind = half_kind(compute) if kind is None else kind
        self.x = rows_view(arr, self.axes, compute)
        self.nrows, self.ncols = self.x.shape

    def output_rows(self, res: Array) -> tuple[Array, bool]:
        """(rows buffer, whether it is ``res`` itself) for an elementwise
        result ``res`` of the input's shape: ``res``'s own rows when they are
        a kernel array that is the input itself (in place) or does not overlap
        it, else a temporary for :meth:`copy_back`."""
        return output_rows(res, self.axes, self.compute, (self.x,), in_place=True)

    def copy_back(self, buf: Array, res: Array) -> None:
        copy_back(buf, res, self.axes)

    def elementwise(self, kernel: Kernel, res: Array, n_threads: int) -> Array:
        """``kernel`` (the softmax or log_softmax driver) over the rows, into
        ``res`` (the input's shape, any layout)."""
        buf, direct = self.output_rows(res)
        if self.kind is not None:
            kernel = row_kernel(kernel, self.kind)
        kernel(self.x, buf, n_threads)
        if not direct:
            self.copy_back(buf, res)
        return res

    def logsumexp(self, out: Array | None, n_threads: int) -> Array:
        """The rows' logsumexp, (rows,) of the compute dtype: written into
        ``out`` (nrows elements, or None) when it is a kernel array that does
        not share memory with the input, else into a new array."""
        flat = None
        if out is not None and not np.may_share_memory(out, self.x):
            flat = kernel_array(out, self.compute, writable=True, shape=(-1,))
        if flat is None:
            flat = np.empty(self.nrows, dtype=self.compute)
        if self.nrows and self.kind is not None:
            _halfprec.logsumexp(self.x, flat, self.kind, n_threads)
        elif self.nrows:
            core.logsumexp(self.x, flat, n_threads)
        return flat
