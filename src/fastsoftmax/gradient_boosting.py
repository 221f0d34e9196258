"""Gradient-boosting objectives: the gradient and the diagonal hessian of the
multinomial and binomial log-losses with respect to the raw predictions.

A gradient-boosted tree ensemble fits each new tree to per-sample gradients
and hessians of the loss at the current raw predictions (margins).  For the
multiclass log-loss these need a softmax per sample; here the softmax, the
gradient and the hessian come from one compiled pass per row (no
probability temporary), with the definitions of scikit-learn's
``HalfMultinomialLoss.gradient_hessian`` and
``HalfBinomialLoss.gradient_hessian``.
"""
from __future__ import annotations

from typing import Any, SupportsIndex

import numpy as np
from numpy.typing import ArrayLike

from . import _pool
from ._driver import core
from ._halfprec import F32_OPERAND, is_staged, operand, staged_dtype
from ._halfprec import dtypes as half_dtypes
from ._threads import resolve
from ._typing import Array, FloatArray
from ._validation import (as_array, check_class_indices, check_out, copy_back, is_bfloat16,
                          kernel_array, normalize_axis, output_rows, rows_view)

__all__ = ["cross_entropy_gradient_hessian", "binary_cross_entropy_gradient_hessian"]

_INT64 = np.dtype(np.int64)


def _shares(a: Array, b: Array) -> bool:
    """Whether a and b share an element (exact, checked only when their
    memory ranges overlap)."""
    return bool(np.may_share_memory(a, b) and np.shares_memory(a, b))


def _outputs(gradient_out: Array | None, hessian_out: Array | None, shape: tuple[int, ...],
             result: np.dtype[Any], inputs: dict[str, Array]) -> tuple[Array, Array]:
    """The gradient and hessian arrays: new ones, or the checked ``*_out``
    arrays (shape, dtype, writeable, no element shared with each other or
    with an input)."""
    grad = (_pool.empty(shape, result) if gradient_out is None
            else check_out(gradient_out, shape, result, "gradient_out"))
    hess = (_pool.empty(shape, result) if hessian_out is None
            else check_out(hessian_out, shape, result, "hessian_out"))
    if gradient_out is not None and hessian_out is not None and _shares(grad, hess):
        raise ValueError("gradient_out and hessian_out must not share memory")
    for oname, arr in (("gradient_out", gradient_out), ("hessian_out", hessian_out)):
        if arr is None:
            continue
        for iname, src in inputs.items():
            if _shares(arr, src):
                raise ValueError(f"{oname} must not share memory with {iname}")
    return grad, hess


def _sample_weight(sample_weight: ArrayLike | None, shape: tuple[int, ...],
                   compute: np.dtype[Any], what: str) -> Array | None:
    """One real weight per sample, of ``shape``, as a flat kernel array (or None)."""
    if sample_weight is None:
        return None
    w = as_array(sample_weight, "sample_weight")
    if w.dtype.kind not in "fiu" and not is_bfloat16(w.dtype):
        raise TypeError(f"sample_weight must be real numbers, got dtype {w.dtype}")
    if w.shape != shape:
        raise ValueError(f"sample_weight has shape {w.shape}, expected {shape} ({what})")
    return kernel_array(w, compute, shape=(-1,))


def _class_labels(target: ArrayLike, batch_shape: tuple[int, ...], n_classes: int) -> Array:
    """Class labels of ``batch_shape`` (integers, or floats holding integers,
    as scikit-learn passes them) as flat int64."""
    t = as_array(target, "target")
    if t.dtype.kind not in "fiu":
        raise TypeError("target must hold class labels (integers, or floats with "
                        f"integer values), got dtype {t.dtype}")
    if t.shape != batch_shape:
        raise ValueError(f"target has shape {t.shape}, expected {batch_shape} "
                         "(raw_prediction's shape without the class axis)")
    if t.dtype.kind == "f" and t.size:
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(t) & (np.floor(t) == t))
        if bad.any():
            pos = np.unravel_index(int(np.argmax(bad)), t.shape)
            raise ValueError(f"target[{', '.join(map(str, pos))}] = {t[pos]} is not a "
                             f"class label: labels must be integers in [0, {n_classes})")
    check_class_indices(t, n_classes, None)
    return kernel_array(t, _INT64, shape=(-1,))


