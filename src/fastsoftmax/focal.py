"""Focal losses: the softmax (multiclass) focal loss and the sigmoid focal loss.

``focal_loss`` and ``focal_loss_and_grad`` run one fused compiled pass per
row, as the cross-entropy does (online max and sum of exponentials, loss,
gradient), with no N x C temporary.  ``sigmoid_focal_loss`` and
``sigmoid_focal_loss_and_grad`` are torchvision's ``sigmoid_focal_loss``,
computed elementwise by one compiled kernel.  The definitions are those of
docs/semantics.md, section Focal losses.
"""
from __future__ import annotations

import math
from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _pool
from ._crossentropy import IndexTargets, logits_array
from ._driver import core
from ._halfprec import (F32_OPERAND, half_kind, is_staged, operand, per_sample, scalar_dtype,
                        secondary, staged_dtype, staged_operand)
from ._halfprec import dtypes as half_dtypes
from ._reduction import gradient_scale, reduced_loss
from ._threads import resolve
from ._typing import FloatArray, FloatScalar, Reduced
from ._validation import (as_array, check_class_weight, check_int, check_real,
                          check_reduction, check_target_shape, copy_back, is_bfloat16,
                          kernel_array, output_rows, rows_view)

__all__ = ["focal_loss", "focal_loss_and_grad", "sigmoid_focal_loss",
           "sigmoid_focal_loss_and_grad"]


def _gamma(gamma: object) -> float:
    return check_real(gamma, "gamma", min=0.0)


def _focal(logits: ArrayLike, target: ArrayLike, gamma: object, alpha: ArrayLike | None,
           axis: SupportsIndex, ignore_index: SupportsIndex, reduction: str,
           num_threads: SupportsIndex | None, want_grad: bool) -> Any:
    arr, ax, compute, result = logits_array(logits, axis, half=True)
    reduction = check_reduction(reduction)
    g = _gamma(gamma)
    ignore = check_int(ignore_index, "ignore_index")
    n_classes = arr.shape[ax]
    batch_shape = arr.shape[:ax] + arr.shape[ax + 1:]
    a = check_class_weight(alpha, n_classes, compute, name="alpha")
    tarr = as_array(target, "target")
    if tarr.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {tarr.dtype}")
    check_target_shape(tarr, batch_shape)
    targets = IndexTargets(tarr, n_classes, ignore)       # checks the indices
    # "mean": over the non-ignored samples (not the summed alphas)
    denominator = float(targets.kept.size) if reduction == "mean" else None
    scale = gradient_scale(reduction, denominator)
    # 16-bit logits: read (and the gradient written) as 16-bit codes by the
    # staged driver, chunk by chunk through float32 scratch
    half = half_kind(arr.dtype) is not None
    rows_dtype = staged_dtype(result, compute)
    x = rows_view(arr, ax, rows_dtype)
    t = targets.rows()
    nrows = math.prod(batch_shape)
    loss_rows = np.empty(nrows, dtype=np.float64) if reduction == "none" else None
    grad = gbuf = None
    direct = True
    if want_grad:
        grad = _pool.empty(arr.shape, result)
        gbuf, direct = output_rows(grad, ax, rows_dtype, (x, t))
    n_threads = resolve(num_threads, x.size)
    if half:
        xo, xk = operand(x)
        go, gk = (None, F32_OPERAND) if gbuf is None else operand(gbuf)
        total = core.focal_index_staged(xo, xk, t, ignore_index=ignore, alpha=a, gamma=g,
                                        scale=scale, loss_rows=loss_rows, grad=go,
                                        grad_kind=gk, n_threads=n_threads)
    else:
        total = core.focal_index(x, t, ignore_index=ignore, alpha=a, gamma=g, scale=scale,
                                 loss_rows=loss_rows, grad=gbuf, n_threads=n_threads)
    if not direct:
        assert gbuf is not None and grad is not None
        copy_back(gbuf, grad, ax)
    if reduction == "none":
        assert loss_rows is not None
        loss: Any = per_sample(loss_rows.reshape(batch_shape), result)
    else:
        loss = reduced_loss(total, denominator, reduction, scalar_dtype(result))
    return (loss, grad) if want_grad else loss


