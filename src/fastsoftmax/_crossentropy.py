"""The cross-entropy problem, prepared once for every front end.

:func:`fastsoftmax.cross_entropy` and ``cross_entropy_and_grad``, the linear
layer's loss (:mod:`fastsoftmax.linear`, whose logits come tile by tile) and
the Dask front end (:mod:`fastsoftmax.dask`, block by block) all describe
their call with a :class:`CrossEntropyProblem`: the checked options, the
classified targets (scanned once: the bad-index check and what the mean's
denominator needs come from the same pass), the class weights, the
per-sample weights, the denominator and the gradient's scale.  The problem runs the fused driver on
rows of logits and finishes the reduction; the front ends only bring the
logits.  The formulas are those of docs/semantics.md.
"""
from __future__ import annotations

import math

from typing import Any, SupportsIndex

import numpy as np
from numpy.typing import ArrayLike

from . import _pool
from ._driver import core
from ._halfprec import codes, half_kind, native
from ._reduction import gradient_scale, reduced_loss
from ._threads import resolve, valid_count
from ._typing import Array, Axis, FloatScalar
from ._validation import (as_array, bad_class_index, check_class_indices,
                          check_class_weight, check_fraction, check_int, check_out,
                          check_real, check_reduction, check_target_shape, copy_back,
                          float_dtypes, is_bfloat16, is_index_target, is_kernel_array,
                          kernel_array, normalize_axis, output_rows, rows_view)

_INT64 = np.dtype(np.int64)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_I64_MIN, _I64_MAX = -2**63, 2**63 - 1

# cross_entropy's shortcut for plain calls (see there); False sends every call
# through CrossEntropyProblem (the tests compare the two paths).
PLAIN_CALLS = True
_FLOAT64 = _F64


def check_sample_weight(sample_weight: object, batch_shape: tuple[int, ...],
                        what: str = "the logits' shape without the class axis") -> Array | None:
    """Per-sample weights as a flat float64 kernel array (one per sample), or
    None: real, finite (negative values allowed) and of exactly ``batch_shape``."""
    if sample_weight is None:
        return None
    s = as_array(sample_weight, "sample_weight")
    if s.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must be real numbers, got dtype {s.dtype}")
    if tuple(s.shape) != tuple(batch_shape):
        raise ValueError(f"sample_weight has shape {tuple(s.shape)}, expected "
                         f"{tuple(batch_shape)} ({what})")
    flat = kernel_array(s, _FLOAT64, shape=(-1,))
    if not np.isfinite(flat).all():
        raise ValueError("sample_weight must be finite (no NaN or inf)")
    return flat


class CrossEntropyOptions:
    """The scalar options of a cross-entropy, checked (in this order)."""

    __slots__ = ("reduction", "z_loss", "softcap", "ignore_index", "label_smoothing")

    def __init__(self, reduction: object, z_loss: object, softcap: object, ignore_index: object,
                 label_smoothing: object) -> None:
        self.reduction = check_reduction(reduction)
        self.z_loss = check_real(z_loss, "z_loss", min=0.0)
        self.softcap = (None if softcap is None else
                        check_real(softcap, "softcap", above=0.0, what="None or a real number"))
        self.ignore_index = check_int(ignore_index, "ignore_index")
        self.label_smoothing = check_fraction(label_smoothing, "label_smoothing")


