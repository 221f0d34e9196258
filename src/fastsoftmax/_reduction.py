"""Reducing per-sample losses: the mean's scale and the final division.

Every loss (the fused cross-entropy, the linear layer's, the Dask front end's,
and the NumPy losses) reduces through these functions, so "mean" means one
thing everywhere: the sum of the per-sample losses divided by a denominator
(see docs/semantics.md), and the gradient is that of the reduced loss.

Two different operations are used, on purpose, and must stay as they are
(they are what every result has been computed with):

* the gradient is *multiplied* by ``scale = 1 / denominator``, inside the
  kernel (one multiplication per element, no second pass);
* the loss total is *divided* by the denominator, once, afterwards.

``x * (1 / d)`` and ``x / d`` can differ in the last bit; the loss keeps the
correctly rounded quotient.

The plain cross-entropy call's driver (``_core.cross_entropy_index_plain``)
counts its own denominator and applies these same two operations in the same
double arithmetic (scale 0 for a zero denominator, NaN loss for "mean").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import Array, FloatScalar


def gradient_scale(reduction: str, denominator: float | None) -> float:
    """The factor the gradient is multiplied by: ``1 / denominator`` for
    "mean" (0 when the denominator is 0 -- every sample ignored -- so that the
    gradient is 0, not NaN, as in torch), 1 for "sum" and "none"."""
    if reduction != "mean":
        return 1.0
    assert denominator is not None  # "mean" always has one
    return 1.0 / denominator if denominator != 0 else 0.0


def reduced_loss(total: float, denominator: float | None, reduction: str,
                 dtype: np.dtype[np.floating[Any]]) -> FloatScalar:
    """The reduced loss (a NumPy scalar of ``dtype``) from the float64 sum of
    the per-sample losses: divided by ``denominator`` for "mean" (NaN for an
    empty batch, as in torch)."""
    total = np.float64(total)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / np.float64(denominator)
    return dtype.type(total)


def reduce_losses(loss: Array, denominator: float | None, reduction: str,
                  dtype: np.dtype[np.floating[Any]]) -> Array | FloatScalar:
    """Per-sample losses reduced: themselves in ``dtype`` for "none", else
    :func:`reduced_loss` of their float64 (pairwise) sum."""
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    return reduced_loss(loss.sum(dtype=np.float64), denominator, reduction, dtype)