def cross_entropy_gradient_hessian(raw_prediction: ArrayLike, target: ArrayLike, *,
                                   sample_weight: ArrayLike | None = None,
                                   axis: SupportsIndex = -1,
                                   gradient_out: Array | None = None,
                                   hessian_out: Array | None = None,
                                   num_threads: SupportsIndex | None = None
                                   ) -> tuple[FloatArray, FloatArray]:
    """Gradient and diagonal hessian of the multiclass log-loss (softmax
    cross-entropy) with respect to the raw predictions, in one fused pass.

    With ``p = softmax(raw_prediction)`` along ``axis``, ``y`` the sample's
    class label and ``s`` its weight (1 without ``sample_weight``)::

        gradient = s * (p - onehot(y))
        hessian  = s * p * (1 - p)

    the definitions of scikit-learn's
    ``HalfMultinomialLoss().gradient_hessian(y_true, raw_prediction,
    sample_weight)``: the derivatives of each sample's (weighted)
    ``-log p[y]``, the hessian being the diagonal of the true one.

    Parameters
    ----------
    raw_prediction : array_like
        Raw predictions (margins, logits), shape ``(..., C, ...)`` with the
        classes along ``axis``; float16/32/64 or integer.
    target : array_like
        Class labels, the shape of ``raw_prediction`` without ``axis``:
        integers, or floats holding integers (scikit-learn passes labels as
        float64), in ``[0, C)``.  Other values raise an error.
    sample_weight : array_like, optional
        One real weight per sample (the shape of ``target``).
    axis : int, optional
        The class axis (default: last).
    gradient_out, hessian_out : ndarray, optional
        Preallocated results: the shape of ``raw_prediction`` and its result
        dtype, writeable, any layout, sharing no memory with each other nor
        with the inputs.
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    gradient, hessian : ndarray
        The shape of ``raw_prediction``; its float dtype (float64 for
        integers; float16 is computed in float32).
        float16 and bfloat16 operands are read directly (computed in float32
        chunk by chunk, no float32 copy): the answer is bitwise that of their
        float32 values, each array result rounded once to the 16-bit type:
        the gradient and hessian of bfloat16 operands are bfloat16, of
        float16 ones float16 (see docs/semantics.md, 16-bit input).

    Notes
    -----
    A sample whose raw predictions have no softmax (a NaN, a +inf, or only
    -inf) gets NaN gradients and hessians.  The result does not depend on
    the number of threads.

    As a custom objective: XGBoost's ``obj(predt, dtrain)`` receives the raw
    margins ``predt`` of shape ``(n_samples, n_classes)`` and (since XGBoost
    2.1) takes ``grad`` and ``hess`` of that shape; LightGBM's scikit-learn API calls
    ``objective(y_true, y_pred)`` (``y_pred`` of shape ``(n_samples,
    n_classes)`` for a multiclass task, raw margins) and expects ``(grad,
    hess)``.  Their built-in softmax objectives (XGBoost's
    ``multi:softprob``, LightGBM's ``multiclass``) use twice this hessian,
    ``2 p (1 - p)``: pass ``2 * hessian`` to reproduce their steps exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import cross_entropy_gradient_hessian
    >>> raw = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> g, h = cross_entropy_gradient_hessian(raw, np.array([1.0, 0.0]))
    >>> g.round(6)
    array([[ 0.5     , -0.5     ],
           [-0.119203,  0.119203]])
    >>> h.round(6)
    array([[0.25    , 0.25    ],
           [0.104994, 0.104994]])
    """
    arr = as_array(raw_prediction, "raw_prediction")
    compute, result = half_dtypes(arr, "raw_prediction")
    if arr.ndim == 0:
        raise ValueError("raw_prediction must have at least one dimension (the class axis)")
    ax = normalize_axis(axis, arr.ndim)
    n_classes = arr.shape[ax]
    batch = arr.shape[:ax] + arr.shape[ax + 1:]
    t = _class_labels(target, batch, n_classes)
    sw = _sample_weight(sample_weight, batch, compute, "one weight per sample")
    inputs = {"raw_prediction": arr, "target": np.asarray(target)}
    if sample_weight is not None:
        inputs["sample_weight"] = np.asarray(sample_weight)
    grad, hess = _outputs(gradient_out, hessian_out, arr.shape, result, inputs)
    # 16-bit predictions: read (and the results written) as 16-bit codes,
    # chunk by chunk through float32 scratch
    staged = is_staged(compute, arr)
    rows_dtype = staged_dtype(result, compute) if staged else compute
    x = rows_view(arr, ax, rows_dtype)
    nt = resolve(num_threads, x.size)
    if x.size:
        gbuf, gdirect = output_rows(grad, ax, rows_dtype, (x,))
        hbuf, hdirect = output_rows(hess, ax, rows_dtype, (x, gbuf))
        if staged:
            (xo, xk), (go, gk), (ho, _) = operand(x), operand(gbuf), operand(hbuf)
            core.cross_entropy_gradient_hessian_staged(xo, xk, t, sw, go, ho, gk, nt)
        else:
            core.cross_entropy_gradient_hessian(x, t, sw, gbuf, hbuf, nt)
        if not gdirect:
            copy_back(gbuf, grad, ax)
        if not hdirect:
            copy_back(hbuf, hess, ax)
    return grad, hess


