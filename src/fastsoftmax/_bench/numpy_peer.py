"""The "numpy" column of the benchmark: softmax, log_softmax, logsumexp, the
cross-entropy (loss and gradient), the focal losses, kl_div and the
distillation loss (and gradient) written in plain NumPy, computed in the
input's dtype (``dtype=``), as a NumPy user would write them.

A peer, like the torch bindings, not a reference: results are checked
against :mod:`fastsoftmax.slow` (the public names and signatures, extended
precision), whose float64 / long-double arithmetic is what makes it a good
reference and a poor stand-in for what NumPy users run.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .._typing import Array

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_grad",
           "focal_loss_and_grad", "sigmoid_focal_loss_and_grad", "kl_div",
           "distillation_loss_and_grad"]

# The results are Any: an array or a NumPy scalar depending on the shape and
# the reduction, as NumPy's own annotations of these operations have them.


def _max_shift(x: Array, axis: int) -> Array:
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(x: ArrayLike, axis: int = -1, keepdims: bool = False,
              dtype: DTypeLike = np.float64) -> Any:
    """log(sum(exp(x))) as max + log1p(sum of the non-max terms)."""
    x = np.asarray(x, dtype=dtype)
    if x.shape[axis] == 0:
        shape = list(x.shape)
        shape[axis] = 1
        r = np.full(shape, -np.inf, dtype=dtype)
        return r if keepdims else np.squeeze(r, axis=axis)
    m = np.max(x, axis=axis, keepdims=True)
    finite = np.isfinite(m)
    ms = np.where(finite, m, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - ms)
        # take exactly one max term out of the sum (SciPy's precision trick)
        idx = np.argmax(x, axis=axis)
        idx = np.expand_dims(idx, axis)
        np.put_along_axis(e, idx, 0, axis=axis)
        s = np.sum(e, axis=axis, keepdims=True)
        r = np.where(finite, np.log1p(s) + ms, m)
    return r if keepdims else np.squeeze(r, axis=axis)


def softmax(x: ArrayLike, axis: int = -1, dtype: DTypeLike = np.float64) -> Any:
    """exp(x - max) / sum; a row whose max is not finite is NaN (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1, dtype: DTypeLike = np.float64) -> Any:
    """(x - max) - log(sum(exp(x - max))), non-finite max replaced by 0 (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    ms = _max_shift(x, axis)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        t = x - ms
        return t - np.log(np.sum(np.exp(t), axis=axis, keepdims=True))


def _reduce(loss: Array, denom: float, reduction: str) -> Any:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return loss.sum() / denom


def _softcap(x: Array, softcap: float | None) -> Array:
    return x if softcap is None else softcap * np.tanh(x / softcap)


def _no_distribution(x: Array) -> Any:
    """Rows (last axis) whose max is not finite; an empty row has a loss of 0."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1], dtype=bool)
    return ~np.isfinite(np.max(x, axis=-1))


def cross_entropy(logits: ArrayLike, target: ArrayLike, weight: ArrayLike | None = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0, reduction: str = "mean",
                  dtype: DTypeLike = np.float64, z_loss: float = 0.0,
                  softcap: float | None = None) -> Any:
    """torch.nn.functional.cross_entropy with the class axis last.

    Integer targets: indices, shape = logits.shape[:-1].  Float targets:
    probabilities, same shape as logits (xlogy convention: 0 * log 0 = 0).
    ``softcap``: the logits are replaced by ``softcap * tanh(logits / softcap)``
    first.  ``z_loss``: ``z_loss * logsumexp(logits)**2`` is added to each
    non-ignored sample's loss (before the reduction, same denominator).
    """
    x = _softcap(np.asarray(logits, dtype=dtype), softcap)
    c = x.shape[-1]
    w = np.ones(c, dtype=dtype) if weight is None else np.asarray(weight, dtype=dtype)
    eps = float(label_smoothing)
    logp = log_softmax(x, axis=-1, dtype=dtype)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        keep = target != ignore_index
        y = np.where(keep, target, 0).astype(np.intp)
        picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        wy = w[y] * keep
        with np.errstate(invalid="ignore"):
            loss = (1 - eps) * wy * -picked
            if eps:  # (no 0 * inf when there is no smoothing)
                loss = loss + (eps / c) * -(logp * w).sum(axis=-1)
        if z_loss:
            loss = loss + z_loss * logsumexp(x, dtype=dtype) ** 2
        # torch: a row with a NaN, a +inf or only -inf has no distribution
        loss = np.where(_no_distribution(x), np.nan, loss)
        loss = np.where(keep, loss, 0.0)  # ignored rows: 0 whatever the logits
        return _reduce(loss, wy.sum(), reduction)
    t = np.asarray(target, dtype=dtype)
    t = (1 - eps) * t + eps / c
    with np.errstate(invalid="ignore"):
        terms = np.where(t == 0, 0.0, w * t * logp)
    loss = -terms.sum(axis=-1)
    if z_loss:
        loss = loss + z_loss * logsumexp(x, dtype=dtype) ** 2
    loss = np.where(_no_distribution(x), np.nan, loss)
    return _reduce(loss, loss.size, reduction)


