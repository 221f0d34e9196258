"""Pure-NumPy reference implementations, written from the definitions.

Used by the tests (as an independent check of the compiled kernels) and by
the benchmarks (as the "NumPy" baseline).  Clear rather than fast: every
function works on a float64 (or wider) copy with the class axis last and
follows docs/SEMANTICS (SciPy for the softmax family, PyTorch for the losses).
"""
from __future__ import annotations

import numpy as np

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy",
           "cross_entropy_grad", "nll_loss", "masked_softmax", "masked_log_softmax",
           "linear_cross_entropy", "linear_cross_entropy_grad"]


def _max_shift(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(x, axis=-1, keepdims=False, dtype=np.float64):
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


def softmax(x, axis=-1, dtype=np.float64):
    """exp(x - max) / sum; a row whose max is not finite is NaN (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1, dtype=np.float64):
    """(x - max) - log(sum(exp(x - max))), non-finite max replaced by 0 (SciPy)."""
    x = np.asarray(x, dtype=dtype)
    ms = _max_shift(x, axis)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        t = x - ms
        return t - np.log(np.sum(np.exp(t), axis=axis, keepdims=True))


def _reduce(loss, denom, reduction):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return loss.sum() / denom


def _softcap(x, softcap):
    return x if softcap is None else softcap * np.tanh(x / softcap)


def _no_distribution(x):
    """Rows (last axis) whose max is not finite; an empty row has a loss of 0."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1], dtype=bool)
    return ~np.isfinite(np.max(x, axis=-1))


def cross_entropy(logits, target, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", dtype=np.float64,
                  z_loss=0.0, softcap=None):
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


def cross_entropy_grad(logits, target, weight=None, ignore_index=-100,
                       label_smoothing=0.0, reduction="mean", dtype=np.float64,
                       z_loss=0.0, softcap=None):
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


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean",
             dtype=np.float64):
    """torch.nn.functional.nll_loss with the class axis last."""
    lp = np.asarray(log_probs, dtype=dtype)
    c = lp.shape[-1]
    w = np.ones(c, dtype=dtype) if weight is None else np.asarray(weight, dtype=dtype)
    target = np.asarray(target)
    keep = target != ignore_index
    y = np.where(keep, target, 0).astype(np.intp)
    picked = np.take_along_axis(lp, y[..., None], axis=-1)[..., 0]
    wy = w[y] * keep
    loss = np.where(keep, -wy * picked, 0.0)
    return _reduce(loss, wy.sum(), reduction)


def _masked_input(x, where, temperature, axis, dtype):
    x = np.asarray(x, dtype=dtype)
    if temperature is not None:
        x = x / temperature
    if where is None:
        return x, None
    mask = np.broadcast_to(np.asarray(where, dtype=bool), x.shape)
    with np.errstate(invalid="ignore"):
        return np.where(mask, x, -np.inf), np.any(mask, axis=axis, keepdims=True)


def masked_softmax(x, axis=-1, where=None, temperature=None, dtype=np.float64):
    """softmax(x / temperature) over the entries where ``where`` is True; the
    others get 0, and a row with no True entry is all 0."""
    xm, any_true = _masked_input(x, where, temperature, axis, dtype)
    r = softmax(xm, axis=axis, dtype=dtype)
    return r if any_true is None else np.where(any_true, r, 0.0)


def masked_log_softmax(x, axis=-1, where=None, temperature=None, dtype=np.float64):
    """log_softmax(x / temperature) over the entries where ``where`` is True;
    the others get -inf, and a row with no True entry is all -inf."""
    xm, any_true = _masked_input(x, where, temperature, axis, dtype)
    r = log_softmax(xm, axis=axis, dtype=dtype)
    return r if any_true is None else np.where(any_true, r, -np.inf)


def _linear_logits(hidden, weight, bias, dtype):
    h = np.asarray(hidden, dtype=dtype)
    logits = h.reshape(-1, h.shape[-1]) @ np.asarray(weight, dtype=dtype).T
    if bias is not None:
        logits = logits + np.asarray(bias, dtype=dtype)
    return logits


def linear_cross_entropy(hidden, weight, target, bias=None, ignore_index=-100,
                         label_smoothing=0.0, reduction="mean", z_loss=0.0,
                         softcap=None, dtype=np.float64):
    """cross_entropy(hidden @ weight.T + bias, target) with the full logits."""
    logits = _linear_logits(hidden, weight, bias, dtype)
    t = np.asarray(target).reshape(-1)
    loss = cross_entropy(logits, t, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, reduction=reduction,
                         dtype=dtype, z_loss=z_loss, softcap=softcap)
    return loss.reshape(np.shape(target)) if reduction == "none" else loss


def linear_cross_entropy_grad(hidden, weight, target, bias=None, ignore_index=-100,
                              label_smoothing=0.0, reduction="mean", z_loss=0.0,
                              softcap=None, dtype=np.float64):
    """(grad_hidden, grad_weight, grad_bias or None) of linear_cross_entropy,
    by the chain rule through the full logits' gradient."""
    h = np.asarray(hidden, dtype=dtype)
    w = np.asarray(weight, dtype=dtype)
    logits = _linear_logits(h, w, bias, dtype)
    g = cross_entropy_grad(logits, np.asarray(target).reshape(-1),
                           ignore_index=ignore_index, label_smoothing=label_smoothing,
                           reduction=reduction, dtype=dtype, z_loss=z_loss,
                           softcap=softcap)
    gh = (g @ w).reshape(h.shape)
    gw = g.T @ h.reshape(-1, h.shape[-1])
    gb = None if bias is None else g.sum(axis=0)
    return gh, gw, gb