class IndexTargets:
    """Class-index targets (any integer dtype, the batch shape), scanned once.

    The scan takes the non-ignored targets (``kept``): their range is the
    bad-index check and their number, or their summed class weights, the
    mean's denominator.  int64 targets are scanned by the compiled
    ``scan_index_targets`` instead (the first bad position and the number
    kept, in one pass; ``kept`` is then only made for the summed class
    weights or when asked for).  ``checked``: the caller has already checked the
    values (the Dask front end checks each block of targets once, with the
    position in the whole array), so nothing is scanned unless a denominator
    is asked for.  ``offset``: the position of these targets in a larger
    array, for the error message.
    """

    def __init__(self, target: Array, n_classes: int, ignore_index: int, *,
                 checked: bool = False, offset: tuple[int, ...] | None = None) -> None:
        self.target, self.n_classes, self.ignore_index = target, n_classes, ignore_index
        self._keep: Array | None = None
        self._kept: Array
        self._count: int | None = None
        self._rows: Array | None = None
        if checked:
            return
        if target.dtype == _INT64:
            # int64 (the usual targets): one compiled pass finds the first bad
            # target and counts the kept ones (the unweighted denominator)
            bad, self._count = core.scan_index_targets(self.rows(), n_classes, ignore_index)
            if bad >= 0:
                raise bad_class_index(target, bad, n_classes, ignore_index, offset=offset)
            return
        kept = self.kept
        if kept.size and (kept.min() < 0 or kept.max() >= n_classes):
            # the (rare) error path finds the first bad position
            check_class_indices(target, n_classes, ignore_index, offset=offset)

    def _scan(self) -> None:
        if self._keep is None:
            # compared in the targets' own dtype: converting an out-of-range
            # uint64 first could turn it into ignore_index
            self._keep = self.target != self.ignore_index
            self._kept = self.target[self._keep]

    @property
    def keep(self) -> Array:
        """Boolean mask of the non-ignored targets, flat."""
        self._scan()
        assert self._keep is not None  # set by _scan
        return self._keep.reshape(-1)

    @property
    def kept(self) -> Array:
        """The non-ignored targets, in order (1-D)."""
        self._scan()
        return self._kept

    def denominator(self, weight: Array | None, sample_weight: Array | None = None) -> float:
        """The mean's denominator: the number of non-ignored targets, or
        their summed class weights (summed in float64, in order); with
        ``sample_weight`` (flat float64) each target counts its sample's weight
        times that."""
        if sample_weight is None:
            if weight is None:
                return float(self.kept.size if self._count is None else self._count)
            return float(weight.astype(np.float64)[self.kept].sum())
        s = sample_weight[self.keep]
        if weight is not None:
            s = s * weight.astype(np.float64)[self.kept]
        return float(s.sum())

    def rows(self) -> Array:
        """The targets as the driver takes them: int64, one per row."""
        if self._rows is None:
            self._rows = kernel_array(self.target, _INT64, shape=(-1,))
        return self._rows


class CrossEntropyProblem:
    """A cross-entropy over logits of ``shape`` (class axis ``axis``),
    everything but the logits' values prepared once.

    ``target`` is checked against the shape and classified: integer class
    indices (:class:`IndexTargets`) or floating class probabilities (the
    logits' shape); ``index_only`` accepts class indices only (the linear
    layer).  ``weight``: per-class weights or None.  ``sample_weight``:
    per-sample weights of the batch shape, or None.  The denominator of
    "mean" and the gradient's scale are decided here (``_reduction``).
    """

    def __init__(self, shape: tuple[int, ...], axis: int, compute: np.dtype[Any],
                 result: np.dtype[Any], target: ArrayLike, weight: ArrayLike | None,
                 options: CrossEntropyOptions, *, index_only: bool = False,
                 targets_checked: bool = False, sample_weight: ArrayLike | None = None) -> None:
        self.shape, self.axis = tuple(shape), axis
        self.compute, self.result, self.options = compute, result, options
        self.n_classes = self.shape[axis]
        self.batch_shape = self.shape[:axis] + self.shape[axis + 1:]
        self.nrows = math.prod(self.batch_shape)
        self.weight = check_class_weight(weight, self.n_classes, compute)
        tarr = as_array(target, "target")
        if index_only:
            if tarr.dtype.kind not in "iu":
                raise TypeError(
                    f"target must hold integer class indices, got dtype {tarr.dtype}")
            check_target_shape(tarr, self.batch_shape, shape=self.shape)
            self.index_target = True
        else:
            self.index_target = is_index_target(tarr, self.shape, self.batch_shape)
        self._target = tarr
        self.targets = (IndexTargets(tarr, self.n_classes, options.ignore_index,
                                     checked=targets_checked)
                        if self.index_target else None)
        self.sample_weight = check_sample_weight(sample_weight, self.batch_shape)
        sw = self.sample_weight
        self.denominator: float | None = None
        if options.reduction == "mean":
            self.denominator = (self.targets.denominator(self.weight, sw)
                                if self.targets is not None
                                else float(self.nrows) if sw is None else float(sw.sum()))
        self.scale = gradient_scale(options.reduction, self.denominator)

    def target_rows(self) -> Array:
        """The targets as the driver takes them: int64 (rows,) class indices
        or (rows, C) probabilities of the compute dtype."""
        if self.targets is not None:  # class indices
            return self.targets.rows()
        return rows_view(self._target, self.axis, self.compute)

    def sample_weight_rows(self, first_row: int, n: int) -> Array | None:
        """The sample weights of rows [first_row, first_row + n), or None."""
        sw = self.sample_weight
        return None if sw is None else sw[first_row:first_row + n]

    def run(self, x: Array, t: Array, *, loss_rows: Array | None, grad: Array | None,
            x_is_scratch: bool, n_threads: int, first_row: int = 0) -> float:
        """The fused driver on (rows, C) logits ``x`` and their targets ``t``
        (rows of :meth:`target_rows`), the problem's rows from ``first_row``
        on: per-row losses into ``loss_rows`` and the scaled gradient into
        ``grad`` when given; returns the loss sum."""
        o = self.options
        sw = self.sample_weight_rows(first_row, x.shape[0])
        if self.index_target:
            return core.cross_entropy_index(
                x, t, ignore_index=o.ignore_index, weight=self.weight,
                label_smoothing=o.label_smoothing, z_loss=o.z_loss, softcap=o.softcap,
                scale=self.scale, loss_rows=loss_rows, grad=grad, x_is_scratch=x_is_scratch,
                n_threads=n_threads, sample_weight=sw)
        return core.cross_entropy_prob(
            x, t, weight=self.weight, label_smoothing=o.label_smoothing, z_loss=o.z_loss,
            softcap=o.softcap, scale=self.scale, loss_rows=loss_rows, grad=grad,
            x_is_scratch=x_is_scratch, n_threads=n_threads, sample_weight=sw)

    def capped(self, logits: Array) -> Array:
        """``softcap * tanh(logits / softcap)`` in place (the logits the loss
        sees), for logits the driver does not cap itself (vocabulary tiles)."""
        cap = self.options.softcap
        if cap is not None:
            np.divide(logits, cap, out=logits)
            np.tanh(logits, out=logits)
            logits *= cap
        return logits

    def finish(self, total: float | None, loss_rows: Array | None) -> Array | FloatScalar:
        """The loss: per-sample (``loss_rows``, float64) for "none", else the
        reduced ``total`` (see ``_reduction``)."""
        if self.options.reduction == "none":
            assert loss_rows is not None  # "none" always has them
            return loss_rows.reshape(self.batch_shape).astype(self.result)
        assert total is not None  # reduced losses have one
        return reduced_loss(total, self.denominator, self.options.reduction, self.result)


