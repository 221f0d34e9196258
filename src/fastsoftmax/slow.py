"""Plain NumPy references for every computing function of :mod:`fastsoftmax`.

This module is what the tests and the differential checks compare the
compiled library against.  It is slow on purpose: each function is written
straight from its definition (docs/semantics.md: SciPy's answers for the
softmax family and the sigmoids, PyTorch's for the losses), with the class
axis moved last and whole temporaries, never the tricks of the fast code.
It shares no code with the compiled kernels or with the fast Python layer.

* Every function has **the name and the signature** of its public
  counterpart (``fastsoftmax.slow.softmax`` mirrors ``fastsoftmax.softmax``),
  so a test can call both with the same arguments.
* The softmax family and the sigmoids are computed in extended precision
  (``np.longdouble``: a 64-bit mantissa on x86), everything else in float64;
  the results are then rounded to the dtype the public function returns
  (the input's float dtype; float64 for integers and bool; the promoted
  dtype of hidden, weight and bias for the linear losses).
* ``out=`` and ``grad_out=`` are honoured (the result is written there and
  that array returned); ``num_threads=`` and ``chunk_size=`` are accepted
  and have no effect, as they have none on the public answers.
* The arguments are assumed valid: rejecting bad input, with the messages
  the public functions give, is the public functions' job (and tested there).

``_logsumexp_parts`` and ``_extended`` give the softmax family before the
final rounding, for tests that need more precision than float64.

Examples
--------
>>> import numpy as np
>>> import fastsoftmax
>>> from fastsoftmax import slow
>>> x = np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, np.inf]])
>>> slow.softmax(x)
array([[0.09003057, 0.24472847, 0.66524096],
       [       nan,        nan,        nan]])
>>> bool(np.allclose(slow.softmax(x[:1]), fastsoftmax.softmax(x[:1]), rtol=1e-15))
True
"""
from __future__ import annotations

from typing import Any, Literal, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._typing import Array, Axis, Float, FloatArray, FloatScalar, Int, Reduced

__all__ = [
    "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "cross_entropy_and_grad", "nll_loss", "categorical_cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_and_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad",
    "sigmoid", "log_sigmoid",
    "linear_cross_entropy", "linear_cross_entropy_and_grad",
    "focal_loss", "focal_loss_and_grad", "sigmoid_focal_loss", "sigmoid_focal_loss_and_grad",
    "cross_entropy_gradient_hessian", "binary_cross_entropy_gradient_hessian",
    "softmax_backward", "log_softmax_backward",
    "kl_div", "distillation_loss", "distillation_loss_and_grad",
]

#: The precision of the softmax family and the sigmoids (float64 where the
#: platform's long double is no wider).
EXTENDED = np.longdouble

_ERRSTATE: dict[str, Any] = dict(all="ignore")


# ================================================================= dtypes

def _result_dtype(arr: Any) -> Any:
    """The public result dtype of one input: its float dtype (native byte
    order), float64 for integers and bool."""
    dt = np.asarray(arr).dtype
    return dt.newbyteorder("=") if dt.kind == "f" else np.dtype(np.float64)


def _as(arr: Any, dtype: Any) -> Any:
    return np.asarray(arr).astype(dtype)


def _deliver(value: Any, dtype: Any, out: Any) -> Any:
    """``value`` rounded to ``dtype``; written into ``out`` if given (and
    ``out`` returned), else a NumPy scalar for a 0-d result."""
    with np.errstate(**_ERRSTATE):
        value = np.asarray(value).astype(dtype)
    if out is not None:
        out[...] = value
        return out
    return value[()] if value.ndim == 0 else value


def _scalar(total: Any, dtype: Any) -> Any:
    """A reduced loss as a NumPy scalar of ``dtype``."""
    with np.errstate(**_ERRSTATE):
        return dtype.type(total)


# ================================================================= softmax family

def _logsumexp_parts(x: Any, axis: Any = -1, dtype: Any = EXTENDED) -> Any:
    """``(m, L, t)`` for finite ``x``, all in ``dtype``.

    ``m`` is the maximum along ``axis`` (kept as an axis of length one),
    ``L = log1p(sum of exp(x - m) over every element but one maximum)`` and
    ``t = x - m``.  Then ``logsumexp = m + L``, ``log_softmax = t - L`` and
    ``softmax = exp(t - L)``.  With ``np.longdouble`` (64-bit mantissa on
    x86) these are about 2000 times more precise than float64, and the
    error bounds of the tests are written in terms of ``m``, ``L`` and ``t``.
    """
    x = _as(x, dtype)
    m = np.max(x, axis=axis, keepdims=True)
    t = x - m
    e = np.exp(t)
    # one maximum out of the sum: log1p keeps the precision when it dominates
    np.put_along_axis(e, np.expand_dims(np.argmax(x, axis=axis), axis), 0, axis=axis)
    return m, np.log1p(np.sum(e, axis=axis, keepdims=True)), t


def _extended(fname: Any, x: Any, axis: Any = -1, keepdims: Any = False) -> Any:
    """softmax, log_softmax or logsumexp (``fname``) of ``x`` along an int
    ``axis``, in EXTENDED precision, not rounded to the result dtype.

    Special values are SciPy's: a slice whose maximum is not finite (a NaN, a
    +inf, or only -inf) is all NaN for softmax, the SciPy formula with the
    maximum replaced by 0 for log_softmax, and that maximum for logsumexp; an
    empty slice has a logsumexp of -inf.
    """
    x = _as(x, EXTENDED)
    if x.shape[axis] == 0:
        if fname != "logsumexp":
            return x.copy()
        shape = list(x.shape)
        shape[axis] = 1
        r = np.full(shape, -np.inf, dtype=EXTENDED)
        return r if keepdims else np.squeeze(r, axis=axis)
    with np.errstate(**_ERRSTATE):
        m = np.max(x, axis=axis, keepdims=True)
        finite = np.isfinite(m)
        m_, L, t = _logsumexp_parts(np.where(finite, x, 0), axis=axis)
        if fname == "softmax":
            r = np.where(finite, np.exp(t - L), np.nan)
        elif fname == "log_softmax":
            scipy_rows = x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))
            r = np.where(finite, t - L, scipy_rows)
        elif fname == "logsumexp":
            r = np.where(finite, m_ + L, m)
            if not keepdims:
                r = np.squeeze(r, axis=axis)
        else:
            raise ValueError(f"no extended-precision {fname!r}")
    return r


