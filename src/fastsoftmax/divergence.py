"""Divergence losses: the Kullback-Leibler divergence and knowledge distillation.

``kl_div`` is ``torch.nn.functional.kl_div``: one compiled pass computes the
elementwise term and its double-precision sum.  ``distillation_loss`` and
``distillation_loss_and_grad`` are Hinton-style distillation, the torch
expression ::

    alpha * F.cross_entropy(s, y, ignore_index=ignore_index)
        + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, dim=1),
                                        F.softmax(t / T, dim=1),
                                        reduction="batchmean")

fused into one sweep over each row of student and teacher logits (maxima,
the three sums of exponentials, the KL sum), and, for the gradient, one more
sweep from cache.  No N x C temporary.  Definitions and special values:
docs/semantics.md.
"""
from __future__ import annotations

import math
from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _pool
from ._crossentropy import IndexTargets, logits_array
from ._driver import core
from ._halfprec import (F32_OPERAND, is_staged, operand, scalar_dtype, secondary, staged_dtype,
                        staged_operand)
from ._halfprec import dtypes as half_dtypes
from ._reduction import reduced_loss
from ._threads import resolve
from ._typing import Array, FloatArray, FloatScalar
from ._validation import (as_array, check_int, check_out, check_real, check_target_shape,
                          copy_back, is_bfloat16, kernel_array, normalize_axis, output_rows,
                          rows_view)

__all__ = ["kl_div", "distillation_loss", "distillation_loss_and_grad"]

KL_REDUCTIONS = ("none", "mean", "sum", "batchmean")

KLReduced = Literal["mean", "sum", "batchmean"]


def _check_kl_reduction(reduction: object) -> str:
    if reduction not in KL_REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {', '.join(repr(r) for r in KL_REDUCTIONS)}; "
            f"got {reduction!r}")
    assert isinstance(reduction, str)
    return reduction


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _same_shape(arr: Array, other: object, name: str, owner: str) -> Array:
    """``other`` as an array of real numbers (bfloat16 included) with ``arr``'s shape."""
    o = as_array(other, name)
    if o.dtype.kind not in "fiub" and not is_bfloat16(o.dtype):
        raise TypeError(f"{name} must be real numbers, got dtype {o.dtype}")
    if o.shape != arr.shape:
        raise ValueError(f"{name} has shape {o.shape}, expected {arr.shape} (the shape of "
                         f"{owner})")
    return o


@overload
def kl_div(input: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
           reduction: KLReduced = "mean", log_target: bool = False,
           num_threads: SupportsIndex | None = None) -> FloatScalar: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
           reduction: Literal["none"], log_target: bool = False,
           num_threads: SupportsIndex | None = None) -> FloatArray: ...
@overload
def kl_div(input: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
           reduction: str = "mean", log_target: bool = False,
           num_threads: SupportsIndex | None = None) -> Any: ...
