"""Cross-entropy losses (PyTorch semantics, class axis last by default).

``cross_entropy`` and ``cross_entropy_and_grad`` run one fused compiled pass
per row: max, logsumexp, picked logit, loss and, if asked, the gradient, with
no N x C temporary.  The smaller losses (nll, categorical and binary
cross-entropy) are single NumPy expressions over inputs that are already
probabilities, so there is nothing to fuse.
"""
from __future__ import annotations

from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _crossentropy
from ._crossentropy import check_sample_weight, logits_array
from ._reduction import gradient_scale, reduce_losses
from ._typing import Array, FloatArray, FloatScalar, Reduced
from ._validation import (as_array, check_broadcasts_to, check_class_weight,
                          check_index_target, check_int, check_real, check_reduction,
                          float_dtypes)
from .sigmoid import log_sigmoid, sigmoid

__all__ = ["cross_entropy", "cross_entropy_and_grad", "nll_loss",
           "categorical_cross_entropy", "binary_cross_entropy",
           "binary_cross_entropy_and_grad", "binary_cross_entropy_with_logits",
           "binary_cross_entropy_with_logits_and_grad"]


def _real_array(value: ArrayLike, name: str, dtype: np.dtype[Any]) -> Array:
    """A broadcastable per-element weight as a real array of ``dtype``."""
    arr = as_array(value, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


def _batch_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + shape[axis + 1:]


@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: float = 0.0, reduction: Reduced = "mean",
                  num_threads: SupportsIndex | None = None, z_loss: float = 0.0,
                  softcap: float | None = None,
                  sample_weight: ArrayLike | None = None) -> FloatScalar: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: float = 0.0, reduction: Literal["none"],
                  num_threads: SupportsIndex | None = None, z_loss: float = 0.0,
                  softcap: float | None = None,
                  sample_weight: ArrayLike | None = None) -> FloatArray: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean",
                  num_threads: SupportsIndex | None = None, z_loss: float = 0.0,
                  softcap: float | None = None,
                  sample_weight: ArrayLike | None = None) -> Any: ...
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean",
                  num_threads: SupportsIndex | None = None, z_loss: float = 0.0,
                  softcap: float | None = None,
                  sample_weight: ArrayLike | None = None) -> Any:
    """Cross-entropy between logits and targets, fused in one pass.

    Same definition, defaults and results as
    ``torch.nn.functional.cross_entropy``, but with the class axis last by
    default (NumPy style) and any number of leading dimensions.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, shape ``(..., C, ...)`` with classes along ``axis``.
    target : array_like
        Either integer class indices (any integer dtype) with the shape of
        ``logits`` without ``axis``, or floating class probabilities with the
        shape of ``logits``.
    axis : int, optional
        The class axis (default: last).
    weight : array_like, optional
        Per-class weights, shape ``(C,)``.
    ignore_index : int, optional
        Samples whose target is this value contribute neither loss nor
        gradient (index targets only).
    label_smoothing : float, optional
        In [0, 1]: mixes the target with the uniform distribution.
    reduction : {"mean", "sum", "none"}, optional
        "mean" divides by the summed target weights of the non-ignored samples
        (index targets) or by the number of samples (probability targets).
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.
    z_loss : float, optional
        Weight of the PaLM z-loss: ``z_loss * lse**2`` (``lse`` the sample's
        logsumexp of the logits, after the softcap) is added to the loss of
        every non-ignored sample.  "mean" divides it by the same denominator
        as the cross-entropy (the summed target weights of the non-ignored
        samples; the number of samples for probability targets), i.e. the
        per-sample loss is ``CE_i + z_loss * lse_i**2`` before reduction.
        Default 0 (off).
    softcap : float, optional
        Logit soft-capping as in Gemma: the loss is computed on
        ``softcap * tanh(logits / softcap)``.  Default None (off).
    sample_weight : array_like, optional
        Per-sample weights ``s``, exactly the shape of ``logits`` without
        ``axis`` (the shape of the ``"none"`` losses); any real dtype, finite
        values (negative ones allowed, as scikit-learn does).  Each sample's
        loss, and its gradient, is multiplied by its weight; ``"mean"`` is
        ``sum_i s_i l_i / sum_i s_i d_i`` with ``d_i`` the sample's share of
        the unweighted denominator (its target's class weight, 0 if ignored;
        1 for probability targets).  Default None: every weight 1.

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the logits' float dtype, or per-sample losses for
        ``reduction="none"``.

    Notes
    -----
    With probability targets, a class whose (smoothed) target is exactly 0
    contributes 0 even where its log-probability is -inf (``xlogy``); torch
    gives NaN there.  An empty batch gives NaN for "mean", as torch does.

    Without ``softcap`` the computation, z-loss included, is a single fused
    pass.  With it, the rows are processed in chunks of about 32 MB (capped,
    then the fused pass), so there is still no N x C temporary, and the
    result still does not depend on the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import cross_entropy
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> round(float(cross_entropy(logits, np.array([0, 1]))), 5)
    0.31854
    >>> cross_entropy(logits, np.array([0, -100]), reduction="none").round(5)
    array([0.41703, 0.     ])

    With a z-loss and soft-capped logits:

    >>> round(float(cross_entropy(logits, np.array([0, 1]), z_loss=1e-4, softcap=2.0)), 5)
    0.5095

    Per-sample weights (the mean divides by their sum):

    >>> cross_entropy(logits, np.array([0, 1]), sample_weight=[2.0, 0.0], reduction="none").round(5)
    array([0.83406, 0.     ])
    >>> round(float(cross_entropy(logits, np.array([0, 1]), sample_weight=[2.0, 0.0])), 5)
    0.41703
    """
    return _crossentropy.cross_entropy(
        logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, reduction=reduction, num_threads=num_threads,
        z_loss=z_loss, softcap=softcap, want_grad=False, sample_weight=sample_weight)