def _rows_of(x: Any, axis: Any) -> Any:
    """(array, int axis) with axis=None or a 0-d input seen as one flat row."""
    x = np.asarray(x)
    if axis is None or x.ndim == 0:
        return x.reshape(-1), -1
    return x, axis


def _normalised(fname: Any, fill: Any, x: Any, axis: Any, out: Any, where: Any,
                temperature: Any) -> Any:
    arr = np.asarray(x)
    dtype = _result_dtype(arr)
    flat, ax = _rows_of(arr, axis)
    v = _as(flat, EXTENDED)
    if temperature is not None:
        v = v / EXTENDED(temperature)
    empty = None
    if where is not None:
        keep = np.broadcast_to(np.asarray(where).astype(bool), arr.shape).reshape(flat.shape)
        v = np.where(keep, v, -np.inf)   # masked entries take no part, NaN or not
        empty = ~np.any(keep, axis=ax, keepdims=True)
    r = _extended(fname, v, axis=ax)
    if empty is not None:
        r = np.where(empty, fill, r)      # a slice with no entry left
    return _deliver(r.reshape(arr.shape), dtype, out)


@overload
def softmax(x: NDArray[Float], axis: Axis = -1, *, out: NDArray[Float] | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> NDArray[Float]: ...
@overload
def softmax(x: NDArray[Int], axis: Axis = -1, *, out: NDArray[np.float64] | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> Any: ...
def softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
            num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
            temperature: float | None = None) -> Any:
    """Reference for :func:`fastsoftmax.softmax`.

    ``exp(x - max) / sum(exp(x - max))`` as ``exp(t - L)`` (see
    :func:`_logsumexp_parts`); ``where=False`` entries get 0 and a slice with
    no True entry is all 0; ``temperature`` divides ``x`` first.
    """
    return _normalised("softmax", 0.0, x, axis, out, where, temperature)


@overload
def log_softmax(x: NDArray[Float], axis: Axis = -1, *, out: NDArray[Float] | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> NDArray[Float]: ...
@overload
def log_softmax(x: NDArray[Int], axis: Axis = -1, *, out: NDArray[np.float64] | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> NDArray[np.float64]: ...
@overload
def log_softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> Any: ...
def log_softmax(x: ArrayLike, axis: Axis = -1, *, out: Array | None = None,
                num_threads: SupportsIndex | None = None, where: ArrayLike | None = None,
                temperature: float | None = None) -> Any:
    """Reference for :func:`fastsoftmax.log_softmax`.

    ``x - max - log1p(others)``; ``where=False`` entries get -inf and a slice
    with no True entry is all -inf; ``temperature`` divides ``x`` first.
    """
    return _normalised("log_softmax", -np.inf, x, axis, out, where, temperature)


# axis=None without keepdims and out: always a scalar
@overload
def logsumexp(x: NDArray[Float], axis: None, *, keepdims: Literal[False] = False,
              out: None = None, num_threads: SupportsIndex | None = None) -> Float: ...
@overload
def logsumexp(x: NDArray[Int], axis: None, *, keepdims: Literal[False] = False,
              out: None = None, num_threads: SupportsIndex | None = None) -> np.float64: ...
@overload
def logsumexp(x: ArrayLike, axis: Axis = -1, *, keepdims: bool = False,
              out: Array | None = None, num_threads: SupportsIndex | None = None) -> Any: ...
def logsumexp(x: ArrayLike, axis: Axis = -1, *, keepdims: bool = False,
              out: Array | None = None, num_threads: SupportsIndex | None = None) -> Any:
    """Reference for :func:`fastsoftmax.logsumexp`: ``max + log1p(others)``,
    -inf over an empty axis."""
    arr = np.asarray(x)
    dtype = _result_dtype(arr)
    flat, ax = _rows_of(arr, axis)
    r = _extended("logsumexp", flat, axis=ax)
    if axis is None or arr.ndim == 0:
        r = r.reshape((1,) * arr.ndim if keepdims else ())
    elif keepdims:
        r = np.expand_dims(r, axis)
    return _deliver(r, dtype, out)


# ================================================================= sigmoid

def _sigmoid(x: Any) -> Any:
    """``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` below, ``e = exp(-|x|)``:
    full relative precision down to the subnormals."""
    with np.errstate(**_ERRSTATE):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _log_sigmoid(x: Any) -> Any:
    """``min(x, 0) - log1p(exp(-|x|))``."""
    with np.errstate(**_ERRSTATE):
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


@overload
def sigmoid(x: NDArray[Float], *, out: NDArray[Float] | None = None) -> NDArray[Float]: ...
@overload
def sigmoid(x: NDArray[Int], *, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]: ...
@overload
def sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any: ...
def sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any:
    """Reference for :func:`fastsoftmax.sigmoid` (``scipy.special.expit``,
    without its flush to 0 below 1e-308)."""
    return _deliver(_sigmoid(_as(x, EXTENDED)), _result_dtype(x), out)


@overload
def log_sigmoid(x: NDArray[Float], *, out: NDArray[Float] | None = None) -> NDArray[Float]: ...
@overload
def log_sigmoid(x: NDArray[Int], *, out: NDArray[np.float64] | None = None
                ) -> NDArray[np.float64]: ...
@overload
def log_sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any: ...
def log_sigmoid(x: ArrayLike, *, out: Array | None = None) -> Any:
    """Reference for :func:`fastsoftmax.log_sigmoid` (``scipy.special.log_expit``)."""
    return _deliver(_log_sigmoid(_as(x, EXTENDED)), _result_dtype(x), out)


# ================================================================= cross-entropy

def _reduce(per_sample: Any, denom: Any, reduction: Any, dtype: Any) -> Any:
    """"none": the per-sample losses; "sum"; "mean": the sum over ``denom``
    (0 / 0 is NaN), all summed in float64."""
    if reduction == "none":
        with np.errstate(**_ERRSTATE):
            return np.asarray(per_sample).astype(dtype)
    total = np.sum(per_sample, dtype=np.float64)
    if reduction == "sum":
        return _scalar(total, dtype)
    if reduction == "mean":
        with np.errstate(**_ERRSTATE):
            return _scalar(np.float64(total) / np.float64(denom), dtype)
    raise ValueError(f"unknown reduction {reduction!r}")


def _grad_scale(denom: Any, reduction: Any) -> Any:
    """The factor of the gradient of the reduced loss: 1 / denom for "mean"
    (0 when there is nothing to divide by: the gradient is then 0)."""
    if reduction != "mean":
        return 1.0
    return 1.0 / denom if denom != 0 else 0.0


def _row_stats(x: Any) -> Any:
    """(lse, log_softmax, softmax) of float64 rows (classes last), and
    whether each row has a distribution (its maximum is finite; the other
    rows' values are meaningless).  A row of zero classes has a logsumexp of
    -inf and counts as having one."""
    if x.shape[-1] == 0:
        lse = np.full(x.shape[:-1], -np.inf)
        return lse, x.copy(), x.copy(), np.ones(x.shape[:-1], dtype=bool)
    with np.errstate(**_ERRSTATE):
        ok = np.isfinite(np.max(x, axis=-1, keepdims=True))
        m, L, t = _logsumexp_parts(np.where(ok, x, 0.0), axis=-1, dtype=np.float64)
        logp = t - L
        return (m + L)[..., 0], logp, np.exp(logp), ok[..., 0]


def _cross_entropy_rows(raw: Any, target: Any, index: Any, weight: Any, ignore_index: Any, eps: Any,
                        z_loss: Any, softcap: Any, want_grad: Any,
                        sample_weight: Any = None) -> Any:
    """Per-sample losses, the "mean" denominator and, if asked, the gradient
    of the summed loss, for float64 logits ``raw`` with the classes last.

    PyTorch's definition with the project's documented answers:

    * index targets: ``(1 - eps) w[y] (-log p_y) + (eps / C) sum_c w_c (-log p_c)``
      (the smoothing term only when eps > 0: without smoothing a -inf logit
      other than the target's gives no ``0 * inf``), 0 for a sample whose
      target is ``ignore_index`` whatever its logits; "mean" divides by the
      summed ``w[y]`` of the other samples;
    * probability targets ``t``: ``-sum_c w_c q_c log p_c`` with
      ``q = (1 - eps) t + eps / C`` and ``0 log 0 = 0``; "mean" divides by
      the number of samples;
    * ``softcap``: the logits are ``softcap * tanh(raw / softcap)``;
      ``z_loss``: ``z_loss * lse**2`` is added to every counted sample;
    * a counted sample whose logits have no distribution (a NaN, a +inf, or
      only -inf) has a NaN loss and gradient;
    * ``sample_weight`` (float64, the batch shape, or None): each sample's loss
      and gradient times its weight ``s_i``, and the denominator is the sum of
      ``s_i`` times the sample's unweighted share (``w[y_i]``, 0 if ignored; 1
      for probability targets).
    """
    x = raw if softcap is None else softcap * np.tanh(raw / softcap)
    n_classes = x.shape[-1]
    w = np.ones(n_classes) if weight is None else _as(weight, np.float64)
    lse, logp, p, ok = _row_stats(x)
    with np.errstate(**_ERRSTATE):
        if index:
            t = np.asarray(target).astype(np.int64)
            keep = t != ignore_index
            y = np.where(keep, t, 0)
            if n_classes:
                logp_y = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
                w_y = np.where(keep, w[y], 0.0)
            else:  # no class: every sample is ignored
                logp_y = w_y = np.zeros(y.shape)
            per = (1 - eps) * w_y * -logp_y   # NaN for eps = 1 and -inf at y, as torch
            if eps > 0:
                per = per + (eps / n_classes) * np.sum(w * -logp, axis=-1)
            counted = keep
            denom = np.sum(w_y)
        else:
            q = (1 - eps) * _as(target, np.float64) + (eps / n_classes if n_classes else 0)
            per = -np.sum(np.where(q == 0, 0.0, w * q * logp), axis=-1)
            counted = np.ones(per.shape, dtype=bool)
            denom = per.size
        if z_loss:
            per = per + z_loss * lse ** 2
        per = np.where(ok, per, np.nan)
        per = np.where(counted, per, 0.0)
        if not want_grad:
            if sample_weight is not None:
                return _sample_weighted(per, denom, None, index, w_y if index else None,
                                        sample_weight)
            return per, denom, None
        if index:
            q = np.zeros(x.shape)
            if n_classes:
                np.put_along_axis(q, y[..., None], ((1 - eps) * w_y)[..., None], axis=-1)
            if eps > 0:
                q = q + (eps / n_classes) * w
        else:
            q = w * q
        g = p * np.sum(q, axis=-1, keepdims=True) - q
        if z_loss:
            g = g + 2 * z_loss * lse[..., None] * p
        if softcap is not None:
            g = g * (1 - np.tanh(raw / softcap) ** 2)
        g = np.where(ok[..., None], g, np.nan)
        g = np.where(counted[..., None], g, 0.0)
    if sample_weight is not None:
        per, denom, g = _sample_weighted(per, denom, g, index, w_y if index else None,
                                         sample_weight)
    return per, denom, g


def _sample_weighted(per: Any, denom: Any, g: Any, index: Any, w_y: Any, s: Any) -> Any:
    """(per, denom, g) of :func:`_cross_entropy_rows` with each sample
    weighted by ``s``: ``s_i l_i``, ``sum_i s_i d_i`` (``d_i = w[y_i]``, 0 if
    ignored, or 1 for probability targets) and ``s_i g_i``."""
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(**_ERRSTATE):
        per = per * s
        denom = np.sum(s * w_y) if index else np.sum(s)
        if g is not None:
            g = g * s[..., None]
    return per, denom, g


def _cross_entropy(logits: Any, target: Any, axis: Any, weight: Any, ignore_index: Any,
                   label_smoothing: Any, reduction: Any, z_loss: Any, softcap: Any, want_grad: Any,
                   grad_out: Any, sample_weight: Any = None) -> Any:
    arr = np.asarray(logits)
    dtype = _result_dtype(arr)
    raw = np.moveaxis(_as(arr, np.float64), axis, -1)
    t = np.asarray(target)
    index = t.dtype.kind in "iu"
    if not index:
        t = np.moveaxis(t, axis, -1)
    per, denom, g = _cross_entropy_rows(
        raw, t, index, weight, ignore_index, float(label_smoothing), float(z_loss),
        None if softcap is None else float(softcap), want_grad,
        None if sample_weight is None else _as(sample_weight, np.float64))
    loss = _reduce(per, denom, reduction, dtype)
    if not want_grad:
        return loss
    g = np.moveaxis(g * _grad_scale(denom, reduction), -1, axis)
    return loss, _deliver(g, dtype, grad_out)


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
    """Reference for :func:`fastsoftmax.cross_entropy` (see
    :func:`_cross_entropy_rows` for the definition)."""
    return _cross_entropy(logits, target, axis, weight, ignore_index, label_smoothing,
                          reduction, z_loss, softcap, False, None, sample_weight)


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
    """Reference for :func:`fastsoftmax.cross_entropy_and_grad`: the loss and
    ``softmax * sum(q) - q`` (plus ``2 z_loss lse softmax``, times the
    softcap's ``1 - tanh**2``) times the reduction's scale."""
    return _cross_entropy(logits, target, axis, weight, ignore_index, label_smoothing,
                          reduction, z_loss, softcap, True, grad_out, sample_weight)


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
    """Reference for :func:`fastsoftmax.nll_loss`: ``-w[y] log_probs[y]``, 0 for
    an ignored sample; "mean" divides by the summed ``w[y]`` of the others."""
    arr = np.asarray(log_probs)
    dtype = _result_dtype(arr)
    lp = np.moveaxis(_as(arr, np.float64), axis, -1)
    n_classes = lp.shape[-1]
    w = np.ones(n_classes) if weight is None else _as(weight, np.float64)
    t = np.asarray(target).astype(np.int64)
    keep = t != ignore_index
    y = np.where(keep, t, 0)
    if n_classes:
        picked = np.take_along_axis(lp, y[..., None], axis=-1)[..., 0]
        w_y = np.where(keep, w[y], 0.0)
    else:
        picked = w_y = np.zeros(t.shape)
    with np.errstate(**_ERRSTATE):
        per = np.where(keep, -w_y * picked, 0.0)
    return _reduce(per, np.sum(w_y), reduction, dtype)


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
    """Reference for :func:`fastsoftmax.categorical_cross_entropy`:
    ``-sum(t log p)`` with ``p`` clipped to ``[eps, 1 - eps]`` and ``0 log p = 0``
    (a target of the shape of ``probs``) or ``-log p[y]`` (class indices);
    "mean" divides by the number of samples."""
    arr = np.asarray(probs)
    dtype = _result_dtype(arr)
    p = np.clip(np.moveaxis(_as(arr, np.float64), axis, -1), eps, 1.0 - eps)
    t = np.asarray(target)
    with np.errstate(**_ERRSTATE):
        if t.shape == arr.shape:
            tm = np.moveaxis(_as(t, np.float64), axis, -1)
            per = -np.sum(np.where(tm == 0, 0.0, tm * np.log(p)), axis=-1)
        else:
            y = t.astype(np.intp)[..., None]
            per = -np.log(np.take_along_axis(p, y, axis=-1)[..., 0])
    return _reduce(per, per.size, reduction, dtype)


# ================================================================= binary losses

def _binary_finish(loss: Any, grad: Any, reduction: Any, dtype: Any,
                   sample_weight: Any = None) -> Any:
    """Reduced (and the gradient scaled): "mean" over the elements, or with
    ``sample_weight`` (the input's shape) ``sum(s l) / sum(s)`` (gradient
    ``s g / sum(s)``, 0 where ``sum(s)`` is 0)."""
    if sample_weight is not None:
        s = _as(sample_weight, np.float64)
        with np.errstate(**_ERRSTATE):
            loss = loss * s
            grad = None if grad is None else grad * s
        n = np.sum(s)
        value = _reduce(loss, n, reduction, dtype)
        if grad is None:
            return value
        grad = grad * _grad_scale(n, reduction)
        with np.errstate(**_ERRSTATE):
            return value, np.asarray(grad).astype(dtype)
    n = loss.size
    value = _reduce(loss, n, reduction, dtype)
    if grad is None:
        return value
    if reduction == "mean" and n:
        grad = grad / n
    with np.errstate(**_ERRSTATE):
        return value, np.asarray(grad).astype(dtype)


def _bce(probs: Any, target: Any, weight: Any, reduction: Any, want_grad: Any,
         sample_weight: Any = None) -> Any:
    """torch's binary cross-entropy: each log clamped at -100, the gradient's
    denominator ``p (1 - p)`` at float32(1e-12)."""
    dtype = _result_dtype(probs)
    p = _as(probs, np.float64)
    t = _as(target, np.float64)
    with np.errstate(**_ERRSTATE):
        loss = -(t * np.maximum(np.log(p), -100.0)
                 + (1 - t) * np.maximum(np.log1p(-p), -100.0))
        grad = (p - t) / np.maximum((1 - p) * p, float(np.float32(1e-12))) if want_grad \
            else None
        if weight is not None:
            w = _as(weight, np.float64)
            loss = loss * w
            grad = None if grad is None else grad * w
    return _binary_finish(loss, grad, reduction, dtype, sample_weight)


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
    """Reference for :func:`fastsoftmax.binary_cross_entropy`:
    ``-w (t max(log p, -100) + (1 - t) max(log(1 - p), -100))``."""
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
    """Reference for :func:`fastsoftmax.binary_cross_entropy_and_grad`: the
    loss and ``w (p - t) / max(p (1 - p), 1e-12)``, scaled by the reduction."""
    return _bce(probs, target, weight, reduction, True, sample_weight)


def _bce_with_logits(logits: Any, target: Any, weight: Any, pos_weight: Any, reduction: Any,
                     want_grad: Any, sample_weight: Any = None) -> Any:
    """``w ((1 - t) x + (1 + (pw - 1) t) softplus(-x))`` and its gradient
    ``w ((1 + (pw - 1) t) sigmoid(x) - pw t)``."""
    dtype = _result_dtype(logits)
    x = _as(logits, np.float64)
    t = _as(target, np.float64)
    pw = 1.0 if pos_weight is None else _as(pos_weight, np.float64)
    with np.errstate(**_ERRSTATE):
        lw = 1 + (pw - 1) * t
        loss = (1 - t) * x + lw * -_log_sigmoid(x)
        grad = lw * _sigmoid(x) - pw * t if want_grad else None
        if weight is not None:
            w = _as(weight, np.float64)
            loss = loss * w
            grad = None if grad is None else grad * w
    loss = np.broadcast_to(loss, x.shape)
    grad = None if grad is None else np.broadcast_to(grad, x.shape)
    return _binary_finish(loss, grad, reduction, dtype, sample_weight)


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
    """Reference for :func:`fastsoftmax.binary_cross_entropy_with_logits`."""
    return _bce_with_logits(logits, target, weight, pos_weight, reduction, False, sample_weight)


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
    """Reference for :func:`fastsoftmax.binary_cross_entropy_with_logits_and_grad`."""
    return _bce_with_logits(logits, target, weight, pos_weight, reduction, True, sample_weight)


# ================================================================= linear cross-entropy

def _linear_cross_entropy(hidden: Any, weight: Any, target: Any, bias: Any, ignore_index: Any,
                          label_smoothing: Any, reduction: Any, z_loss: Any, softcap: Any,
                          want_grad: Any, sample_weight: Any = None) -> Any:
    """cross_entropy of the full float64 logits ``hidden @ weight.T + bias``
    (no class weights: "mean" divides by the number of counted samples)."""
    arrays = [np.asarray(a) for a in (hidden, weight, bias) if a is not None]
    dtype = np.result_type(*(a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
                             for a in arrays)).newbyteorder("=")
    h = _as(hidden, np.float64)
    w = _as(weight, np.float64)
    rows = h.reshape(int(np.prod(h.shape[:-1])), h.shape[-1])
    logits = rows @ w.T
    if bias is not None:
        logits = logits + _as(bias, np.float64)
    t = np.asarray(target).reshape(-1)
    per, denom, g = _cross_entropy_rows(
        logits, t, True, None, ignore_index, float(label_smoothing), float(z_loss),
        None if softcap is None else float(softcap), want_grad,
        None if sample_weight is None else _as(sample_weight, np.float64).reshape(-1))
    if reduction == "none":
        loss = per.reshape(h.shape[:-1]).astype(dtype)
    else:
        loss = _reduce(per, denom, reduction, dtype)
    if not want_grad:
        return loss
    g = g * _grad_scale(denom, reduction)
    grads = [(g @ w).reshape(h.shape), g.T @ rows]
    if bias is not None:
        grads.append(np.sum(g, axis=0))
    return (loss,) + tuple(a.astype(dtype) for a in grads)


@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, reduction: Reduced = "mean",
                         z_loss: float = 0.0, softcap: float | None = None,
                         chunk_size: SupportsIndex | None = None,
                         num_threads: SupportsIndex | None = None,
                         sample_weight: ArrayLike | None = None) -> FloatScalar: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, reduction: Literal["none"],
                         z_loss: float = 0.0, softcap: float | None = None,
                         chunk_size: SupportsIndex | None = None,
                         num_threads: SupportsIndex | None = None,
                         sample_weight: ArrayLike | None = None) -> FloatArray: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, reduction: str = "mean", z_loss: float = 0.0,
                         softcap: float | None = None, chunk_size: SupportsIndex | None = None,
                         num_threads: SupportsIndex | None = None,
                         sample_weight: ArrayLike | None = None) -> Any: ...
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, reduction: str = "mean", z_loss: float = 0.0,
                         softcap: float | None = None, chunk_size: SupportsIndex | None = None,
                         num_threads: SupportsIndex | None = None,
                         sample_weight: ArrayLike | None = None) -> Any:
    """Reference for :func:`fastsoftmax.linear_cross_entropy`: the
    cross-entropy of the full logits ``hidden @ weight.T + bias``."""
    return _linear_cross_entropy(hidden, weight, target, bias, ignore_index,
                                 label_smoothing, reduction, z_loss, softcap, False, sample_weight)