def kl_div(input: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
           reduction: str = "mean", log_target: bool = False,
           num_threads: SupportsIndex | None = None) -> Any:
    """Kullback-Leibler divergence of ``target`` from ``exp(input)``, torch's way.

    ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities, the
    pointwise loss is ``xlogy(target, target) - target * input`` (with
    ``log_target``, ``target`` holds log-probabilities too and the loss is
    ``exp(target) * (target - input)``), reduced.  One compiled pass computes
    the terms and their sum in double precision.

    Parameters
    ----------
    input : array_like
        Log-probabilities, any shape.
    target : array_like
        Probabilities (or log-probabilities with ``log_target``), real
        numbers of ``input``'s shape; converted to ``input``'s float type.
    axis : int, optional
        The class axis, used by "batchmean" only (default: last).
    reduction : {"mean", "sum", "batchmean", "none"}, optional
        "mean" divides the sum by the number of elements (as torch; the KL
        divergence per distribution is "batchmean"), "batchmean" by the
        number of distributions: the product of the dimensions other than
        ``axis`` (for 2-D input with classes last, ``input.shape[0]``, as
        torch).  "none": the pointwise losses, ``input``'s shape.
    log_target : bool, optional
        Whether ``target`` holds log-probabilities.
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of ``input``'s float dtype (float64 for integers), or
        the pointwise losses for ``reduction="none"``.
        float16 and bfloat16 ``input`` and ``target`` are read directly
        (computed in float32 chunk by chunk, no float32 copy): the answer is
        bitwise that of their float32 values, each array result rounded once to
        the 16-bit type; bfloat16 gives pointwise losses in bfloat16 and reduced
        losses as float32 scalars, float16 float16 results (see
        docs/semantics.md, 16-bit input).

    Notes
    -----
    Special values are torch's: a target of 0 gives 0 where ``input`` is
    finite and NaN where it is infinite (``0 * inf``); a negative or NaN
    target gives NaN; with ``log_target`` a target of -inf gives NaN
    (``0 * inf``).  float32 terms are computed in double and rounded once.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import kl_div, log_softmax
    >>> logq = log_softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    >>> p = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]])
    >>> round(float(kl_div(logq, p, reduction="batchmean")), 6)
    0.241709
    >>> kl_div(logq, p, reduction="none").round(4)
    array([[ 0.1596,  0.0611, -0.1428],
           [ 0.2027,  0.2027,  0.    ]])
    >>> round(float(kl_div(logq[:1], np.log(p[:1]), reduction="sum", log_target=True)), 6)
    0.077953
    """
    arr = as_array(input, "input")
    compute, result = half_dtypes(arr, "input")
    tarr = _same_shape(arr, target, "target", "input")
    reduction = _check_kl_reduction(reduction)
    log_target = _check_bool(log_target, "log_target")
    if axis is None:
        raise TypeError("axis must be an integer, got None (batchmean needs one class axis)")
    ax = normalize_axis(axis, max(arr.ndim, 1))
    n_threads = resolve(num_threads, arr.size)
    if is_staged(compute, arr, tarr):
        # 16-bit operands read as codes, chunk by chunk through float32 scratch
        xo, xk = staged_operand(arr, compute, (-1,))
        to, tk = staged_operand(tarr, compute, (-1,))
        out = _pool.empty(arr.shape, staged_dtype(result, compute)) if reduction == "none" else None
        oo, ok = (None, F32_OPERAND) if out is None else operand(out.reshape(-1))
        total = core.kl_div_staged(xo, xk, to, tk, oo, ok, log_target=log_target,
                                   n_threads=n_threads)
        if out is not None:
            return out
    else:
        x = kernel_array(arr, compute, shape=(-1,))
        t = secondary(tarr, compute, (-1,))
        if reduction == "none":
            out = _pool.empty(arr.shape, compute)
            core.kl_div(x, t, out.reshape(-1), log_target=log_target, n_threads=n_threads)
            return out.astype(result, copy=False)
        total = core.kl_div(x, t, None, log_target=log_target, n_threads=n_threads)
    result = scalar_dtype(result)
    if reduction == "sum":
        return reduced_loss(total, None, "sum", result)
    if reduction == "mean":
        denominator = float(arr.size)
    else:  # batchmean: the number of distributions (1 for a 0-d input)
        denominator = float(math.prod(n for i, n in enumerate(arr.shape) if i != ax))
    return reduced_loss(total, denominator, "mean", result)