@overload
def cross_entropy_and_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                           weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                           label_smoothing: float = 0.0, reduction: Reduced = "mean",
                           num_threads: SupportsIndex | None = None, grad_out: Array | None = None,
                           z_loss: float = 0.0, softcap: float | None = None,
                           sample_weight: ArrayLike | None = None
                           ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def cross_entropy_and_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                           weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                           label_smoothing: float = 0.0, reduction: Literal["none"],
                           num_threads: SupportsIndex | None = None, grad_out: Array | None = None,
                           z_loss: float = 0.0, softcap: float | None = None,
                           sample_weight: ArrayLike | None = None
                           ) -> tuple[FloatArray, FloatArray]: ...
@overload
def cross_entropy_and_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                           weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                           label_smoothing: float = 0.0, reduction: str = "mean",
                           num_threads: SupportsIndex | None = None, grad_out: Array | None = None,
                           z_loss: float = 0.0, softcap: float | None = None,
                           sample_weight: ArrayLike | None = None
                           ) -> tuple[Any, FloatArray]: ...
def cross_entropy_and_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                           weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                           label_smoothing: float = 0.0, reduction: str = "mean",
                           num_threads: SupportsIndex | None = None, grad_out: Array | None = None,
                           z_loss: float = 0.0, softcap: float | None = None,
                           sample_weight: ArrayLike | None = None) -> Any:
    """Cross-entropy and its gradient w.r.t. the logits, in one fused pass.

    Arguments as :func:`cross_entropy`; the gradient is that of the reduced
    loss (for ``reduction="none"``, of the sum of the per-sample losses):
    ``softmax(logits) * sum(q) - q`` with ``q`` the weighted, smoothed target,
    times the reduction's scale.  A z-loss adds ``2 z_loss lse softmax``
    (times the scale) for each non-ignored sample; a softcap multiplies the
    gradient by its derivative ``1 - tanh(logits / softcap)**2``; a
    ``sample_weight`` multiplies each sample's gradient by its weight.

    Parameters
    ----------
    grad_out : ndarray, optional
        Preallocated gradient array, shape and float dtype of ``logits``.

    Returns
    -------
    loss : scalar or ndarray
        As returned by :func:`cross_entropy`.
    grad : ndarray
        Same shape as ``logits``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import cross_entropy_and_grad
    >>> loss, grad = cross_entropy_and_grad(np.array([[0.0, 0.0]]), np.array([1]))
    >>> round(float(loss), 6), grad
    (0.693147, array([[ 0.5, -0.5]]))
    >>> loss, grad = cross_entropy_and_grad(np.array([[0.0, 0.0]]), np.array([1]), z_loss=0.5)
    >>> round(float(loss), 6), grad.round(6)
    (0.933374, array([[ 0.846574, -0.153426]]))

    With per-sample weights, each row's gradient is weighted and the mean
    divides by the summed weights:

    >>> loss, grad = cross_entropy_and_grad(np.zeros((2, 2)), np.array([1, 0]),
    ...                                     sample_weight=np.array([3.0, 1.0]))
    >>> round(float(loss), 6), grad
    (0.693147, array([[ 0.375, -0.375],
           [-0.125,  0.125]]))
    """
    return _crossentropy.cross_entropy(
        logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, reduction=reduction, num_threads=num_threads,
        z_loss=z_loss, softcap=softcap, want_grad=True, grad_out=grad_out,
        sample_weight=sample_weight)