# without bias: (loss, grad_hidden, grad_weight)
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: None = None, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: Reduced = "mean",
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatScalar, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: None = None, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: Literal["none"],
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatArray, FloatArray, FloatArray]: ...
# with bias: (loss, grad_hidden, grad_weight, grad_bias)
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: ArrayLike, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: Reduced = "mean",
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatScalar, FloatArray, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: ArrayLike, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: Literal["none"],
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None
                                 ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: str = "mean",
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None) -> tuple[Any, ...]: ...
def linear_cross_entropy_and_grad(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                                  bias: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                                  label_smoothing: float = 0.0, reduction: str = "mean",
                                  z_loss: float = 0.0, softcap: float | None = None,
                                  chunk_size: SupportsIndex | None = None,
                                  num_threads: SupportsIndex | None = None,
                                  sample_weight: ArrayLike | None = None) -> Any:
    """Reference for :func:`fastsoftmax.linear_cross_entropy_and_grad`:
    ``(loss, G @ weight, G.T @ hidden[, G.sum(0)])`` with ``G`` the gradient
    of the loss with respect to the full logits."""
    return _linear_cross_entropy(hidden, weight, target, bias, ignore_index,
                                 label_smoothing, reduction, z_loss, softcap, True, sample_weight)


# ================================================================= focal losses