@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
               ignore_index: SupportsIndex = -100, reduction: Reduced = "mean",
               num_threads: SupportsIndex | None = None) -> FloatScalar: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
               ignore_index: SupportsIndex = -100, reduction: Literal["none"],
               num_threads: SupportsIndex | None = None) -> FloatArray: ...
@overload
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
               ignore_index: SupportsIndex = -100, reduction: str = "mean",
               num_threads: SupportsIndex | None = None) -> Any: ...
def focal_loss(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
               alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
               ignore_index: SupportsIndex = -100, reduction: str = "mean",
               num_threads: SupportsIndex | None = None) -> Any:
    """Multiclass (softmax) focal loss of logits and class indices, fused.

    Per sample, with ``p = softmax(logits)`` along ``axis`` and ``y`` the
    target class: ``-alpha[y] * (1 - p_y)**gamma * log(p_y)`` (Lin et al.,
    "Focal Loss for Dense Object Detection", with the softmax instead of the
    sigmoid).  ``gamma = 0`` is the cross-entropy with class weights
    ``alpha``.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, shape ``(..., C, ...)`` with classes along ``axis``.
    target : array_like
        Integer class indices (any integer dtype), the shape of ``logits``
        without ``axis``; each in ``[0, C)`` or ``ignore_index``.
    gamma : float, optional
        The focusing exponent, finite and >= 0 (default 2).
    alpha : array_like, optional
        Per-class weights, shape ``(C,)``; default None (all 1).
    axis : int, optional
        The class axis (default: last).
    ignore_index : int, optional
        Samples whose target is this value contribute neither loss nor
        gradient.
    reduction : {"mean", "sum", "none"}, optional
        "mean" divides the summed loss by the number of non-ignored samples
        -- not by the summed ``alpha`` of their targets, as the weighted
        cross-entropy does (an all-ignored or empty batch gives NaN).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the logits' float dtype, or per-sample losses for
        ``reduction="none"``.
        float16 and bfloat16 logits are read directly (computed in float32 chunk
        by chunk, no float32 copy): the answer is bitwise that of their float32
        values, each array result rounded once to the 16-bit type; bfloat16
        gives per-sample losses (and the gradient) in bfloat16 and reduced
        losses as float32 scalars, float16 float16 results (see
        docs/semantics.md, 16-bit input).

    Notes
    -----
    ``1 - p_y`` is formed without cancellation (``-expm1(log p_y)`` where
    ``p_y > 1/2``), so confidently right samples keep their small loss's
    precision.  A sample whose logits hold a NaN or +inf, or only -inf, has a
    NaN loss, as in the cross-entropy.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import focal_loss
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> round(float(focal_loss(logits, np.array([0, 1]))), 6)
    0.028539
    >>> focal_loss(logits, np.array([0, -100]), gamma=0.0, reduction="none").round(5)
    array([0.41703, 0.     ])
    """
    return _focal(logits, target, gamma, alpha, axis, ignore_index, reduction, num_threads,
                  False)


@overload
def focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                        alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
                        ignore_index: SupportsIndex = -100, reduction: Reduced = "mean",
                        num_threads: SupportsIndex | None = None
                        ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                        alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
                        ignore_index: SupportsIndex = -100, reduction: Literal["none"],
                        num_threads: SupportsIndex | None = None
                        ) -> tuple[FloatArray, FloatArray]: ...
@overload
def focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                        alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
                        ignore_index: SupportsIndex = -100, reduction: str = "mean",
                        num_threads: SupportsIndex | None = None) -> tuple[Any, FloatArray]: ...
def focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *, gamma: float = 2.0,
                        alpha: ArrayLike | None = None, axis: SupportsIndex = -1,
                        ignore_index: SupportsIndex = -100, reduction: str = "mean",
                        num_threads: SupportsIndex | None = None) -> Any:
    """:func:`focal_loss` and its gradient w.r.t. the logits, in one fused pass.

    Arguments as :func:`focal_loss`.  The gradient is that of the reduced
    loss (for ``reduction="none"``, of the sum of the per-sample losses):
    for a sample, ``K * (softmax(logits) - onehot(y))`` with
    ``K = alpha[y] * q**gamma * (1 - gamma * p_y * log(p_y) / q)`` and
    ``q = 1 - p_y``, times the reduction's scale.  ``K`` is finite for every
    ``gamma >= 0``, also as ``p_y -> 1`` (where ``-log(p_y) / q -> 1``).

    Returns
    -------
    loss : scalar or ndarray
        As returned by :func:`focal_loss`.
    grad : ndarray
        Same shape as ``logits``; an ignored sample's entries are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import focal_loss_and_grad
    >>> loss, grad = focal_loss_and_grad(np.array([[0.0, 0.0]]), np.array([1]))
    >>> round(float(loss), 6), grad.round(6)
    (0.173287, array([[ 0.298287, -0.298287]]))
    """
    return _focal(logits, target, gamma, alpha, axis, ignore_index, reduction, num_threads,
                  True)


def _sigmoid_alpha(alpha: object) -> float | None:
    """torchvision's alpha: a finite real, a negative one (or None) meaning
    no weighting."""
    if alpha is None:
        return None
    if isinstance(alpha, (bool, np.bool_, str, bytes)):
        raise TypeError(f"alpha must be None or a real number, got {alpha!r}")
    try:
        v = float(alpha)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be None or a real number, got {alpha!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"alpha must be finite, got {v}")
    return v if v >= 0 else None


def _sigmoid_focal(logits: ArrayLike, target: ArrayLike, alpha: object, gamma: object,
                   reduction: str, num_threads: SupportsIndex | None, want_grad: bool) -> Any:
    arr = as_array(logits, "logits")
    compute, result = half_dtypes(arr, "logits")
    reduction = check_reduction(reduction)
    a = _sigmoid_alpha(alpha)
    g = _gamma(gamma)
    tarr = as_array(target, "target")
    if tarr.dtype.kind not in "fiub" and not is_bfloat16(tarr.dtype):
        raise TypeError(f"target must be real numbers, got dtype {tarr.dtype}")
    if tarr.shape != arr.shape:
        raise ValueError(f"target has shape {tarr.shape}, expected {arr.shape} (the "
                         "shape of logits)")
    n = arr.size
    denominator = float(n) if reduction == "mean" else None
    scale = gradient_scale(reduction, denominator)
    n_threads = resolve(num_threads, n)
    if is_staged(compute, arr, tarr):
        # 16-bit operands read as codes, the losses and gradient written in
        # the result dtype, chunk by chunk through float32 scratch
        out_dtype = staged_dtype(result, compute)
        xo, xk = staged_operand(arr, compute, (-1,))
        to, tk = staged_operand(tarr, compute, (-1,))
        loss = _pool.empty((n,), out_dtype) if reduction == "none" else None
        grad = _pool.empty((n,), out_dtype) if want_grad else None
        ok = half_kind(out_dtype)
        total = core.sigmoid_focal_staged(
            xo, xk, to, tk, alpha=a, gamma=g, scale=scale,
            loss=None if loss is None else operand(loss)[0],
            grad=None if grad is None else operand(grad)[0],
            out_kind=F32_OPERAND if ok is None else ok, n_threads=n_threads)
    else:
        x = kernel_array(arr, compute, shape=(-1,))
        t = secondary(tarr, compute, (-1,))
        loss = _pool.empty((n,), compute) if reduction == "none" else None
        grad = _pool.empty((n,), compute) if want_grad else None
        total = core.sigmoid_focal(x, t, alpha=a, gamma=g, scale=scale, loss=loss, grad=grad,
                                   n_threads=n_threads)
    value: Any
    if loss is not None:
        value = loss.reshape(arr.shape).astype(result, copy=False)
        if value.ndim == 0:
            value = value[()]
    else:
        value = reduced_loss(total, denominator, reduction, scalar_dtype(result))
    if not want_grad:
        return value
    assert grad is not None
    gres: Any = grad.reshape(arr.shape).astype(result, copy=False)
    return value, (gres[()] if gres.ndim == 0 else gres)


@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: Literal["none"] = "none",
                       num_threads: SupportsIndex | None = None) -> FloatArray: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: Reduced,
                       num_threads: SupportsIndex | None = None) -> FloatScalar: ...
@overload
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: str = "none",
                       num_threads: SupportsIndex | None = None) -> Any: ...