@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
             weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
             reduction: Reduced = "mean") -> FloatScalar: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
             weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
             reduction: Literal["none"]) -> FloatArray: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
             weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
             reduction: str = "mean") -> Any: ...
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
             weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
             reduction: str = "mean") -> Any:
    """Negative log-likelihood of class indices given log-probabilities.

    ``torch.nn.functional.nll_loss`` with the class axis last by default:
    ``-weight[y] * log_probs[..., y]``, ignored samples contribute 0, "mean"
    divides by the summed weights of the non-ignored targets.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import nll_loss, log_softmax
    >>> lp = log_softmax(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]))
    >>> round(float(nll_loss(lp, np.array([0, 1]))), 5)
    0.31854
    """
    arr, axis, compute, result = logits_array(log_probs, axis, "log_probs")
    reduction = check_reduction(reduction)
    ignore_index = check_int(ignore_index, "ignore_index")
    n_classes = arr.shape[axis]
    batch_shape = _batch_shape(arr.shape, axis)
    w = check_class_weight(weight, n_classes, np.float64)
    tarr = as_array(target, "target")
    if tarr.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {tarr.dtype}")
    check_index_target(tarr, batch_shape, n_classes, ignore_index, shape=arr.shape)
    keep = tarr != ignore_index
    y = np.where(keep, tarr, 0).astype(np.intp)
    if n_classes:
        picked = np.take_along_axis(np.moveaxis(arr, axis, -1), y[..., None], axis=-1)[..., 0]
    else:  # no class: every target is ignore_index (checked above)
        picked = np.zeros(batch_shape)
    wy = keep.astype(np.float64) if w is None else w[y] * keep
    loss = np.where(keep, -wy * picked.astype(np.float64), 0.0)
    return reduce_losses(loss, wy.sum(), reduction, result)


@overload
def categorical_cross_entropy(probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                              eps: float = 1e-7, reduction: Reduced = "mean") -> FloatScalar: ...
@overload
def categorical_cross_entropy(probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                              eps: float = 1e-7, reduction: Literal["none"]) -> FloatArray: ...
@overload
def categorical_cross_entropy(probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                              eps: float = 1e-7, reduction: str = "mean") -> Any: ...
def categorical_cross_entropy(probs: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                              eps: float = 1e-7, reduction: str = "mean") -> Any:
    """Cross-entropy ``-sum(t * log p)`` from probabilities, clipped to [eps, 1-eps].

    The seed's function done right: the target is one-hot / soft when it has
    the shape of ``probs`` (whatever its dtype), class indices when it has the
    shape of ``probs`` without ``axis``; the mean is over samples.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import categorical_cross_entropy
    >>> y = np.array([0, 1, 0, 0])
    >>> y_hat = np.array([0.1, 0.7, 0.1, 0.1])
    >>> bool(np.isclose(categorical_cross_entropy(y_hat, y), -np.log(0.7)))
    True
    """
    arr, axis, compute, result = logits_array(probs, axis, "probs")
    reduction = check_reduction(reduction)
    eps = check_real(eps, "eps", min=0.0, below=0.5, strict=False)
    if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1):
        raise ValueError("probs must lie in [0, 1]")
    p = np.clip(np.moveaxis(arr, axis, -1).astype(np.float64), eps, 1.0 - eps)
    batch_shape = _batch_shape(arr.shape, axis)
    tarr = as_array(target, "target")
    if tarr.shape == arr.shape:
        if tarr.dtype.kind not in "fiub":
            raise TypeError(f"target must be numeric, got dtype {tarr.dtype}")
        t = np.moveaxis(tarr, axis, -1).astype(np.float64)
        with np.errstate(invalid="ignore"):
            loss = -np.where(t == 0, 0.0, t * np.log(p)).sum(axis=-1)
    elif tarr.dtype.kind in "iu":
        check_index_target(tarr, batch_shape, arr.shape[axis], ignore_index=None,
                           shape=arr.shape)
        loss = -np.log(np.take_along_axis(p, tarr.astype(np.intp)[..., None], axis=-1)[..., 0])
    elif tarr.shape == batch_shape:
        raise TypeError(
            f"target has dtype {tarr.dtype} and the shape of class indices; "
            "class indices must be integers")
    else:
        raise ValueError(
            f"target has shape {tarr.shape}; expected {arr.shape} (one-hot / soft) "
            f"or {batch_shape} (class indices)")
    return reduce_losses(loss, loss.size, reduction, result)