def _focal(logits: Any, target: Any, gamma: Any, alpha: Any, axis: Any, ignore_index: Any,
           reduction: Any, want_grad: Any) -> Any:
    """Softmax focal loss ``-alpha[y] (1 - p_y)**gamma log p_y`` of float64
    logits, classes moved last, and the gradient of the summed loss::

        d/dz_c = alpha[y] (q**gamma - gamma q**(gamma - 1) p_y log p_y) (p_c - [c == y])

    with ``q = 1 - p_y = -expm1(log p_y)``; where ``q = 0`` the factor is its
    limit (1 for gamma = 0, else 0), and ``p_y log p_y`` is 0 where
    ``p_y = 0``.  "mean" divides by the number of non-ignored samples.  A
    counted sample without a distribution is NaN (loss and gradient row),
    an ignored one 0."""
    arr = np.asarray(logits)
    dtype = _result_dtype(arr)
    x = np.moveaxis(_as(arr, np.float64), axis, -1)
    g = float(gamma)
    n_classes = x.shape[-1]
    a = np.ones(n_classes) if alpha is None else _as(alpha, np.float64)
    t = np.asarray(target).astype(np.int64)
    keep = t != ignore_index
    y = np.where(keep, t, 0)
    lse, logp, p, ok = _row_stats(x)
    with np.errstate(**_ERRSTATE):
        if n_classes:
            logp_y = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
            a_y = a[y]
        else:  # no class: every sample is ignored
            logp_y = a_y = np.zeros(y.shape)
        p_y = np.exp(logp_y)
        q = -np.expm1(logp_y)
        per = -a_y * q ** g * logp_y
        per = np.where(ok, per, np.nan)
        per = np.where(keep, per, 0.0)
        denom = np.count_nonzero(keep)
        loss = _reduce(per, denom, reduction, dtype)
        if not want_grad:
            return loss
        plogp = np.where(p_y > 0, p_y * logp_y, 0.0)
        safe_q = np.where(q > 0, q, 1.0)
        k = np.where(q > 0, q ** g - g * safe_q ** (g - 1) * plogp, 1.0 if g == 0 else 0.0)
        k = a_y * k
        onehot = np.zeros(x.shape)
        if n_classes:
            np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
        grad = k[..., None] * (p - onehot)
        grad = np.where(ok[..., None], grad, np.nan)
        grad = np.where(keep[..., None], grad, 0.0) * _grad_scale(denom, reduction)
    return loss, _deliver(np.moveaxis(grad, -1, axis), dtype, None)


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
    """Reference for :func:`fastsoftmax.focal_loss` (see :func:`_focal`)."""
    return _focal(logits, target, gamma, alpha, axis, ignore_index, reduction, False)


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
    """Reference for :func:`fastsoftmax.focal_loss_and_grad` (see :func:`_focal`)."""
    return _focal(logits, target, gamma, alpha, axis, ignore_index, reduction, True)


