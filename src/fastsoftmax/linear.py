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

import numpy as np

from . import _core
from ._threads import resolve
from ._validation import (_COMPUTE, as_array, check_fraction, check_index_target,
                          check_int, check_reduction)
from .losses import _ce_rows, _check_softcap, _check_z_loss

__all__ = ["linear_cross_entropy", "linear_cross_entropy_and_grad"]

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

def _float_array(value, name):
    arr = as_array(value, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") not in _COMPUTE:
        raise TypeError(f"{name} has dtype {arr.dtype}, which is not supported: use "
                        "float16, float32 or float64")
    return arr


def _dtypes(*arrays):
    """(compute, result) dtypes: the promoted float type of the inputs
    (integers and bool count as float64), computed in float32 for float16."""
    kinds = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in arrays]
    result = np.result_type(*kinds).newbyteorder("=")
    return _COMPUTE[result], result


def _check_chunk_size(value):
    if value is None:
        return None
    v = check_int(value, "chunk_size")
    if v < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {v}")
    return v


class _Problem:
    """Validated inputs in compute dtype, with the row and tile geometry."""

    def __init__(self, hidden, weight, target, bias, ignore_index, label_smoothing,
                 reduction, z_loss, softcap, chunk_size, want_grad=True):
        h = _float_array(hidden, "hidden")
        w = _float_array(weight, "weight")
        b = None if bias is None else _float_array(bias, "bias")
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
        self.compute, self.result = _dtypes(*(a for a in (h, w, b) if a is not None))
        self.reduction = check_reduction(reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index")
        self.eps = check_fraction(label_smoothing, "label_smoothing")
        self.z_loss = _check_z_loss(z_loss)
        self.softcap = _check_softcap(softcap)
        chunk_size = _check_chunk_size(chunk_size)

        tarr = as_array(target, "target")
        if tarr.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class indices, got dtype {tarr.dtype}")
        self.batch_shape = h.shape[:-1]
        check_index_target(tarr, self.batch_shape, self.V, self.ignore_index)
        self.hidden_shape = h.shape
        n_rows = int(np.prod(h.shape[:-1], dtype=np.int64))
        self.H = np.ascontiguousarray(h.reshape(n_rows, self.D), dtype=self.compute)
        self.N = self.H.shape[0]
        self.W = w  # cast tile by tile when its dtype is not the compute dtype
        self.W_ready = w.dtype == self.compute
        self.bias = None if b is None else np.ascontiguousarray(b, dtype=self.compute)
        self.t = np.ascontiguousarray(tarr, dtype=np.int64).reshape(-1)
        self.keep = self.t != self.ignore_index
        self.denom = float(np.count_nonzero(self.keep))
        if self.reduction == "mean":
            self.scale = 1.0 / self.denom if self.denom else 0.0
        else:
            self.scale = 1.0

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

    def weight_rows(self, v0, v1):
        """weight[v0:v1] in the compute dtype."""
        wt = self.W[v0:v1]
        return wt if self.W_ready else wt.astype(self.compute)

    def logits(self, out, Hb, v0, v1):
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

    def finish(self, loss_rows):
        if self.reduction == "none":
            return loss_rows.reshape(self.batch_shape).astype(self.result)
        total = loss_rows.sum()  # pairwise, fixed order: thread-count independent
        if self.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = np.float64(total) / np.float64(self.denom)
        return self.result.type(total)


def _matmul_into(a, b, out, accumulate, tmp):
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


def _grad_hidden(G, wt, out, accumulate):
    """``out (+)= G @ wt`` (rows x D), computed as ``(wt.T @ G.T).T``: OpenBLAS
    runs this product with a long inner dimension and few rows 2-4 times faster
    in the transposed orientation (measured with G of 262 x 32000)."""
    t = np.matmul(wt.T, G.T)  # (D, rows): a small temporary
    if accumulate:
        out += t.T
    else:
        out[...] = t.T


def _scratch(rows_hint, ncols, dtype):
    """A 2-D scratch array of about TILE_BYTES // 2 for _matmul_into."""
    rows = max(1, min(rows_hint, (TILE_BYTES // 2) // max(1, ncols * dtype.itemsize)))
    return np.empty((rows, ncols), dtype=dtype)


# ----------------------------------------------------------------- the two tilings

def _whole_vocab(p, loss_rows, grads, nt):
    """Row blocks of full-vocabulary logits through the fused kernel."""
    N, V, D, nb = p.N, p.V, p.D, p.nb
    L = np.empty((nb, V), dtype=p.compute)
    G = np.empty((nb, V), dtype=p.compute) if grads else None
    if grads:
        gh, gw, gb = grads
        tmp = _scratch(V, D, p.compute)
    for r0 in range(0, N, nb):
        r1 = min(r0 + nb, N)
        n = r1 - r0
        Hb, Lb = p.H[r0:r1], L[:n]
        p.logits(Lb, Hb, 0, V)
        Gb = None if G is None else G[:n]
        _ce_rows(Lb, p.t[r0:r1], True, p.ignore_index, None, p.eps, loss_rows[r0:r1], Gb,
                 p.scale, nt, p.z_loss, p.softcap, scratch=True)
        if not grads:
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


def _vocab_tiles(p, loss_rows, grads, nt):
    """Row blocks x vocabulary tiles; exact logsumexp merge across tiles."""
    N, V, D, nb, vt = p.N, p.V, p.D, p.nb, p.vt
    eps, z, cap = p.eps, p.z_loss, p.softcap
    buf = np.empty(nb * vt, dtype=p.compute)
    dbuf = np.empty(nb * vt, dtype=p.compute) if grads and cap is not None else None
    tile_lse = np.empty(nb, dtype=p.compute)
    if grads:
        gh, gw, gb = grads
        tmp_w = _scratch(vt, D, p.compute)

    def tile(Hb, v0, v1):
        L = buf[:Hb.shape[0] * (v1 - v0)].reshape(Hb.shape[0], v1 - v0)
        p.logits(L, Hb, v0, v1)
        if cap is not None:
            np.divide(L, cap, out=L)
            np.tanh(L, out=L)
            L *= cap
        return L

    for r0 in range(0, N, nb):
        r1 = min(r0 + nb, N)
        n = r1 - r0
        Hb, yb, kb = p.H[r0:r1], p.t[r0:r1], p.keep[r0:r1]
        lse = np.full(n, -np.inf)
        picked = np.zeros(n)
        rowsum = np.zeros(n) if eps else None
        tl = tile_lse[:n]
        # pass 1: per-row logsumexp, target logit and (smoothing) logit sum
        for v0 in range(0, V, vt):
            v1 = min(v0 + vt, V)
            L = tile(Hb, v0, v1)
            _core.logsumexp(L, tl, nt)
            with np.errstate(invalid="ignore"):  # NaN rows stay NaN
                np.logaddexp(lse, tl, out=lse)
            sel = np.flatnonzero(kb & (yb >= v0) & (yb < v1))
            if sel.size:
                picked[sel] = L[sel, yb[sel] - v0]
            if eps:
                rowsum += L.sum(axis=1, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            lr = lse - (1.0 - eps) * picked
            if eps:
                lr -= (eps / V) * rowsum
            if z:
                lr += z * lse * lse
        lr[~kb] = 0.0
        loss_rows[r0:r1] = lr
        if not grads:
            continue

        # pass 2: dL/dlogits tile by tile (recomputed), chained into the grads.
        # softmax = exp(x - lse_hi) * exp(lse_hi - lse) with lse_hi = lse rounded
        # to the compute dtype, so float32 loses nothing to the rounding of lse.
        ignored = np.flatnonzero(~kb)
        s = np.where(kb, p.scale, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            lse_hi = lse.astype(p.compute)
            coef = s * np.exp(lse_hi.astype(np.float64) - lse)
            if z:
                coef *= 1.0 + 2.0 * z * lse
        coef[ignored] = 0.0
        coef = coef.astype(p.compute)[:, None]
        lse_hi = lse_hi[:, None]
        smooth = (s * (eps / V)).astype(p.compute)[:, None] if eps else None
        for v0 in range(0, V, vt):
            v1 = min(v0 + vt, V)
            G = tile(Hb, v0, v1)
            if cap is not None:
                d = dbuf[:G.size].reshape(G.shape)
                np.divide(G, cap, out=d)
                np.square(d, out=d)
                np.subtract(1, d, out=d)
            with np.errstate(invalid="ignore", over="ignore"):
                np.subtract(G, lse_hi, out=G)
                np.exp(G, out=G)
                G *= coef
            if smooth is not None:
                G -= smooth
            sel = np.flatnonzero(kb & (yb >= v0) & (yb < v1))
            if sel.size:
                G[sel, yb[sel] - v0] -= (s[sel] * (1.0 - eps)).astype(p.compute)
            if cap is not None:
                G *= d
            if ignored.size:
                G[ignored] = 0  # whatever NaN / inf the ignored rows produced
            if gb is not None:
                gb[v0:v1] += G.sum(axis=0, dtype=np.float64)
            _grad_hidden(G, p.weight_rows(v0, v1), gh[r0:r1], v0 > 0)
            _matmul_into(G.T, Hb, gw[v0:v1], r0 > 0, tmp_w)


def _linear_ce(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
               z_loss, softcap, chunk_size, num_threads, want_grad):
    p = _Problem(hidden, weight, target, bias, ignore_index, label_smoothing, reduction,
                 z_loss, softcap, chunk_size, want_grad)
    nt = resolve(num_threads, p.nb * p.vt)
    loss_rows = np.zeros(p.N, dtype=np.float64)
    grads = None
    if want_grad:
        alloc = np.empty if p.N else np.zeros  # no rows: zero weight gradient
        gh = np.empty((p.N, p.D), dtype=p.compute)
        gw = alloc((p.V, p.D), dtype=p.compute)
        gb = None if p.bias is None else np.zeros(p.V, dtype=np.float64)
        grads = (gh, gw, gb)
    if p.N:
        (_whole_vocab if p.full else _vocab_tiles)(p, loss_rows, grads, nt)
    loss = p.finish(loss_rows)
    if not want_grad:
        return loss
    out = (loss, gh.reshape(p.hidden_shape).astype(p.result, copy=False),
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
        are none; the gradients are then 0).
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
"""


def linear_cross_entropy(hidden, weight, target, *, bias=None, ignore_index=-100,
                         label_smoothing=0.0, reduction="mean", z_loss=0.0, softcap=None,
                         chunk_size=None, num_threads=None):
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
    """
    return _linear_ce(hidden, weight, target, bias, ignore_index, label_smoothing,
                      reduction, z_loss, softcap, chunk_size, num_threads, False)


def linear_cross_entropy_and_grad(hidden, weight, target, *, bias=None, ignore_index=-100,
                                  label_smoothing=0.0, reduction="mean", z_loss=0.0,
                                  softcap=None, chunk_size=None, num_threads=None):
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
                      reduction, z_loss, softcap, chunk_size, num_threads, True)


linear_cross_entropy.__doc__ = linear_cross_entropy.__doc__ % _PARAMS_DOC
linear_cross_entropy_and_grad.__doc__ = linear_cross_entropy_and_grad.__doc__ % _PARAMS_DOC