def _binary_inputs(input: ArrayLike, target: ArrayLike, weight: ArrayLike | None, name: str
                   ) -> tuple[Array, Array, Array | None, np.dtype[Any]]:
    arr = as_array(input, name)
    compute, result = float_dtypes(arr, name)
    tarr = as_array(target, "target")
    if tarr.dtype.kind not in "fiub":
        raise TypeError(f"target must be real numbers, got dtype {tarr.dtype}")
    if tarr.shape != arr.shape:
        raise ValueError(f"target has shape {tarr.shape}, expected {arr.shape} (the "
                         f"shape of {name})")
    x = arr.astype(compute, copy=False)
    t = tarr.astype(compute, copy=False)
    w = None
    if weight is not None:
        w = _real_array(weight, "weight", compute)
        check_broadcasts_to(w.shape, arr.shape, "weight", f"{name}'s")
    return x, t, w, result


def _binary_finish(loss: Array, grad: Any, reduction: str, result: np.dtype[Any],
                   want_grad: bool, sample_weight: Array | None = None) -> Any:
    if sample_weight is not None:
        return _binary_finish_weighted(loss, grad, reduction, result, want_grad, sample_weight)
    n = loss.size
    value = reduce_losses(loss, n, reduction, result)
    if not want_grad:
        return value
    if reduction == "mean":
        grad = grad / n if n else grad
    return value, grad.astype(result, copy=False)


def _binary_sample_weight(sample_weight: ArrayLike | None, shape: tuple[int, ...],
                          name: str) -> Array | None:
    """Per-element sample weights: float64 of exactly the input's shape, or None."""
    sw = check_sample_weight(sample_weight, shape, f"the shape of {name}")
    return None if sw is None else sw.reshape(shape)


def _binary_finish_weighted(loss: Array, grad: Any, reduction: str, result: np.dtype[Any],
                            want_grad: bool, sw: Array) -> Any:
    """As _binary_finish, each element weighted by ``sw``: "mean" divides by
    ``sw.sum()`` (the gradient is then scaled by its inverse, 0 if it is 0)."""
    loss = loss * sw
    denominator = float(sw.sum()) if reduction == "mean" else None
    value = reduce_losses(loss, denominator, reduction, result)
    if not want_grad:
        return value
    grad = grad * (sw * gradient_scale(reduction, denominator))
    return value, grad.astype(result, copy=False)


def _bce(probs: ArrayLike, target: ArrayLike, weight: ArrayLike | None, reduction: str,
         want_grad: bool, sample_weight: ArrayLike | None = None) -> Any:
    reduction = check_reduction(reduction)
    p, t, w, result = _binary_inputs(probs, target, weight, "probs")
    sw = _binary_sample_weight(sample_weight, p.shape, "probs")
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise ValueError("probs must lie in [0, 1] (use binary_cross_entropy_with_logits "
                         "for unbounded scores)")
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch clamps each log at -100 so that p = 0 or 1 gives a finite loss
        loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
        # torch clamps the denominator at 1e-12 as a float32 constant
        grad = (p - t) / np.maximum((1 - p) * p, float(np.float32(1e-12))) if want_grad else None
    if w is not None:
        loss = loss * w
        if want_grad:
            grad = grad * w
    return _binary_finish(loss, grad, reduction, result, want_grad, sw)