def _sigmoid_focal(logits: Any, target: Any, alpha: Any, gamma: Any, reduction: Any,
                   want_grad: Any) -> Any:
    """torchvision's sigmoid focal loss in float64: ``ce (1 - p_t)**gamma``
    (times ``alpha t + (1 - alpha)(1 - t)`` for alpha >= 0), ``ce`` the
    BCE with logits ``-(t log p + (1 - t) log(1 - p))`` (torch's special
    values: NaN at x = -inf), ``1 - p_t`` written as
    ``sigmoid(-x) t + sigmoid(x) (1 - t)``; the gradient by the chain rule::

        d/dx = a_t ((p - t) w**gamma + ce gamma w**(gamma - 1) p (1 - p) (1 - 2t))

    with ``w = 1 - p_t``, the second term taken as its limit 0 where
    ``p (1 - p) = 0`` (saturated and infinite logits) and for gamma = 0."""
    dtype = _result_dtype(logits)
    x = _as(logits, np.float64)
    t = _as(target, np.float64)
    g = float(gamma)
    with np.errstate(**_ERRSTATE):
        p = _sigmoid(x)
        pn = _sigmoid(-x)
        # -(t log p + (1 - t) log(1 - p)); at x = -inf torch's form
        # (1 - t) x + softplus(-x) is inf - inf: NaN whatever t
        ce = -(t * _log_sigmoid(x) + (1 - t) * _log_sigmoid(-x))
        ce = np.where(x == -np.inf, np.nan, ce)
        w = pn * t + p * (1 - t)
        a_t = 1.0 if alpha is None or alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
        loss = np.broadcast_to(a_t * (ce * w ** g), x.shape)
        if not want_grad:
            return _binary_finish(loss, None, reduction, dtype)
        ppn = p * pn
        second = np.where((ppn == 0) | (g == 0), 0.0,
                          ce * g * np.where(w != 0, w, 1.0) ** (g - 1) * ppn * (1 - 2 * t))
        grad = np.broadcast_to(a_t * ((p - t) * w ** g + second), x.shape)
    return _binary_finish(loss, grad, reduction, dtype)


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
    """Reference for :func:`fastsoftmax.sigmoid_focal_loss` (see :func:`_sigmoid_focal`)."""
    return _sigmoid_focal(logits, target, alpha, gamma, reduction, False)


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
    """Reference for :func:`fastsoftmax.sigmoid_focal_loss_and_grad` (see
    :func:`_sigmoid_focal`)."""
    return _sigmoid_focal(logits, target, alpha, gamma, reduction, True)