class VocabularyTiles:
    """Loss and dL/dlogits of a block of rows whose logits come in
    vocabulary tiles (the linear layer's tiled path), in NumPy.

    The fused kernel needs each row's logits at once.  Here the row's
    logsumexp is merged across tiles exactly, in float64 (``logaddexp`` of
    each tile's logsumexp); the target logit is taken from the tile that holds
    it and, for label smoothing, the logits are summed.  The gradient
    recomputes each tile once the logsumexp is known.

    This re-derives the kernel's formulas (label smoothing, z-loss, the
    softcap's derivative, ignored rows) in NumPy, with NumPy's exp; calling
    the kernel instead would change the answers, so this is the one NumPy copy
    of them, next to the problem it belongs to.  Index targets, no class
    weights.  ``t`` and ``keep``: the block's int64 targets and their
    non-ignored mask; ``first_row``: the block's first row in the problem
    (for its sample weights).
    """

    def __init__(self, problem: CrossEntropyProblem, t: Array, keep: Array,
                 first_row: int = 0) -> None:
        self.p, self.t, self.keep = problem, t, keep
        n = t.shape[0]
        self.sw = problem.sample_weight_rows(first_row, n)
        self.lse = np.full(n, -np.inf)
        self.picked = np.zeros(n)
        self.rowsum = np.zeros(n) if problem.options.label_smoothing else None

    def _in_tile(self, v0: int, v1: int) -> Array:
        t, keep = self.t, self.keep
        return np.flatnonzero(keep & (t >= v0) & (t < v1))

    def add_tile(self, L: Array, v0: int, v1: int, tile_lse: Array,
                 n_threads: int) -> None:
        """Pass 1: merge the (capped) logits ``L`` of columns v0:v1 into the
        rows' logsumexp, target logit and logit sum (``tile_lse``: scratch)."""
        core.logsumexp(L, tile_lse, n_threads)
        with np.errstate(invalid="ignore"):  # NaN rows stay NaN
            np.logaddexp(self.lse, tile_lse, out=self.lse)
        sel = self._in_tile(v0, v1)
        if sel.size:
            self.picked[sel] = L[sel, self.t[sel] - v0]
        if self.rowsum is not None:
            self.rowsum += L.sum(axis=1, dtype=np.float64)

    def losses(self) -> Array:
        """The rows' losses (float64), once every tile has been added."""
        o, lse = self.p.options, self.lse
        eps, z = o.label_smoothing, o.z_loss
        with np.errstate(invalid="ignore"):
            lr = lse - (1.0 - eps) * self.picked
            if self.rowsum is not None:  # label smoothing
                lr -= (eps / self.p.n_classes) * self.rowsum
            if z:
                lr += z * lse * lse
        lr[~self.keep] = 0.0
        if self.sw is not None:
            lr *= self.sw
        return lr

    def begin_gradient(self) -> None:
        """Pass 2's per-row factors, from the rows' final logsumexp.

        softmax = exp(x - lse_hi) * exp(lse_hi - lse) with lse_hi = lse
        rounded to the compute dtype, so float32 loses nothing to the
        rounding of lse."""
        p, o, lse, keep = self.p, self.p.options, self.lse, self.keep
        eps, z, compute = o.label_smoothing, o.z_loss, p.compute
        self.ignored = np.flatnonzero(~keep)
        self.s = s = np.where(keep, p.scale, 0.0)
        if self.sw is not None:
            self.s = s = s * self.sw
        with np.errstate(invalid="ignore", over="ignore"):
            lse_hi = lse.astype(compute)
            coef = s * np.exp(lse_hi.astype(np.float64) - lse)
            if z:
                coef *= 1.0 + 2.0 * z * lse
        coef[self.ignored] = 0.0
        self.coef = coef.astype(compute)[:, None]
        self.lse_hi = lse_hi[:, None]
        self.smooth = (s * (eps / p.n_classes)).astype(compute)[:, None] if eps else None

    def gradient(self, G: Array, v0: int, v1: int, d: Array | None) -> Array:
        """Pass 2: the (capped, recomputed) logits ``G`` of columns v0:v1
        turned into dL/dlogits in place (``d``: scratch of G's shape for the
        softcap's derivative, or None without softcap)."""
        p, o = self.p, self.p.options
        cap, eps = o.softcap, o.label_smoothing
        if cap is not None:
            # d(c tanh(x/c))/dx = 1 - tanh(x/c)**2, from the capped values
            assert d is not None  # the softcap's scratch
            np.divide(G, cap, out=d)
            np.square(d, out=d)
            np.subtract(1, d, out=d)
        with np.errstate(invalid="ignore", over="ignore"):
            np.subtract(G, self.lse_hi, out=G)
            np.exp(G, out=G)
            G *= self.coef
        if self.smooth is not None:
            G -= self.smooth
        sel = self._in_tile(v0, v1)
        if sel.size:
            G[sel, self.t[sel] - v0] -= (self.s[sel] * (1.0 - eps)).astype(p.compute)
        if cap is not None:
            G *= d
        if self.ignored.size:
            G[self.ignored] = 0  # whatever NaN / inf the ignored rows produced
        return G