@overload
def binary_cross_entropy(probs: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
                         reduction: Reduced = "mean",
                         sample_weight: ArrayLike | None = None) -> FloatScalar: ...
@overload
def binary_cross_entropy(probs: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
                         reduction: Literal["none"],
                         sample_weight: ArrayLike | None = None) -> FloatArray: ...
@overload
def binary_cross_entropy(probs: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
                         reduction: str = "mean",
                         sample_weight: ArrayLike | None = None) -> Any: ...
def binary_cross_entropy(probs: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
                         reduction: str = "mean",
                         sample_weight: ArrayLike | None = None) -> Any:
    """Binary cross-entropy of probabilities (``torch.nn.functional.binary_cross_entropy``).

    ``-w * (t * log p + (1 - t) * log(1 - p))`` with each log clamped at -100
    as torch does; probabilities outside [0, 1] raise ValueError.

    ``weight`` is torch's rescaling weight (broadcast to the input; "mean"
    still divides by the number of elements).  ``sample_weight`` (exactly the
    input's shape: every element is a sample; real, finite) multiplies each
    element's loss too, but "mean" then divides by ``sample_weight.sum()``:
    ``sum(s * l) / sum(s)``, scikit-learn's weighted mean.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import binary_cross_entropy
    >>> round(float(binary_cross_entropy(np.array([0.9, 0.2]), np.array([1.0, 0.0]))), 6)
    0.164252
    >>> round(float(binary_cross_entropy(np.array([0.9, 0.2]), np.array([1.0, 0.0]),
    ...                                   sample_weight=np.array([3.0, 1.0]))), 6)
    0.134806
    """
    return _bce(probs, target, weight, reduction, False, sample_weight)


@overload
def binary_cross_entropy_and_grad(probs: ArrayLike, target: ArrayLike, *,
                                  weight: ArrayLike | None = None,
                                  reduction: Reduced = "mean",
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def binary_cross_entropy_and_grad(probs: ArrayLike, target: ArrayLike, *,
                                  weight: ArrayLike | None = None,
                                  reduction: Literal["none"],
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatArray, FloatArray]: ...
@overload
def binary_cross_entropy_and_grad(probs: ArrayLike, target: ArrayLike, *,
                                  weight: ArrayLike | None = None,
                                  reduction: str = "mean",
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[Any, FloatArray]: ...
def binary_cross_entropy_and_grad(probs: ArrayLike, target: ArrayLike, *,
                                  weight: ArrayLike | None = None,
                                  reduction: str = "mean",
                                  sample_weight: ArrayLike | None = None) -> Any:
    """:func:`binary_cross_entropy` and its gradient w.r.t. ``probs`` (torch's
    backward: ``w * (p - t) / max(p * (1 - p), 1e-12)``, scaled by the reduction;
    times ``sample_weight`` when given).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import binary_cross_entropy_and_grad
    >>> loss, grad = binary_cross_entropy_and_grad(np.array([0.5, 0.5]), np.array([1.0, 0.0]),
    ...                                            sample_weight=np.array([3.0, 1.0]))
    >>> round(float(loss), 6), grad
    (0.693147, array([-1.5,  0.5]))
    """
    return _bce(probs, target, weight, reduction, True, sample_weight)


def _bce_logits(logits: ArrayLike, target: ArrayLike, weight: ArrayLike | None,
                pos_weight: ArrayLike | None, reduction: str, want_grad: bool,
                sample_weight: ArrayLike | None = None) -> Any:
    reduction = check_reduction(reduction)
    x, t, w, result = _binary_inputs(logits, target, weight, "logits")
    if pos_weight is not None:
        pw = _real_array(pos_weight, "pos_weight", x.dtype)
        check_broadcasts_to(pw.shape, x.shape, "pos_weight", "logits's")
        lw = 1 + (pw - 1) * t
    else:
        pw, lw = None, None
    sw = _binary_sample_weight(sample_weight, x.shape, "logits")
    # stable: softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) = -log_sigmoid(x)
    softplus_neg = -log_sigmoid(x)
    loss = (1 - t) * x + (softplus_neg if lw is None else lw * softplus_neg)
    grad = None
    if want_grad:
        s = sigmoid(x)
        grad = s - t if pw is None else lw * s - pw * t
    if w is not None:
        loss = loss * w
        if want_grad:
            grad = grad * w
    return _binary_finish(loss, grad, reduction, result, want_grad, sw)


@overload
def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, *,
                                     weight: ArrayLike | None = None,
                                     pos_weight: ArrayLike | None = None,
                                     reduction: Reduced = "mean",
                                     sample_weight: ArrayLike | None = None) -> FloatScalar: ...
@overload
def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, *,
                                     weight: ArrayLike | None = None,
                                     pos_weight: ArrayLike | None = None,
                                     reduction: Literal["none"],
                                     sample_weight: ArrayLike | None = None) -> FloatArray: ...
