"""The backward passes of softmax and log_softmax (PyTorch's
``_softmax_backward_data`` and ``_log_softmax_backward_data``).

Given the forward output ``y`` and the gradient ``g`` of a loss with respect
to it, the gradient with respect to the forward input, along one axis, in two
compiled passes over each row (a sum, then the elementwise result), for a
hand-written backward pass or an autograd function built on
:func:`fastsoftmax.softmax`.
"""
from __future__ import annotations

from typing import Callable, SupportsIndex

from numpy.typing import ArrayLike

from . import _pool
from ._driver import core
from ._halfprec import is_staged, operand, promoted_dtypes, real_half_array, staged_dtype
from ._threads import resolve
from ._typing import Array, FloatArray
from ._validation import check_out, copy_back, normalize_axis, output_rows, rows_view

__all__ = ["softmax_backward", "log_softmax_backward"]

#: A backward driver of fastsoftmax._core: ``kernel(grad_rows, output_rows, out, n_threads)``.
_BackwardKernel = Callable[[Array, Array, Array, int], None]


def _backward(kernel: _BackwardKernel, grad_output: ArrayLike, output: ArrayLike,
              axis: SupportsIndex, out: Array | None,
              num_threads: SupportsIndex | None) -> FloatArray:
    g = real_half_array(grad_output, "grad_output")
    y = real_half_array(output, "output")
    if y.shape != g.shape:
        raise ValueError(f"output has shape {y.shape}, expected {g.shape} (the shape of "
                         "grad_output)")
    compute, result = promoted_dtypes(g, y)
    ax = normalize_axis(axis, max(g.ndim, 1))
    axes = None if g.ndim <= 1 else ax   # a 0-d or 1-d input is one row
    res = _pool.empty(g.shape, result) if out is None else check_out(out, g.shape, result)
    # 16-bit operands: read (and the result written) as 16-bit codes, chunk
    # by chunk through float32 scratch
    staged = is_staged(compute, g, y)
    gx = rows_view(g, axes, staged_dtype(g.dtype, compute) if staged else compute)
    yx = rows_view(y, axes, staged_dtype(y.dtype, compute) if staged else compute)
    nt = resolve(num_threads, gx.size)
    if gx.size:
        rows_dtype = staged_dtype(result, compute) if staged else compute
        buf, direct = output_rows(res, axes, rows_dtype, (gx, yx), in_place=True)
        if staged:
            (go, gk), (yo, yk), (oo, ok) = operand(gx), operand(yx), operand(buf)
            core.backward_staged(kernel is core.log_softmax_backward, go, gk, yo, yk, oo, ok,
                                 nt)
        else:
            kernel(gx, yx, buf, nt)
        if not direct:
            copy_back(buf, res, axes)
    return res


def softmax_backward(grad_output: ArrayLike, output: ArrayLike, *, axis: SupportsIndex = -1,
                     out: Array | None = None,
                     num_threads: SupportsIndex | None = None) -> FloatArray:
    """Gradient of a loss with respect to the input of :func:`softmax`.

    ``out = output * (grad_output - sum(grad_output * output, axis))``, with
    ``output`` the softmax (the forward result) and ``grad_output`` the
    gradient with respect to it: PyTorch's ``_softmax_backward_data``.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the softmax output; float16/32/64 or
        integer.
    output : array_like
        The softmax output, the shape of ``grad_output``.
    axis : int, optional
        The axis the softmax normalised (default: the last).
    out : ndarray, optional
        Where to write the result (the shape and result dtype); may be
        ``grad_output`` or ``output`` itself (in place).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    ndarray
        The shape of the inputs (a 0-d array for 0-d inputs); their promoted
        float dtype (float16 is computed in float32 and returned as float16;
        integers give float64).  bfloat16 promotes as float16 does (with
        itself: bfloat16; with float16 or float32: float32).
        float16 and bfloat16 operands are read directly (computed in float32
        chunk by chunk, no float32 copy): the answer is bitwise that of their
        float32 values, each array result rounded once to the 16-bit type
        (see docs/semantics.md, 16-bit input).

    Notes
    -----
    The sum is accumulated in double.  Special values follow from the
    arithmetic, as in PyTorch: a NaN (or an ``inf * 0``) in a slice's
    ``grad_output * output`` makes that whole slice NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import softmax, softmax_backward
    >>> y = softmax(np.array([1.0, 2.0, 3.0]))
    >>> softmax_backward(np.array([0.0, 0.0, 1.0]), y).round(6)
    array([-0.059892, -0.162803,  0.222695])
    """
    return _backward(core.softmax_backward, grad_output, output, axis, out, num_threads)


def log_softmax_backward(grad_output: ArrayLike, output: ArrayLike, *,
                         axis: SupportsIndex = -1, out: Array | None = None,
                         num_threads: SupportsIndex | None = None) -> FloatArray:
    """Gradient of a loss with respect to the input of :func:`log_softmax`.

    ``out = grad_output - exp(output) * sum(grad_output, axis)``, with
    ``output`` the log-softmax (the forward result): PyTorch's
    ``_log_softmax_backward_data``.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the log-softmax output.
    output : array_like
        The log-softmax output, the shape of ``grad_output``.
    axis : int, optional
        The axis the log-softmax normalised (default: the last).
    out : ndarray, optional
        Where to write the result; may be ``grad_output`` or ``output``
        itself (in place).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    ndarray
        As :func:`softmax_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import log_softmax, log_softmax_backward
    >>> y = log_softmax(np.array([1.0, 2.0, 3.0]))
    >>> log_softmax_backward(np.array([0.0, 0.0, -1.0]), y).round(6)
    array([ 0.090031,  0.244728, -0.334759])
    """
    return _backward(core.log_softmax_backward, grad_output, output, axis, out, num_threads)