# ================================================================= gradient boosting

def _gh_deliver(g: Any, h: Any, dtype: Any, gradient_out: Any, hessian_out: Any) -> Any:
    """(gradient, hessian) rounded to ``dtype``, written into the ``*_out``
    arrays when given."""
    return (_deliver(g, dtype, gradient_out) if gradient_out is not None
            else np.asarray(_deliver(g, dtype, None)),
            _deliver(h, dtype, hessian_out) if hessian_out is not None
            else np.asarray(_deliver(h, dtype, None)))


def cross_entropy_gradient_hessian(raw_prediction: ArrayLike, target: ArrayLike, *,
                                   sample_weight: ArrayLike | None = None,
                                   axis: SupportsIndex = -1,
                                   gradient_out: Array | None = None,
                                   hessian_out: Array | None = None,
                                   num_threads: SupportsIndex | None = None
                                   ) -> tuple[FloatArray, FloatArray]:
    """Reference for :func:`fastsoftmax.cross_entropy_gradient_hessian`:
    ``s (p - onehot(y))`` and ``s p (1 - p)`` with ``p`` the float64 softmax
    over the class axis; NaN for a sample without a distribution."""
    arr = np.asarray(raw_prediction)
    dtype = _result_dtype(arr)
    x = np.moveaxis(_as(arr, np.float64), axis, -1)
    y = np.asarray(target).astype(np.int64)
    _, _, p, ok = _row_stats(x)
    onehot = np.zeros(x.shape)
    if x.size:
        np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
    s = np.ones(y.shape) if sample_weight is None else _as(sample_weight, np.float64)
    with np.errstate(**_ERRSTATE):
        g = s[..., None] * (p - onehot)
        h = s[..., None] * (p * (1 - p))
    g = np.where(ok[..., None], g, np.nan)
    h = np.where(ok[..., None], h, np.nan)
    result: tuple[FloatArray, FloatArray] = _gh_deliver(
        np.moveaxis(g, -1, axis), np.moveaxis(h, -1, axis), dtype, gradient_out, hessian_out)
    return result