def sigmoid_focal_loss(logits: ArrayLike, target: ArrayLike, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: str = "none",
                       num_threads: SupportsIndex | None = None) -> Any:
    """Sigmoid focal loss (``torchvision.ops.sigmoid_focal_loss``), elementwise.

    With ``p = sigmoid(logits)``, ``ce`` the binary cross-entropy with logits
    and ``p_t = p * t + (1 - p) * (1 - t)``, the loss of an element is
    ``ce * (1 - p_t)**gamma``, times ``alpha * t + (1 - alpha) * (1 - t)``
    when ``alpha >= 0``.  Computed in one compiled pass, every term in a form
    without cancellation (``1 - p_t`` as ``sigmoid(x) (1 - t) +
    sigmoid(-x) t``).

    Parameters
    ----------
    logits : array_like
        Scores of any shape (real dtype; float16 computes in float32).
    target : array_like
        The shape of ``logits``, real numbers (binary labels or soft targets
        in [0, 1]; not checked), cast to the logits' compute dtype.
    alpha : float or None, optional
        Weight of the positives (default 0.25); negative or None: no weighting.
    gamma : float, optional
        The focusing exponent, finite and >= 0 (default 2).
    reduction : {"none", "mean", "sum"}, optional
        "none" (the default, as torchvision): the elementwise losses; "mean":
        over all elements; "sum".
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads` (an addition to
        torchvision's signature, as every compiled function of fastsoftmax has).

    Returns
    -------
    loss : ndarray or scalar
        The logits' shape and result dtype for "none", else a NumPy scalar.
        float16 and bfloat16 logits and targets are read directly (computed in
        float32 chunk by chunk, no float32 copy): the answer is bitwise that of
        their float32 values, each array result rounded once to the 16-bit type;
        bfloat16 gives elementwise losses (and the gradient) in bfloat16 and
        reduced losses as float32 scalars, float16 float16 results (see
        docs/semantics.md, 16-bit input).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import sigmoid_focal_loss
    >>> sigmoid_focal_loss(np.array([2.0, -1.0, 0.0]), np.array([1.0, 0.0, 1.0])).round(6)
    array([0.000451, 0.016994, 0.043322])
    """
    return _sigmoid_focal(logits, target, alpha, gamma, reduction, num_threads, False)


@overload
def sigmoid_focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                alpha: float | None = 0.25, gamma: float = 2.0,
                                reduction: Literal["none"] = "none",
                                num_threads: SupportsIndex | None = None
                                ) -> tuple[FloatArray, FloatArray]: ...
@overload
def sigmoid_focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                alpha: float | None = 0.25, gamma: float = 2.0,
                                reduction: Reduced,
                                num_threads: SupportsIndex | None = None
                                ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def sigmoid_focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                alpha: float | None = 0.25, gamma: float = 2.0,
                                reduction: str = "none",
                                num_threads: SupportsIndex | None = None
                                ) -> tuple[Any, Any]: ...
def sigmoid_focal_loss_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                alpha: float | None = 0.25, gamma: float = 2.0,
                                reduction: str = "none",
                                num_threads: SupportsIndex | None = None) -> Any:
    """:func:`sigmoid_focal_loss` and its gradient w.r.t. the logits, in one pass.

    Arguments as :func:`sigmoid_focal_loss`.  The gradient is that of the
    reduced loss (for "none", of the sum; "mean" scales it by ``1 / n``):
    ``a_t ((p - t) w**gamma + gamma ce (1 - 2t) w**(gamma - 1) p (1 - p))``
    with ``w = 1 - p_t``, written so that nothing is infinite as ``w -> 0``;
    it is finite for finite targets in [0, 1], infinite logits included (the
    limit: the second term vanishes there).

    Returns
    -------
    loss : ndarray or scalar
        As returned by :func:`sigmoid_focal_loss`.
    grad : ndarray
        The logits' shape and result dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import sigmoid_focal_loss_and_grad
    >>> loss, grad = sigmoid_focal_loss_and_grad(np.array([0.0]), np.array([1.0]), alpha=-1)
    >>> loss.round(6), grad.round(6)
    (array([0.173287]), array([-0.298287]))
    """
    return _sigmoid_focal(logits, target, alpha, gamma, reduction, num_threads, True)