def _binary_like(value: ArrayLike | None, name: str, shape: tuple[int, ...],
                 compute: np.dtype[Any], staged: bool = False) -> Array | None:
    """A per-element real array of ``shape`` (or, for (n, 1) predictions,
    of shape (n,)) as a flat kernel array of ``compute`` (``staged``: 16-bit
    values stay 16-bit)."""
    if value is None:
        return None
    a = as_array(value, name)
    if staged:
        compute = staged_dtype(a.dtype, compute)
    if a.dtype.kind not in "fiub" and not is_bfloat16(a.dtype):
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    column = len(shape) == 2 and shape[1] == 1 and a.shape == shape[:1]
    if a.shape != shape and not column:
        also = f" or {shape[:1]}" if len(shape) == 2 and shape[1] == 1 else ""
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}{also} "
                         "(the shape of raw_prediction)")
    return kernel_array(a, compute, shape=(-1,))


def binary_cross_entropy_gradient_hessian(raw_prediction: ArrayLike, target: ArrayLike, *,
                                          sample_weight: ArrayLike | None = None,
                                          gradient_out: Array | None = None,
                                          hessian_out: Array | None = None,
                                          num_threads: SupportsIndex | None = None
                                          ) -> tuple[FloatArray, FloatArray]:
    """Gradient and hessian of the binary log-loss with respect to the raw
    predictions (logits), elementwise.

    With ``p = sigmoid(raw_prediction)``, target ``y`` and weight ``s``::

        gradient = s * (p - y)
        hessian  = s * p * (1 - p)

    the definitions of scikit-learn's
    ``HalfBinomialLoss().gradient_hessian``, computed without overflow or
    cancellation for any raw prediction: with ``e = exp(-|x|)``,
    ``p (1 - p) = e / (1 + e)**2`` and ``p - y`` is formed from the smaller
    of ``p`` and ``1 - p``.

    Parameters
    ----------
    raw_prediction : array_like
        Raw predictions (logits), any shape; float16/32/64 or integer.
    target : array_like
        Targets in [0, 1] (0/1 labels or probabilities), the shape of
        ``raw_prediction`` (or ``(n,)`` for predictions of shape ``(n, 1)``).
        NaN and values outside [0, 1] raise ValueError (found by the
        kernel in its pass, so ``gradient_out`` and ``hessian_out`` may
        already be written when it is raised).
    sample_weight : array_like, optional
        Real weights, the shape of ``target``.
    gradient_out, hessian_out : ndarray, optional
        Preallocated results: the shape of ``raw_prediction`` and its result
        dtype, writeable, sharing no memory with each other nor the inputs.
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.

    Returns
    -------
    gradient, hessian : ndarray
        The shape of ``raw_prediction``; its float dtype (float64 for
        integers; float16 is computed in float32).
        float16 and bfloat16 operands are read directly (computed in float32
        chunk by chunk, no float32 copy): the answer is bitwise that of their
        float32 values, each array result rounded once to the 16-bit type:
        the gradient and hessian of bfloat16 operands are bfloat16, of
        float16 ones float16 (see docs/semantics.md, 16-bit input).

    Notes
    -----
    NaN raw predictions give NaN; ``+inf`` gives ``s (1 - y)`` and 0,
    ``-inf`` gives ``-s y`` and 0, the limits.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import binary_cross_entropy_gradient_hessian
    >>> g, h = binary_cross_entropy_gradient_hessian(np.array([0.0, 40.0, -40.0]),
    ...                                              np.array([1.0, 1.0, 1.0]))
    >>> g
    array([-5.00000000e-01, -4.24835426e-18, -1.00000000e+00])
    >>> h
    array([2.50000000e-01, 4.24835426e-18, 4.24835426e-18])
    """
    arr = as_array(raw_prediction, "raw_prediction")
    compute, result = half_dtypes(arr, "raw_prediction")
    shape = arr.shape
    # 16-bit operands (any of the three): read as 16-bit codes, chunk by
    # chunk through float32 scratch
    t = _binary_like(target, "target", shape, compute, staged=True)
    assert t is not None
    sw = _binary_like(sample_weight, "sample_weight", shape, compute, staged=True)
    staged = is_staged(compute, arr, t, *(() if sw is None else (sw,)))
    if not staged:   # float64: 16-bit values widen exactly
        t = kernel_array(t, compute)
        sw = None if sw is None else kernel_array(sw, compute)
    inputs = {"raw_prediction": arr, "target": np.asarray(target)}
    if sample_weight is not None:
        inputs["sample_weight"] = np.asarray(sample_weight)
    grad, hess = _outputs(gradient_out, hessian_out, shape, result, inputs)
    rows_dtype = staged_dtype(result, compute) if staged else compute
    x = kernel_array(arr, staged_dtype(arr.dtype, compute) if staged else compute, shape=(-1,))
    nt = resolve(num_threads, x.size)
    if x.size:
        gbuf = kernel_array(grad, rows_dtype, writable=True, shape=(-1,))
        hbuf = kernel_array(hess, rows_dtype, writable=True, shape=(-1,))
        g = np.empty(x.size, dtype=rows_dtype) if gbuf is None else gbuf
        h = np.empty(x.size, dtype=rows_dtype) if hbuf is None else hbuf
        if staged:
            (xo, xk), (to, tk), (go, gk), (ho, _) = operand(x), operand(t), operand(g), operand(h)
            wo, wk = (None, F32_OPERAND) if sw is None else operand(sw)
            bad = core.binary_cross_entropy_gradient_hessian_staged(
                xo, xk, to, tk, wo, wk, go, ho, gk, nt)
        else:
            bad = core.binary_cross_entropy_gradient_hessian(x, t, sw, g, h, nt)
        if bad:
            # the kernel saw a bad target in its pass; find the first (rare path)
            tv = t.astype(compute)
            with np.errstate(invalid="ignore"):
                k = int(np.argmax(~((tv >= 0) & (tv <= 1))))
            raise ValueError(f"target must lie in [0, 1], got {tv[k]} (element {k})")
        if gbuf is None:
            grad[...] = g.reshape(shape)
        if hbuf is None:
            hess[...] = h.reshape(shape)
    return grad, hess