def _plain_index(x: Array, target: Array, ignore_index: int, mean: bool,
                 num_threads: SupportsIndex | None, want_grad: bool) -> Any:
    """The plain call of :func:`cross_entropy` (see its guard): one call of
    the driver that also checks the targets and reduces."""
    grad = _pool.empty(x.shape, x.dtype) if want_grad else None
    bad, total = core.cross_entropy_index_plain(x, target, ignore_index, mean, grad,
                                                resolve(num_threads, x.size))
    if bad >= 0:
        raise bad_class_index(target, bad, x.shape[1], ignore_index)
    loss = x.dtype.type(total)
    return (loss, grad) if want_grad else loss


def logits_array(logits: ArrayLike, axis: Axis, name: str = "logits", half: bool = False
                 ) -> tuple[Array, int, np.dtype[Any], np.dtype[Any]]:
    """(array, class axis, compute dtype, result dtype) of the logits of a
    loss (at least one dimension, one integer class axis).  ``half``:
    bfloat16 logits are accepted too (computed in float32, result bfloat16)."""
    arr = as_array(logits, name)
    if half and is_bfloat16(arr.dtype):
        compute, result = _F32, arr.dtype
    else:
        compute, result = float_dtypes(arr, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the class axis)")
    if axis is None:
        raise TypeError("axis must be an integer, got None (the losses need one class axis)")
    return arr, normalize_axis(axis, arr.ndim), compute, result


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: Axis,
                  weight: ArrayLike | None, ignore_index: SupportsIndex,
                  label_smoothing: float, reduction: str,
                  num_threads: SupportsIndex | None, z_loss: float, softcap: float | None,
                  want_grad: bool, grad_out: Array | None = None,
                  targets_checked: bool = False, sample_weight: ArrayLike | None = None,
                  codes_kind: int | None = None) -> Any:
    """The loss (and gradient) of in-memory logits: checks every argument,
    prepares the problem and runs it on all rows in one driver call.

    ``codes_kind``: the logits (and ``grad_out``) are the uint16 codes of
    16-bit floats of that kind (``_halfprec``: the torch front end's
    bfloat16 tensors, which NumPy has no dtype for); class-index targets
    without softcap only; the loss is float32."""
    # The plain call -- (rows, C) C-contiguous float32/64 logits, int64 class
    # indices, no class weight, sample weight, smoothing, z-loss or softcap,
    # "mean" or "sum", the default grad_out and num_threads -- goes straight to the
    # driver that checks the targets and counts the mean's denominator itself:
    # preparing a CrossEntropyProblem costs ~10 us of NumPy calls, many times
    # the kernel of a small call.  The guard admits only arguments whose
    # checks cannot fail (plain Python types, the defaults' values), so the
    # options mean here what CrossEntropyProblem makes of them, and the
    # driver runs the same kernel with the same scale: bitwise the same
    # answers (tests/test_tiny_calls.py compares the two paths).
    if (PLAIN_CALLS and type(logits) is np.ndarray and type(target) is np.ndarray
            and weight is None and sample_weight is None
            and softcap is None and grad_out is None and type(reduction) is str
            and (reduction == "mean" or reduction == "sum")
            and type(label_smoothing) is float and label_smoothing == 0.0
            and type(z_loss) is float and z_loss == 0.0
            and type(axis) is int and (axis == -1 or axis == 1)
            and type(ignore_index) is int and _I64_MIN <= ignore_index <= _I64_MAX
            and (num_threads is None or valid_count(num_threads))
            and target.dtype is _INT64 and (logits.dtype is _F32 or logits.dtype is _F64)
            and logits.ndim == 2 and target.ndim == 1 and logits.size
            and target.shape[0] == logits.shape[0]
            and is_kernel_array(logits, logits.dtype) and is_kernel_array(target, _INT64)):
        return _plain_index(logits, target, ignore_index, reduction == "mean", num_threads,
                            want_grad)
    if codes_kind is None:
        arr, axis, compute, result = logits_array(logits, axis, half=True)
        # bfloat16 logits: the loss in float32 (the gradient in bfloat16)
        grad_dtype, result = result, (_F32 if is_bfloat16(result) else result)
    else:
        arr = as_array(logits, "logits")
        axis, compute, result = normalize_axis(axis, arr.ndim), _F32, _F32
        grad_dtype = arr.dtype
    options = CrossEntropyOptions(reduction, z_loss, softcap, ignore_index, label_smoothing)
    p = CrossEntropyProblem(arr.shape, axis, compute, result, target, weight, options,
                            targets_checked=targets_checked, sample_weight=sample_weight)
    grad = None
    if want_grad:
        grad = (_pool.empty(arr.shape, grad_dtype) if grad_out is None
                else check_out(grad_out, arr.shape, grad_dtype, "grad_out"))
    # 16-bit logits, class indices, no softcap: the kernels read the 16-bit
    # rows and write a 16-bit gradient (no float32 copy); else float32 copies
    kind = half_kind(arr.dtype) if codes_kind is None else codes_kind
    if not p.index_target or options.softcap is not None:
        if codes_kind is not None:
            raise TypeError("16-bit codes: class-index targets without softcap only")
        kind = None
    if kind is not None:
        compute = native(arr.dtype)
    x = rows_view(arr, axis, compute)
    t = p.target_rows()
    loss_rows = np.empty(p.nrows, dtype=np.float64) if options.reduction == "none" else None
    gbuf, direct = (None, True) if grad is None else output_rows(grad, axis, compute, (x, t))
    if kind is not None:
        o = options
        total = core.cross_entropy_index_half(
            codes(x), t, kind=kind, ignore_index=o.ignore_index, weight=p.weight,
            label_smoothing=o.label_smoothing, z_loss=o.z_loss, scale=p.scale,
            loss_rows=loss_rows, grad=None if gbuf is None else codes(gbuf),
            n_threads=resolve(num_threads, x.size),
            sample_weight=p.sample_weight_rows(0, x.shape[0]))
    else:
        total = p.run(x, t, loss_rows=loss_rows, grad=gbuf, x_is_scratch=False,
                      n_threads=resolve(num_threads, x.size))
    if not direct:
        assert gbuf is not None and grad is not None
        copy_back(gbuf, grad, axis)
    loss = p.finish(total, loss_rows)
    return (loss, grad) if want_grad else loss