@overload
def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, *,
                                     weight: ArrayLike | None = None,
                                     pos_weight: ArrayLike | None = None,
                                     reduction: str = "mean",
                                     sample_weight: ArrayLike | None = None) -> Any: ...
def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, *,
                                     weight: ArrayLike | None = None,
                                     pos_weight: ArrayLike | None = None,
                                     reduction: str = "mean",
                                     sample_weight: ArrayLike | None = None) -> Any:
    """Binary cross-entropy of logits, the stable form (torch semantics).

    ``w * ((1 - t) x + (1 + (pw - 1) t) * softplus(-x))``, i.e. with
    ``pos_weight = 1`` it is ``max(x, 0) - x t + log1p(exp(-|x|))``.
    ``sample_weight`` is as for :func:`binary_cross_entropy`: exactly the
    logits' shape, each element's loss times its weight, "mean" divided by
    the summed weights.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import binary_cross_entropy_with_logits
    >>> round(float(binary_cross_entropy_with_logits(np.array([100.0, -2.0]),
    ...                                               np.array([1.0, 0.0]))), 6)
    0.063464
    >>> round(float(binary_cross_entropy_with_logits(np.array([0.0, 0.0]), np.array([1.0, 0.0]),
    ...                                               sample_weight=np.array([0.0, 2.0]))), 6)
    0.693147
    """
    return _bce_logits(logits, target, weight, pos_weight, reduction, False, sample_weight)


@overload
def binary_cross_entropy_with_logits_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                              weight: ArrayLike | None = None,
                                              pos_weight: ArrayLike | None = None,
                                              reduction: Reduced = "mean",
                                              sample_weight: ArrayLike | None = None
                                             ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def binary_cross_entropy_with_logits_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                              weight: ArrayLike | None = None,
                                              pos_weight: ArrayLike | None = None,
                                              reduction: Literal["none"],
                                              sample_weight: ArrayLike | None = None
                                             ) -> tuple[FloatArray, FloatArray]: ...
@overload
def binary_cross_entropy_with_logits_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                              weight: ArrayLike | None = None,
                                              pos_weight: ArrayLike | None = None,
                                              reduction: str = "mean",
                                              sample_weight: ArrayLike | None = None
                                             ) -> tuple[Any, FloatArray]: ...
def binary_cross_entropy_with_logits_and_grad(logits: ArrayLike, target: ArrayLike, *,
                                              weight: ArrayLike | None = None,
                                              pos_weight: ArrayLike | None = None,
                                              reduction: str = "mean",
                                              sample_weight: ArrayLike | None = None) -> Any:
    """:func:`binary_cross_entropy_with_logits` and its gradient w.r.t. the
    logits: ``w * ((1 + (pw - 1) t) * sigmoid(x) - pw t)``, scaled by the
    reduction (times ``sample_weight`` when given).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import binary_cross_entropy_with_logits_and_grad
    >>> loss, grad = binary_cross_entropy_with_logits_and_grad(
    ...     np.array([0.0, 0.0]), np.array([1.0, 0.0]), sample_weight=np.array([1.0, 3.0]),
    ...     reduction="sum")
    >>> round(float(loss), 6), grad
    (2.772589, array([-0.5,  1.5]))
    """
    return _bce_logits(logits, target, weight, pos_weight, reduction, True, sample_weight)