def _check_finite(value: object, name: str) -> float:
    """A finite real number (bools and strings rejected)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _distillation(student_logits: ArrayLike, teacher_logits: ArrayLike, temperature: object,
                  target: ArrayLike | None, alpha: object, ignore_index: object,
                  axis: SupportsIndex, num_threads: SupportsIndex | None, want_grad: bool,
                  grad_out: Array | None = None) -> Any:
    arr, ax, compute, result = logits_array(student_logits, axis, "student_logits", half=True)
    tarr = _same_shape(arr, teacher_logits, "teacher_logits", "student_logits")
    temp = check_real(temperature, "temperature", above=0.0, what="a positive real number")
    a = _check_finite(alpha, "alpha")
    ign = check_int(ignore_index, "ignore_index")
    n_classes = arr.shape[ax]
    batch_shape = arr.shape[:ax] + arr.shape[ax + 1:]
    nrows = math.prod(batch_shape)
    targets = None
    if target is not None:
        y = as_array(target, "target")
        if y.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class indices, got dtype {y.dtype}")
        check_target_shape(y, batch_shape)
        targets = IndexTargets(y, n_classes, ign)
    grad = None
    if want_grad:
        grad = (_pool.empty(arr.shape, result) if grad_out is None
                else check_out(grad_out, arr.shape, result, "grad_out"))
    n_valid = targets.kept.size if targets is not None else 0
    kl_coef = (1.0 - a) if targets is not None else 1.0
    ce_scale = a / n_valid if targets is not None and n_valid else 0.0
    kl_scale = kl_coef * temp / nrows if nrows else 0.0
    yrows = targets.rows() if targets is not None else None
    n_threads = resolve(num_threads, 2 * arr.size)
    if is_staged(compute, arr, tarr):
        # 16-bit logits read as codes (the gradient written as the student's
        # 16-bit type), chunk by chunk through float32 scratch
        s = rows_view(arr, ax, staged_dtype(arr.dtype, compute))
        t = rows_view(tarr, ax, staged_dtype(tarr.dtype, compute))
        gbuf, direct = ((None, True) if grad is None
                        else output_rows(grad, ax, staged_dtype(result, compute), (s, t)))
        so, sk = operand(s)
        to, tk = operand(t)
        go, gk = (None, F32_OPERAND) if gbuf is None else operand(gbuf)
        ce_sum, kl_sum = core.distill_staged(
            so, sk, to, tk, yrows, ignore_index=ign, inv_temperature=1.0 / temp,
            ce_scale=ce_scale, kl_scale=kl_scale, grad=go, grad_kind=gk, n_threads=n_threads)
    else:
        s = rows_view(arr, ax, compute)
        t = rows_view(tarr, ax, compute)
        gbuf, direct = (None, True) if grad is None else output_rows(grad, ax, compute, (s, t))
        ce_sum, kl_sum = core.distill(
            s, t, yrows, ignore_index=ign, inv_temperature=1.0 / temp, ce_scale=ce_scale,
            kl_scale=kl_scale, grad=gbuf, n_threads=n_threads)
    if not direct:
        assert gbuf is not None and grad is not None
        copy_back(gbuf, grad, ax)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kl = np.float64(kl_sum) / np.float64(nrows)
        if targets is None:
            value = temp ** 2 * kl
        else:
            ce = np.float64(ce_sum) / np.float64(n_valid)
            value = a * ce + (1.0 - a) * temp ** 2 * kl
        loss = reduced_loss(float(value), None, "sum", scalar_dtype(result))
    return (loss, grad) if want_grad else loss


def distillation_loss(student_logits: ArrayLike, teacher_logits: ArrayLike, *,
                      temperature: float = 1.0, target: ArrayLike | None = None,
                      alpha: float = 0.5, ignore_index: SupportsIndex = -100,
                      axis: SupportsIndex = -1,
                      num_threads: SupportsIndex | None = None) -> FloatScalar:
    """Knowledge-distillation loss of student logits against teacher logits.

    With class-index targets ``y``, the torch expression ::

        alpha * F.cross_entropy(s, y, ignore_index=ignore_index)
            + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, dim=1),
                                            F.softmax(t / T, dim=1),
                                            reduction="batchmean")

    (``s``, ``t`` the student's and teacher's logits, ``T`` the temperature);
    without targets only the soft term ``T**2 * kl_div(...)`` (``alpha``
    unused).  Computed in one fused compiled sweep per row, no N x C
    temporary.

    Parameters
    ----------
    student_logits : array_like
        Unnormalised scores, shape ``(..., C, ...)`` with classes along ``axis``.
    teacher_logits : array_like
        Real numbers of the same shape; converted to the student's float type.
    temperature : float, optional
        Finite and > 0 (default 1).  Applies to the soft term only: the
        cross-entropy uses the raw student logits.
    target : array_like, optional
        Integer class indices, the shape of ``student_logits`` without
        ``axis``; None (default): no cross-entropy term.
    alpha : float, optional
        Weight of the cross-entropy term; the soft term has ``1 - alpha``.
        Any finite real (as torch: not restricted to [0, 1]).
    ignore_index : int, optional
        Samples with this target have no cross-entropy term; the
        cross-entropy's mean divides by the number of the others.  The soft
        term still counts every sample ("batchmean" knows no ignored ones).
    axis : int, optional
        The class axis (default: last).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    loss : scalar
        A NumPy scalar of the student's float dtype (float64 for integers).
        float16 and bfloat16 student and teacher logits are read directly
        (computed in float32 chunk by chunk, no float32 copy): the answer is
        bitwise that of their float32 values, each array result rounded once to
        the 16-bit type; bfloat16 gives the gradient in bfloat16 and reduced
        losses as float32 scalars, float16 float16 results (see
        docs/semantics.md, 16-bit input).

    Notes
    -----
    "batchmean" divides by the number of samples, the product of the
    dimensions other than ``axis`` (``N`` for ``(N, C)`` logits, as torch).
    Special values follow torch's composition: a sample whose student or
    teacher logits hold a NaN, a +inf or only -inf makes the loss NaN; a -inf
    student logit makes it +inf where the teacher's probability is positive
    and NaN where it is 0.  Every target ignored: NaN (torch's 0 / 0).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import distillation_loss
    >>> s = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> t = np.array([[1.5, 1.5, 0.0], [0.0, 3.0, 0.0]])
    >>> round(float(distillation_loss(s, t, temperature=2.0)), 6)
    0.096569
    >>> round(float(distillation_loss(s, t, temperature=2.0, target=np.array([0, 1]))), 6)
    0.207554
    """
    loss: FloatScalar = _distillation(student_logits, teacher_logits, temperature, target,
                                      alpha, ignore_index, axis, num_threads, want_grad=False)
    return loss


def distillation_loss_and_grad(student_logits: ArrayLike, teacher_logits: ArrayLike, *,
                               temperature: float = 1.0, target: ArrayLike | None = None,
                               alpha: float = 0.5, ignore_index: SupportsIndex = -100,
                               axis: SupportsIndex = -1,
                               num_threads: SupportsIndex | None = None,
                               grad_out: Array | None = None
                               ) -> tuple[FloatScalar, FloatArray]:
    """:func:`distillation_loss` and its gradient w.r.t. the student's logits.

    Arguments as :func:`distillation_loss`.  The gradient, per sample, is ::

        alpha * (softmax(s) - onehot(y)) / n_valid + (1 - alpha) * T * (q - p) / N

    with ``q = softmax(s / T)``, ``p = softmax(t / T)``, ``n_valid`` the
    non-ignored samples (the first term 0 when there are none, as torch) and
    ``N`` all samples; without targets ``T * (q - p) / N``.  The loss and the
    gradient come from the same fused sweep.

    Parameters
    ----------
    grad_out : ndarray, optional
        Preallocated gradient array, shape and float dtype of ``student_logits``.

    Returns
    -------
    loss : scalar
        As returned by :func:`distillation_loss`.
    grad : ndarray
        Same shape as ``student_logits``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import distillation_loss_and_grad
    >>> s = np.array([[0.0, 0.0]])
    >>> loss, grad = distillation_loss_and_grad(s, np.array([[0.0, 2.0]]), temperature=2.0)
    >>> round(float(loss), 6), grad.round(6)
    (0.443776, array([[ 0.462117, -0.462117]]))
    """
    result: tuple[FloatScalar, FloatArray] = _distillation(
        student_logits, teacher_logits, temperature, target, alpha, ignore_index, axis,
        num_threads, want_grad=True, grad_out=grad_out)
    return result
