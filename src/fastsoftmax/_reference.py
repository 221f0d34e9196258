"""The benchmarks' NumPy baseline: softmax, log_softmax, logsumexp, the
cross-entropy (loss and gradient), kl_div and the distillation loss (and
gradient) in plain NumPy, computed in the input's
dtype (``dtype=``), as a NumPy user would write them.

Not a test reference: the tests compare against :mod:`fastsoftmax.slow`
(the same names and signatures as the public functions, extended precision).
This module stays only while ``fastsoftmax._bench``, ``benchmarks/`` and
``tools/bench.py`` time it; it goes when they move to ``fastsoftmax.slow``
(whose float64 / long-double computation would change what they measure).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_grad",
           "kl_div", "distillation_loss_and_grad"]


def _max_shift(x: Any, axis: Any) -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(x: Any, axis: Any = -1, keepdims: Any = False, dtype: Any = np.float64) -> Any:
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


def softmax(x: Any, axis: Any = -1, dtype: Any = np.float64) -> Any:
    """exp(x - max) / sum; a row whose max is not finite is NaN (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: Any, axis: Any = -1, dtype: Any = np.float64) -> Any:
    """(x - max) - log(sum(exp(x - max))), non-finite max replaced by 0 (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    ms = _max_shift(x, axis)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        t = x - ms
        return t - np.log(np.sum(np.exp(t), axis=axis, keepdims=True))


def _reduce(loss: Any, denom: Any, reduction: Any) -> Any:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return loss.sum() / denom


def _softcap(x: Any, softcap: Any) -> Any:
    return x if softcap is None else softcap * np.tanh(x / softcap)


def _no_distribution(x: Any) -> Any:
    """Rows (last axis) whose max is not finite; an empty row has a loss of 0."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1], dtype=bool)
    return ~np.isfinite(np.max(x, axis=-1))


def cross_entropy(logits: Any, target: Any, weight: Any = None, ignore_index: Any = -100,
                  label_smoothing: Any = 0.0, reduction: Any = "mean", dtype: Any = np.float64,
                  z_loss: Any = 0.0, softcap: Any = None) -> Any:
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


def cross_entropy_grad(logits: Any, target: Any, weight: Any = None, ignore_index: Any = -100,
                       label_smoothing: Any = 0.0, reduction: Any = "mean", dtype: Any = np.float64,
                       z_loss: Any = 0.0, softcap: Any = None) -> Any:
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