def binary_cross_entropy_gradient_hessian(raw_prediction: ArrayLike, target: ArrayLike, *,
                                          sample_weight: ArrayLike | None = None,
                                          gradient_out: Array | None = None,
                                          hessian_out: Array | None = None,
                                          num_threads: SupportsIndex | None = None
                                          ) -> tuple[FloatArray, FloatArray]:
    """Reference for :func:`fastsoftmax.binary_cross_entropy_gradient_hessian`:
    ``s ((1 - y) sigmoid(x) - y sigmoid(-x))`` and ``s sigmoid(x) sigmoid(-x)``
    in extended precision (``p - y`` and ``p (1 - p)`` without cancellation)."""
    arr = np.asarray(raw_prediction)
    dtype = _result_dtype(arr)
    x = _as(arr, EXTENDED)
    t = _as(target, EXTENDED).reshape(x.shape)
    s = (np.ones(x.shape, dtype=EXTENDED) if sample_weight is None
         else _as(sample_weight, EXTENDED).reshape(x.shape))
    with np.errstate(**_ERRSTATE):
        p, q = _sigmoid(x), _sigmoid(-x)
        g = s * ((1 - t) * p - t * q)
        h = s * (p * q)
    result: tuple[FloatArray, FloatArray] = _gh_deliver(g, h, dtype, gradient_out, hessian_out)
    return result


# ================================================================= softmax backward

def _backward_deliver(r: Any, dtype: Any, out: Any) -> FloatArray:
    """``r`` rounded to ``dtype`` (an array, 0-d included), or written into ``out``."""
    result: FloatArray = np.asarray(_deliver(r, dtype, out))
    return out if out is not None else result


def _backward_dtype(g: Any, y: Any) -> Any:
    kinds = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in (g, y)]
    return np.result_type(*kinds).newbyteorder("=")


def softmax_backward(grad_output: ArrayLike, output: ArrayLike, *, axis: SupportsIndex = -1,
                     out: Array | None = None,
                     num_threads: SupportsIndex | None = None) -> FloatArray:
    """Reference for :func:`fastsoftmax.softmax_backward`:
    ``y (g - sum(g y))`` in extended precision."""
    g, y = np.asarray(grad_output), np.asarray(output)
    dtype = _backward_dtype(g, y)
    ge, ye = _as(g, EXTENDED), _as(y, EXTENDED)
    ax = None if g.ndim == 0 else axis
    with np.errstate(**_ERRSTATE):
        r = ye * (ge - np.sum(ge * ye, axis=ax, keepdims=True))
    return _backward_deliver(r, dtype, out)


def log_softmax_backward(grad_output: ArrayLike, output: ArrayLike, *,
                         axis: SupportsIndex = -1, out: Array | None = None,
                         num_threads: SupportsIndex | None = None) -> FloatArray:
    """Reference for :func:`fastsoftmax.log_softmax_backward`:
    ``g - exp(y) sum(g)`` in extended precision."""
    g, y = np.asarray(grad_output), np.asarray(output)
    dtype = _backward_dtype(g, y)
    ge, ye = _as(g, EXTENDED), _as(y, EXTENDED)
    ax = None if g.ndim == 0 else axis
    with np.errstate(**_ERRSTATE):
        r = ge - np.exp(ye) * np.sum(ge, axis=ax, keepdims=True)
    return _backward_deliver(r, dtype, out)


