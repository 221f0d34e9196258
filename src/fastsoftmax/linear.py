"""Cross-entropy of a linear layer's output without materialising the logits.

``linear_cross_entropy(hidden, weight, target)`` is
``cross_entropy(hidden @ weight.T + bias, target)`` -- the last layer of a
language model and its loss -- computed block by block, so that the
``(N, V)`` logits (2 GiB for 4096 tokens and a 131072-word vocabulary in
float32) never exist: only one tile of logits (about 32 MB) and O(N) per-row
state live at any time.  The matrix products are NumPy's (BLAS, float32 for
float32 inputs); the softmax work is fastsoftmax's compiled kernels.

Two tilings are used:

* **Row blocks over the whole vocabulary** (the default with gradients
  whenever a block of at least 64 rows -- or all rows -- of full-width
  logits fits the tile budget, i.e. V up to 131072 in float32; and for small
  problems): each block's logits go through the fused cross-entropy kernel
  of :func:`fastsoftmax.cross_entropy`, which gives the loss and
  ``dL/dlogits`` in one pass; the gradient needs no recomputation (three
  matrix products in all, as an unfused framework).
* **Row blocks x vocabulary tiles** (the default for the loss alone --
  blocks of up to 1024 rows make the most efficient products -- and for
  larger vocabularies, or ``chunk_size`` smaller than V): the per-row
  logsumexp is merged across tiles exactly, in float64 (``logaddexp`` of
  each tile's logsumexp); the target logit is taken from the tile that
  holds it and, for label smoothing, the row sums of the logits are
  accumulated.  The gradient recomputes each tile in a second pass, once the
  row's logsumexp is known (four products).
"""
from __future__ import annotations

import math
from typing import Any, Literal, Optional, SupportsIndex, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _pool
from ._crossentropy import (CrossEntropyOptions, CrossEntropyProblem, VocabularyTiles,
                            check_sample_weight)
from ._threads import resolve
from ._typing import Array, FloatArray, FloatScalar, Reduced
from ._validation import check_int, kernel_array, promoted_float_dtypes, real_array

__all__ = ["linear_cross_entropy", "linear_cross_entropy_and_grad"]

# (grad_hidden, grad_weight, grad_bias or None) being accumulated, or None
_Grads = Optional[tuple[Array, Array, Optional[Array]]]

#: Bytes of logits in one tile (default tiling).  The gradient pass holds a
#: second array of this size (dL/dlogits) and chunk-sized temporaries.
TILE_BYTES = 32 << 20
#: With gradients, the whole-vocabulary tiling (three matrix products instead
#: of four) is used when a block of at least this many rows (or all of them)
#: fits in TILE_BYTES; below, the products get too thin.
MIN_BLOCK_ROWS = 64
#: Rows per block of the default tiling of the loss alone (and of the
#: vocabulary-tiled gradient): tall blocks make the most efficient products.
#: Measured single-threaded at N=4096: tiles of 1024 rows x 8192 words beat
#: whole-vocabulary blocks of 262 rows by 8% (D=1024, V=32000) and of 64 rows
#: by 25% (D=512, V=131072).
TILED_BLOCK_ROWS = 1024


# ----------------------------------------------------------------- checking

def _check_chunk_size(value: object) -> int | None:
    if value is None:
        return None
    v = check_int(value, "chunk_size")
    if v < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {v}")
    return v