def cross_entropy_grad(logits: ArrayLike, target: ArrayLike, weight: ArrayLike | None = None,
                       ignore_index: int = -100, label_smoothing: float = 0.0,
                       reduction: str = "mean", dtype: DTypeLike = np.float64,
                       z_loss: float = 0.0, softcap: float | None = None) -> Any:
    """Gradient of the reduced cross_entropy w.r.t. logits (reduction "none":
    gradient of the sum).  z-loss adds ``2 z lse softmax`` per non-ignored
    sample; the softcap multiplies by ``1 - tanh(logits / softcap)**2``."""
    raw = np.asarray(logits, dtype=dtype)
    x = _softcap(raw, softcap)
    c = x.shape[-1]
    w = np.ones(c, dtype=dtype) if weight is None else np.asarray(weight, dtype=dtype)
    eps = float(label_smoothing)
    p = softmax(x, axis=-1, dtype=dtype)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        keep = target != ignore_index
        y = np.where(keep, target, 0).astype(np.intp)
        q = (eps / c) * np.broadcast_to(w, x.shape).copy()
        onehot = np.zeros_like(x)
        np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
        q += (1 - eps) * onehot * w[y][..., None]
        q *= keep[..., None]
        denom = (w[y] * keep).sum()
    else:
        t = (1 - eps) * np.asarray(target, dtype=dtype) + eps / c
        q = w * t
        denom = x[..., 0].size
        keep = np.ones(x.shape[:-1], dtype=bool)
    g = p * q.sum(axis=-1, keepdims=True) - q
    if z_loss:
        lse = np.where(keep, logsumexp(x, dtype=dtype), 0.0)
        g = g + (2 * z_loss * lse)[..., None] * np.where(keep[..., None], p, 0.0)
    if softcap is not None:
        g = g * (1 - np.tanh(raw / softcap) ** 2)
    g = np.where(keep[..., None], g, 0.0)  # ignored rows: 0 whatever the logits
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / denom if denom != 0 else np.zeros_like(g)
    return g


def focal_loss_and_grad(logits: Any, target: Any, gamma: Any = 2.0,
                        dtype: Any = np.float64) -> Any:
    """Mean softmax focal loss ``-(1 - p_y)**gamma log p_y`` of valid class
    indices (class axis last) and its gradient
    ``(q**gamma - gamma q**(gamma - 1) p_y log p_y) (p - onehot) / N``."""
    x = np.asarray(logits, dtype=dtype)
    logp = log_softmax(x, axis=-1, dtype=dtype)
    y = np.asarray(target).astype(np.intp)[..., None]
    logp_y = np.take_along_axis(logp, y, axis=-1)[..., 0]
    p_y = np.exp(logp_y)
    q = 1 - p_y
    qg = q ** gamma
    n = max(1, logp_y.size)
    loss = -(qg * logp_y).sum() / n
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (qg - gamma * q ** (gamma - 1) * p_y * logp_y) / n
    g = np.exp(logp) * k[..., None]
    np.put_along_axis(g, y, np.take_along_axis(g, y, axis=-1) - k[..., None], axis=-1)
    return loss, g


def sigmoid_focal_loss_and_grad(logits: Any, target: Any, alpha: Any = 0.25, gamma: Any = 2.0,
                                dtype: Any = np.float64) -> Any:
    """torchvision's sigmoid focal loss, elementwise ("none"), and the
    gradient of its sum."""
    x = np.asarray(logits, dtype=dtype)
    t = np.asarray(target, dtype=dtype)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        p = 1 / (1 + np.exp(-x))
        ce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        w = 1 - (p * t + (1 - p) * (1 - t))
        a_t = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else 1.0
        wg = w ** gamma
        loss = a_t * ce * wg
        grad = a_t * ((p - t) * wg + ce * gamma * w ** (gamma - 1) * p * (1 - p) * (1 - 2 * t))
    return loss, grad


def kl_div(x: Any, target: Any, reduction: Any = "batchmean", dtype: Any = np.float64) -> Any:
    """torch.nn.functional.kl_div (target holds probabilities): the pointwise
    ``xlogy(t, t) - t * x``, "batchmean" over the rows (class axis last)."""
    x = np.asarray(x, dtype=dtype)
    t = np.asarray(target, dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(t == 0, 0, t * np.log(t)) - t * x
    if reduction == "batchmean":
        return loss.sum() / (loss.size // max(1, x.shape[-1]) if x.ndim else 1)
    return _reduce(loss, loss.size, reduction)


def distillation_loss_and_grad(s: Any, t: Any, target: Any, temperature: Any = 1.0,
                               alpha: Any = 0.5, ignore_index: Any = -100,
                               dtype: Any = np.float64) -> Any:
    """``alpha * CE(s, y) + (1 - alpha) T**2 KL(softmax(t / T) || softmax(s / T))``
    ("batchmean": over the rows) and its gradient w.r.t. ``s``, class axis last."""
    s = np.asarray(s, dtype=dtype)
    T = float(temperature)
    Td = np.asarray(T, dtype=dtype)
    logq = log_softmax(s / Td, dtype=dtype)
    p = softmax(np.asarray(t, dtype=dtype) / Td, dtype=dtype)
    n = s.size // max(1, s.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.sum(np.where(p == 0, 0, p * (np.log(p) - logq))) / n
    ce = cross_entropy(s, target, ignore_index=ignore_index, dtype=dtype)
    loss = alpha * ce + (1 - alpha) * T ** 2 * kl
    grad = (alpha * cross_entropy_grad(s, target, ignore_index=ignore_index, dtype=dtype)
            + ((1 - alpha) * T / n) * (np.exp(logq) - p))
    return loss, grad.astype(dtype, copy=False)