# ================================================================= divergences

def _xlogy_self(p: Any) -> Any:
    """``p * log(p)`` with 0 at ``p == 0`` (torch's ``xlogy(p, p)``): NaN for
    a negative or NaN ``p``, +inf for +inf."""
    with np.errstate(**_ERRSTATE):
        return np.where(p == 0, 0.0, p * np.log(p))


def kl_div(input: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
           reduction: str = "mean", log_target: bool = False,
           num_threads: SupportsIndex | None = None) -> Any:
    """Reference for :func:`fastsoftmax.kl_div` (``torch.nn.functional.kl_div``):
    the pointwise ``xlogy(t, t) - t * input`` (``exp(t) * (t - input)`` with
    ``log_target``), in float64; "batchmean" divides by the number of
    distributions (every dimension but ``axis``)."""
    arr = np.asarray(input)
    dtype = _result_dtype(arr)
    x = _as(arr, np.float64)
    t = _as(target, np.float64)
    with np.errstate(**_ERRSTATE):
        per = np.exp(t) * (t - x) if log_target else _xlogy_self(t) - t * x
    if reduction == "none":
        return _deliver(per, dtype, None)
    if reduction == "batchmean":
        ax = int(axis) % max(arr.ndim, 1)
        rows = int(np.prod([n for i, n in enumerate(arr.shape) if i != ax]))
        return _reduce(per, rows, "mean", dtype)
    return _reduce(per, per.size, reduction, dtype)


def _log_softmax_rows(z: Any) -> Any:
    """log_softmax of float64 rows (classes last), written as torch's:
    ``z - max - log(sum(exp(z - max)))`` (a row with a NaN, a +inf or only
    -inf comes out NaN)."""
    with np.errstate(**_ERRSTATE):
        m = np.max(z, axis=-1, keepdims=True)
        return (z - m) - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def _distillation(student_logits: Any, teacher_logits: Any, temperature: Any, target: Any,
                  alpha: Any, ignore_index: Any, axis: Any, want_grad: Any,
                  grad_out: Any = None) -> Any:
    """The torch expression ``alpha * CE(s, y) + (1 - alpha) * T**2 *
    kl_div(log_softmax(s / T), softmax(t / T), "batchmean")`` on float64 rows
    (without targets ``T**2 * kl_div(...)``), and its gradient."""
    arr = np.asarray(student_logits)
    dtype = _result_dtype(arr)
    ax = int(axis) % arr.ndim
    s = np.moveaxis(_as(arr, np.float64), ax, -1)
    t = np.moveaxis(_as(teacher_logits, np.float64), ax, -1)
    T, a = float(temperature), float(alpha)
    s = s.reshape(int(np.prod(s.shape[:-1])), s.shape[-1])
    t = t.reshape(s.shape)
    n, c = s.shape
    with np.errstate(**_ERRSTATE):
        if c:
            logq = _log_softmax_rows(s / T)
            p = np.exp(_log_softmax_rows(t / T))
        else:
            logq = p = np.zeros(s.shape)
        kl = np.sum(_xlogy_self(p) - p * logq) / np.float64(n)
        loss = T ** 2 * kl
        g = (1.0 - a if target is not None else 1.0) * T * (np.exp(logq) - p) / n if n else s
        if target is not None:
            y = np.asarray(target).reshape(-1).astype(np.int64)
            keep = y != int(ignore_index)
            n_valid = int(keep.sum())
            yk = np.where(keep, y, 0)
            logs = _log_softmax_rows(s) if c else s
            picked = (np.take_along_axis(logs, yk[:, None], axis=-1)[:, 0] if c
                      else np.zeros(n))
            ce = np.sum(np.where(keep, -picked, 0.0)) / np.float64(n_valid)
            loss = a * ce + (1.0 - a) * T ** 2 * kl
            if n_valid and n:
                onehot = np.zeros(s.shape)
                if c:
                    np.put_along_axis(onehot, yk[:, None], 1.0, axis=-1)
                g = g + np.where(keep[:, None], a * (np.exp(logs) - onehot) / n_valid, 0.0)
    value = _scalar(loss, dtype)
    if not want_grad:
        return value
    shape = np.moveaxis(arr, ax, -1).shape
    g = np.moveaxis(np.asarray(g).reshape(shape), -1, ax)
    return value, _deliver(g, dtype, grad_out)


def distillation_loss(student_logits: ArrayLike, teacher_logits: ArrayLike, *,
                      temperature: float = 1.0, target: ArrayLike | None = None,
                      alpha: float = 0.5, ignore_index: SupportsIndex = -100,
                      axis: SupportsIndex = -1,
                      num_threads: SupportsIndex | None = None) -> FloatScalar:
    """Reference for :func:`fastsoftmax.distillation_loss`."""
    loss: FloatScalar = _distillation(student_logits, teacher_logits, temperature, target,
                                      alpha, ignore_index, axis, False)
    return loss


def distillation_loss_and_grad(student_logits: ArrayLike, teacher_logits: ArrayLike, *,
                               temperature: float = 1.0, target: ArrayLike | None = None,
                               alpha: float = 0.5, ignore_index: SupportsIndex = -100,
                               axis: SupportsIndex = -1,
                               num_threads: SupportsIndex | None = None,
                               grad_out: Array | None = None
                               ) -> tuple[FloatScalar, FloatArray]:
    """Reference for :func:`fastsoftmax.distillation_loss_and_grad`: the loss
    and the gradient of the torch expression w.r.t. the student's logits."""
    result: tuple[FloatScalar, FloatArray] = _distillation(
        student_logits, teacher_logits, temperature, target, alpha, ignore_index, axis, True,
        grad_out)
    return result