class _Problem:
    """Validated inputs in compute dtype, with the row and tile geometry."""

    def __init__(self, hidden: ArrayLike, weight: ArrayLike, target: ArrayLike,
                 bias: ArrayLike | None, ignore_index: SupportsIndex, label_smoothing: float,
                 reduction: str, z_loss: float, softcap: float | None,
                 chunk_size: SupportsIndex | None, want_grad: bool = True,
                 sample_weight: ArrayLike | None = None) -> None:
        h = real_array(hidden, "hidden")
        w = real_array(weight, "weight")
        b = None if bias is None else real_array(bias, "bias")
        if h.ndim < 1:
            raise ValueError("hidden must have at least one dimension (the features)")
        if w.ndim != 2:
            raise ValueError(f"weight must be 2-D (vocabulary, features), got shape {w.shape}")
        if w.shape[1] != h.shape[-1]:
            raise ValueError(f"hidden has {h.shape[-1]} features but weight has shape "
                             f"{w.shape} (expected (V, {h.shape[-1]}))")
        self.V, self.D = w.shape
        if self.V == 0:
            raise ValueError("weight has no rows: the vocabulary is empty")
        if b is not None and b.shape != (self.V,):
            raise ValueError(f"bias must have shape ({self.V},), got {b.shape}")
        self.compute, self.result = promoted_float_dtypes(*(a for a in (h, w, b) if a is not None))
        options = CrossEntropyOptions(reduction, z_loss, softcap, ignore_index, label_smoothing)
        chunk_size = _check_chunk_size(chunk_size)
        sw = check_sample_weight(sample_weight, h.shape[:-1], "hidden's shape without the "
                                 "feature axis")
        # the loss of the (N..., V) logits, class axis last
        self.ce = CrossEntropyProblem(h.shape[:-1] + (self.V,), h.ndim - 1, self.compute,
                                      self.result, target, None, options, index_only=True,
                                      sample_weight=None if sw is None
                                      else sw.reshape(h.shape[:-1]))
        self.hidden_shape = h.shape
        n_rows = self.ce.nrows
        self.H = np.ascontiguousarray(h.reshape(n_rows, self.D), dtype=self.compute)
        self.N = self.H.shape[0]
        self.W = w  # cast tile by tile when its dtype is not the compute dtype
        self.W_ready = w.dtype == self.compute
        self.bias = None if b is None else np.ascontiguousarray(b, dtype=self.compute)
        self.t = self.ce.target_rows()
        assert self.ce.targets is not None  # index_only: class indices
        self.keep = self.ce.targets.keep

        item = self.compute.itemsize
        V, N = self.V, max(self.N, 1)
        whole_rows = TILE_BYTES // (V * item)
        tiled_vt = max(1, TILE_BYTES // (min(N, TILED_BLOCK_ROWS) * item))
        if chunk_size is None:
            if want_grad:
                full = whole_rows >= min(N, MIN_BLOCK_ROWS)
            else:  # no recomputation to avoid: the tallest blocks win
                full = tiled_vt >= V
            vt = V if full else tiled_vt
        else:
            vt = min(chunk_size, V)
            full = vt == V
        self.full = full
        self.vt = vt
        self.nb = max(1, min(N, TILE_BYTES // (vt * item)))

    def weight_rows(self, v0: int, v1: int) -> Array:
        """weight[v0:v1] in the compute dtype."""
        wt = self.W[v0:v1]
        return wt if self.W_ready else wt.astype(self.compute)

    def logits(self, out: Array, Hb: Array, v0: int, v1: int) -> Array:
        """``Hb @ weight[v0:v1].T + bias[v0:v1]`` into ``out`` (rows, v1 - v0)."""
        if self.W_ready:
            np.matmul(Hb, self.W[v0:v1].T, out=out)
        else:
            step = max(1, TILE_BYTES // max(1, self.D * 8))  # bound the cast copies
            for a in range(v0, v1, step):
                b = min(a + step, v1)
                np.matmul(Hb, self.weight_rows(a, b).T, out=out[:, a - v0:b - v0])
        if self.bias is not None:
            out += self.bias[v0:v1]
        return out

    def finish(self, loss_rows: Array) -> Array | FloatScalar:
        # the sum: pairwise over the rows, in a fixed order (thread-count independent)
        total = None if self.ce.options.reduction == "none" else loss_rows.sum()
        return self.ce.finish(total, loss_rows)


def _tile(buf: Array, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    """The first ``shape`` elements of the flat scratch ``buf`` as the array a
    driver is handed (a fresh buffer: always a kernel array)."""
    tile = kernel_array(buf[:math.prod(shape)], dtype, writable=True, shape=shape)
    assert tile is not None
    return tile


def _matmul_into(a: Array, b: Array, out: Array, accumulate: bool, tmp: Array) -> None:
    """``out (+)= a @ b``; with ``accumulate`` through ``tmp`` (a 2-D scratch
    array of out's column count), row chunk by row chunk of ``out``."""
    if not accumulate:
        np.matmul(a, b, out=out)
        return
    step = tmp.shape[0]
    for r0 in range(0, out.shape[0], step):
        r1 = min(r0 + step, out.shape[0])
        t = tmp[:r1 - r0]
        np.matmul(a[r0:r1], b, out=t)
        out[r0:r1] += t


def _grad_hidden(G: Array, wt: Array, out: Array, accumulate: bool) -> None:
    """``out (+)= G @ wt`` (rows x D), computed as ``(wt.T @ G.T).T``: OpenBLAS
    runs this product with a long inner dimension and few rows 2-4 times faster
    in the transposed orientation (measured with G of 262 x 32000)."""
    t = np.matmul(wt.T, G.T)  # (D, rows): a small temporary
    if accumulate:
        out += t.T
    else:
        out[...] = t.T


def _scratch(rows_hint: int, ncols: int, dtype: np.dtype[Any]) -> Array:
    """A 2-D scratch array of about TILE_BYTES // 2 for _matmul_into."""
    rows = max(1, min(rows_hint, (TILE_BYTES // 2) // max(1, ncols * dtype.itemsize)))
    return np.empty((rows, ncols), dtype=dtype)


# ----------------------------------------------------------------- the two tilings

def _whole_vocab(p: _Problem, loss_rows: Array, grads: _Grads, nt: int) -> None:
    """Row blocks of full-vocabulary logits through the fused kernel."""
    N, V, D, nb = p.N, p.V, p.D, p.nb
    L = np.empty(nb * V, dtype=p.compute)
    G = np.empty(nb * V, dtype=p.compute) if grads else None
    if grads:
        gh, gw, gb = grads
        tmp = _scratch(V, D, p.compute)
    for r0 in range(0, N, nb):
        r1 = min(r0 + nb, N)
        n = r1 - r0
        Hb, Lb = p.H[r0:r1], _tile(L, (n, V), p.compute)
        p.logits(Lb, Hb, 0, V)
        Gb = None if G is None else _tile(G, (n, V), p.compute)
        p.ce.run(Lb, p.t[r0:r1], loss_rows=loss_rows[r0:r1], grad=Gb, x_is_scratch=True,
                 n_threads=nt, first_row=r0)
        if Gb is None:  # no gradients
            continue
        # grad_hidden rows = G @ W; grad_weight += G.T @ H_block; grad_bias += sum G
        if p.W_ready:
            _grad_hidden(Gb, p.W, gh[r0:r1], False)
        else:
            step = max(1, TILE_BYTES // max(1, D * 8))
            for a in range(0, V, step):
                b = min(a + step, V)
                _grad_hidden(Gb[:, a:b], p.weight_rows(a, b), gh[r0:r1], a > 0)
        _matmul_into(Gb.T, Hb, gw, r0 > 0, tmp)
        if gb is not None:
            gb += Gb.sum(axis=0, dtype=np.float64)


def _vocab_tiles(p: _Problem, loss_rows: Array, grads: _Grads, nt: int) -> None:
    """Row blocks x vocabulary tiles; the loss and gradient arithmetic is
    :class:`~fastsoftmax._crossentropy.VocabularyTiles`'."""
    N, V, D, nb, vt = p.N, p.V, p.D, p.nb, p.vt
    buf = np.empty(nb * vt, dtype=p.compute)
    capped = p.ce.options.softcap is not None
    dbuf = np.empty(nb * vt, dtype=p.compute) if grads and capped else None
    tile_lse = np.empty(nb, dtype=p.compute)
    if grads:
        gh, gw, gb = grads
        tmp_w = _scratch(vt, D, p.compute)

    def tile(Hb: Array, v0: int, v1: int) -> Array:
        L = _tile(buf, (Hb.shape[0], v1 - v0), p.compute)
        p.logits(L, Hb, v0, v1)
        return p.ce.capped(L)

    for r0 in range(0, N, nb):
        r1 = min(r0 + nb, N)
        n = r1 - r0
        Hb = p.H[r0:r1]
        rows = VocabularyTiles(p.ce, p.t[r0:r1], p.keep[r0:r1], first_row=r0)
        tl = _tile(tile_lse, (n,), p.compute)
        # pass 1: per-row logsumexp, target logit and (smoothing) logit sum
        for v0 in range(0, V, vt):
            v1 = min(v0 + vt, V)
            rows.add_tile(tile(Hb, v0, v1), v0, v1, tl, nt)
        loss_rows[r0:r1] = rows.losses()
        if not grads:
            continue

        # pass 2: dL/dlogits tile by tile (recomputed), chained into the grads
        rows.begin_gradient()
        for v0 in range(0, V, vt):
            v1 = min(v0 + vt, V)
            G = tile(Hb, v0, v1)
            d = None if dbuf is None else dbuf[:G.size].reshape(G.shape)
            rows.gradient(G, v0, v1, d)
            if gb is not None:
                gb[v0:v1] += G.sum(axis=0, dtype=np.float64)
            _grad_hidden(G, p.weight_rows(v0, v1), gh[r0:r1], v0 > 0)
            _matmul_into(G.T, Hb, gw[v0:v1], r0 > 0, tmp_w)


def _linear_ce(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, bias: ArrayLike | None,
               ignore_index: SupportsIndex, label_smoothing: float, reduction: str,
               z_loss: float, softcap: float | None, chunk_size: SupportsIndex | None,
               num_threads: SupportsIndex | None, want_grad: bool,
               sample_weight: ArrayLike | None = None) -> Any:
    p = _Problem(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
                 z_loss, softcap, chunk_size, want_grad, sample_weight)
    nt = resolve(num_threads, p.nb * p.vt)
    loss_rows = np.zeros(p.N, dtype=np.float64)
    grads = None
    if want_grad:
        alloc = np.empty if p.N else np.zeros  # no rows: zero weight gradient
        gh = _pool.empty((p.N, p.D), p.compute)
        gw = alloc((p.V, p.D), dtype=p.compute)
        gb = None if p.bias is None else np.zeros(p.V, dtype=np.float64)
        grads = (gh, gw, gb)
    if p.N:
        (_whole_vocab if p.full else _vocab_tiles)(p, loss_rows, grads, nt)
    loss = p.finish(loss_rows)
    if not want_grad:
        return loss
    out: tuple[Any, ...] = (loss, gh.reshape(p.hidden_shape).astype(p.result, copy=False),
           gw.astype(p.result, copy=False))
    if gb is not None:
        out += (gb.astype(p.result),)
    return out


_PARAMS_DOC = """
    Parameters
    ----------
    hidden : array_like
        Features, shape ``(N, D)`` or ``(..., D)``.
    weight : array_like
        The output layer's weight, shape ``(V, D)`` (``torch.nn.Linear``
        layout): the logits are ``hidden @ weight.T``.
    target : array_like of int
        Class indices in ``[0, V)`` (or ``ignore_index``), shape
        ``hidden.shape[:-1]``; any integer dtype.
    bias : array_like, optional
        Shape ``(V,)``, added to the logits.
    ignore_index : int, optional
        Samples with this target contribute neither loss nor gradient.
    label_smoothing : float, optional
        In [0, 1], as :func:`fastsoftmax.cross_entropy`.
    reduction : {"mean", "sum", "none"}, optional
        "mean" divides by the number of non-ignored samples (NaN if there
        are none; the gradients are then 0), or by their summed
        ``sample_weight``.
    z_loss : float, optional
        Adds ``z_loss * lse**2`` per non-ignored sample (PaLM), ``lse`` the
        logsumexp of its (capped) logits; "mean" uses the same denominator.
    softcap : float, optional
        The loss sees ``softcap * tanh(logits / softcap)`` (Gemma).
    chunk_size : int, optional
        Width of the vocabulary tiles (``chunk_size >= V``: the whole
        vocabulary for each block of rows).  Default: tiles of about 32 MB of
        logits -- for the loss alone, blocks of up to 1024 rows by as many
        words as fit; with gradients, the whole vocabulary for blocks of at
        least 64 rows (V up to 131072 in float32), else the same tiles as
        for the loss.
    num_threads : int, optional
        Threads of fastsoftmax's kernels for this call.  The matrix products
        run in NumPy's BLAS with its own thread setting
        (``threadpoolctl.threadpool_limits(user_api="blas")`` limits it).
    sample_weight : array_like, optional
        Per-sample weights, exactly the shape ``hidden.shape[:-1]`` (of
        ``target``), real and finite, as :func:`fastsoftmax.cross_entropy`'s:
        each sample's loss and gradients are multiplied by its weight and
        "mean" divides by the summed weights of the non-ignored samples.
"""


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
    """Cross-entropy of ``hidden @ weight.T + bias`` without storing the logits.

    The same loss as ``cross_entropy(hidden @ weight.T + bias, target)``
    (PyTorch semantics: ``F.cross_entropy(F.linear(hidden, weight, bias),
    target)``), computed over blocks of rows and tiles of the vocabulary so
    that the extra memory is O(N + tile), independent of V (about 32 MB of
    logits at a time instead of N x V).
    %s
    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the inputs' (promoted) float dtype; per-sample
        losses of shape ``hidden.shape[:-1]`` for ``reduction="none"``.

    See Also
    --------
    linear_cross_entropy_and_grad : the loss and its gradients.
    fastsoftmax.cross_entropy : the loss of given logits.

    Notes
    -----
    float32 inputs use float32 matrix products; the loss is accumulated in
    float64.  The per-row logsumexp across vocabulary tiles is merged in
    float64, exactly.  The result does not depend on fastsoftmax's thread
    count (BLAS may round differently for other thread counts).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import linear_cross_entropy, cross_entropy
    >>> rng = np.random.default_rng(0)
    >>> hidden = rng.standard_normal((6, 4))
    >>> weight = rng.standard_normal((10, 4))
    >>> target = np.array([1, 3, 5, 7, 9, -100])
    >>> loss = linear_cross_entropy(hidden, weight, target)
    >>> bool(np.isclose(loss, cross_entropy(hidden @ weight.T, target)))
    True
    >>> tiled = linear_cross_entropy(hidden, weight, target, chunk_size=3)
    >>> bool(np.isclose(loss, tiled))
    True
    >>> s = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    >>> weighted = linear_cross_entropy(hidden, weight, target, sample_weight=s)
    >>> bool(np.isclose(weighted, cross_entropy(hidden @ weight.T, target, sample_weight=s)))
    True
    """
    return _linear_ce(hidden, weight, target, bias, ignore_index, label_smoothing,
                      reduction, z_loss, softcap, chunk_size, num_threads, False, sample_weight)


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
    """:func:`linear_cross_entropy` and its gradients, without storing the logits.

    With ``G = dL/dlogits`` computed tile by tile (see
    :func:`fastsoftmax.cross_entropy_and_grad`), ``grad_hidden = G @ weight``,
    ``grad_weight = G.T @ hidden`` and ``grad_bias = G.sum(0)``, accumulated
    over the tiles; ``G`` itself is never stored whole.
    %s
    Returns
    -------
    loss : scalar or ndarray
        As :func:`linear_cross_entropy`.
    grad_hidden : ndarray
        Shape of ``hidden``.
    grad_weight : ndarray
        Shape ``(V, D)``.
    grad_bias : ndarray
        Shape ``(V,)``; returned only when ``bias`` is given.

    Notes
    -----
    The gradients are those of the reduced loss (for ``reduction="none"``,
    of the sum of the per-sample losses), in the inputs' promoted float dtype.
    With the default tiling (the whole vocabulary per block of rows) the
    fused kernel yields each block's loss and ``G`` in one pass: three
    matrix products in all.  With vocabulary tiles, a first pass finds each
    row's logsumexp and a second recomputes the tiles (four products).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import linear_cross_entropy_and_grad, cross_entropy_and_grad
    >>> rng = np.random.default_rng(0)
    >>> hidden = rng.standard_normal((6, 4))
    >>> weight = rng.standard_normal((10, 4))
    >>> bias = rng.standard_normal(10)
    >>> target = np.array([1, 3, 5, 7, 9, 0])
    >>> loss, gh, gw, gb = linear_cross_entropy_and_grad(hidden, weight, target, bias=bias)
    >>> ref_loss, g = cross_entropy_and_grad(hidden @ weight.T + bias, target)
    >>> bool(np.isclose(loss, ref_loss)), np.allclose(gh, g @ weight)
    (True, True)
    >>> np.allclose(gw, g.T @ hidden), np.allclose(gb, g.sum(axis=0))
    (True, True)
    """
    return _linear_ce(hidden, weight, target, bias, ignore_index, label_smoothing,
                      reduction, z_loss, softcap, chunk_size, num_threads, True, sample_weight)


if linear_cross_entropy.__doc__ is not None:  # None under python -OO
    linear_cross_entropy.__doc__ = linear_cross_entropy.__doc__ % _PARAMS_DOC
if linear_cross_entropy_and_grad.__doc__ is not None:
    linear_cross_entropy_and_grad.__doc__ = linear_cross_entropy_and_grad.__doc__ % _PARAMS_DOC
