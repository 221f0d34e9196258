"""fastsoftmax on Dask arrays: when one machine is not enough.

``softmax``, ``log_softmax``, ``logsumexp``, ``cross_entropy`` and
``cross_entropy_and_grad`` take Dask arrays (anything else is wrapped with
``dask.array.from_array``) and return lazy Dask arrays: nothing runs until
``.compute()`` (or ``dask.compute``), which gives NumPy results equal to those
of the in-memory functions of the same name, up to the order in which partial
sums are added.  They take the in-memory functions' options too: ``where``
(a Dask or NumPy mask broadcastable to ``x``) and ``temperature`` for
``softmax`` / ``log_softmax``, ``z_loss`` and ``softcap`` for the
cross-entropy.

How the work is split:

* Every block runs the compiled kernels on whole rows, so the class axis
  (``axis``) must be in one chunk.  When it is not, it is rechunked and a
  :class:`RechunkWarning` says so; rechunk it yourself
  (``x.rechunk({axis: -1})``, or choose the chunks when creating the array)
  to avoid the warning.  ``logsumexp`` needs no rechunking: it reduces each
  chunk and then combines the partial results with ``logsumexp`` again.
* Reductions are combined exactly as the in-memory functions define them: a
  mean is (sum of the per-block loss sums) / (global denominator), the
  denominator being the summed target-class weights of the non-ignored
  samples for class-index targets and the number of samples for probability
  targets.  Each block is computed with ``reduction="sum"`` (or "none"),
  never a per-block mean.
* ``cross_entropy_and_grad`` with ``reduction="mean"`` first computes the
  global denominator (from the targets and weights only: cheap, no logits
  read), then each block's gradient scaled by ``1 / denominator``; loss and
  gradient of a block come from one fused kernel call.
* ``num_threads`` (default: :func:`fastsoftmax.get_num_threads`, evaluated
  in the worker) applies to each block.  Inside a Dask worker the default is
  that worker thread's share of the CPUs, and ``distributed``'s nanny sets
  ``OMP_NUM_THREADS=1`` in the worker processes it starts, so blocks running
  side by side do not oversubscribe the machine.

Data larger than memory: ``da.from_array(np.memmap(...), chunks=...)`` reads
the blocks lazily from disk with the local schedulers, but a ``distributed``
client pickles the whole array into the task graph (a memmap pickles as its
data).  On a cluster let the workers read their own blocks:
``da.from_zarr``, ``da.from_npy_stack`` (memory-mapped ``.npy`` blocks), or a
``map_blocks``/``from_delayed`` function that opens the file itself.  With
a ``distributed`` client active, an input whose graph holds a memmap or more
than :data:`EMBEDDED_LIMIT_BYTES` of in-memory arrays gets an
:class:`EmbeddedDataWarning`.

Errors in the arguments (dtype, shapes, reduction, ...) are raised at call
time; errors that depend on the values (a class index out of range) are
raised by ``compute()``, naming the element's position in the whole array.

Requires the ``dask`` extra: ``pip install fastsoftmax[dask]``.

Examples
--------
>>> import numpy as np
>>> import dask.array as da
>>> from fastsoftmax import dask as fsd
>>> logits = da.from_array(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), chunks=(1, 3))
>>> loss = fsd.cross_entropy(logits, np.array([0, 1]))     # lazy
>>> round(float(loss.compute()), 5)
0.31854
>>> fsd.softmax(logits).compute().round(4)
array([[0.659 , 0.2424, 0.0986],
       [0.1086, 0.8025, 0.0889]])

On a cluster, with logits too large for one machine's memory:

>>> from distributed import Client                           # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")                  # doctest: +SKIP
>>> x = da.from_zarr("logits.zarr")           # (N, C), chunks (100_000, C)  # doctest: +SKIP
>>> y = da.from_zarr("labels.zarr")           # (N,) int64                 # doctest: +SKIP
>>> loss, grad = fsd.cross_entropy_and_grad(x, y, label_smoothing=0.1)  # doctest: +SKIP
>>> grad.to_zarr("grad.zarr")                                # doctest: +SKIP
>>> float(loss.compute())                                    # doctest: +SKIP
"""
from __future__ import annotations

import functools
import math
import operator
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable, SupportsIndex, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

try:
    import dask
    import dask.array as da
    from dask.utils import parse_bytes
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsoftmax.dask needs Dask arrays: pip install 'fastsoftmax[dask]' "
        f"(or dask[array]); the import failed with: {exc}") from exc

from . import _crossentropy
from ._crossentropy import CrossEntropyOptions, IndexTargets, check_sample_weight
from ._reduction import gradient_scale, reduced_loss
from ._rows import RowsProblem
from ._threads import check_count, resolve
from ._validation import (as_array, check_class_weight, check_mask, check_temperature,
                          float_dtypes, is_index_target, normalize_axis)
from .softmax import log_softmax as _log_softmax
from .softmax import logsumexp as _logsumexp  # 0-d input
from .softmax import softmax as _softmax

if TYPE_CHECKING:
    from dask.array import Array as DaskArray

    from ._typing import Array

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy",
           "cross_entropy_and_grad", "RechunkWarning", "EmbeddedDataWarning"]


class RechunkWarning(UserWarning):
    """The class axis of a Dask array was split over several chunks and had
    to be rechunked into one (each block must hold whole rows)."""


class EmbeddedDataWarning(UserWarning):
    """A ``distributed`` client is active and an input's task graph carries
    its data: a memmap (which pickles as its whole contents) or more than
    :data:`EMBEDDED_LIMIT_BYTES` of in-memory arrays, all sent from the
    client to the workers at every compute."""


#: In-memory array bytes an input's graph may hold before, with a
#: ``distributed`` client active, :class:`EmbeddedDataWarning` is given.
EMBEDDED_LIMIT_BYTES = 64 << 20


# --------------------------------------------------------------- helpers

def _check_threads(num_threads: SupportsIndex | None) -> int | None:
    # validate now, at call time, rather than in every block at compute time
    return None if num_threads is None else check_count(num_threads)


def _client_active() -> bool:
    """Whether a ``distributed`` client is the default scheduler (without
    importing ``distributed`` when nothing has)."""
    dist = sys.modules.get("distributed")
    if dist is None:
        return False
    try:
        dist.get_client()
    except ValueError:  # "No global client found"
        return False
    return True


def _embedded_data(x: DaskArray) -> tuple[int, bool]:
    """Bytes of the NumPy arrays ``x``'s graph holds as data, and whether
    one of them is a memmap."""
    nbytes, memmap = 0, False
    for value in dict(x.__dask_graph__()).values():
        value = getattr(value, "value", value) if type(value).__name__ == "DataNode" else value
        if isinstance(value, np.ndarray):
            nbytes += value.nbytes
            memmap = memmap or isinstance(value, np.memmap)
    return nbytes, memmap


def _warn_if_embedded(x: DaskArray, name: str) -> None:
    if not _client_active():
        return
    nbytes, memmap = _embedded_data(x)
    if memmap or nbytes > EMBEDDED_LIMIT_BYTES:
        what = ("a memmap, which pickles as its whole contents" if memmap else
                f"{nbytes / 2**20:.0f} MiB of in-memory arrays")
        warnings.warn(
            f"{name}: its task graph holds {what}, sent from the client to the workers; "
            "let the workers read the data themselves (da.from_zarr, da.from_npy_stack, "
            "or a loader per block with map_blocks / from_delayed)",
            EmbeddedDataWarning, stacklevel=4)


def _as_dask(x: object, name: str, class_axis: SupportsIndex | None = -1) -> DaskArray:
    """A Dask array of a supported NumPy dtype.

    Non-Dask input is wrapped in one chunk along ``class_axis`` (None: all
    axes) and dask's automatic chunks along the others.  An input whose
    graph carries its data while a ``distributed`` client is active gets an
    :class:`EmbeddedDataWarning`."""
    arr = _dask_array(x, name, class_axis)
    _warn_if_embedded(arr, name)
    return arr


def _dask_array(x: object, name: str, class_axis: SupportsIndex | None) -> DaskArray:
    if isinstance(x, da.Array):
        meta = getattr(x, "_meta", None)
        if isinstance(meta, np.ma.MaskedArray):
            raise TypeError(f"{name}: masked arrays are not supported (the mask would be "
                            "ignored); fill them first (x.map_blocks(np.ma.filled))")
        if meta is not None and not isinstance(meta, np.ndarray):
            raise TypeError(f"{name}: blocks of type {type(meta).__module__}."
                            f"{type(meta).__name__} are not supported; the kernels need "
                            "NumPy blocks")
        return x
    arr = as_array(x, name)
    if arr.ndim == 0:
        return da.from_array(arr)
    try:
        ax = normalize_axis(class_axis, arr.ndim)
    except (TypeError, ValueError, IndexError):   # None or invalid (reported later)
        return da.from_array(arr, chunks=-1)
    return da.from_array(arr, chunks={i: (-1 if i == ax else "auto")
                                      for i in range(arr.ndim)})


def _require_known(x: DaskArray, name: str,
                   axes: Iterable[SupportsIndex] | None = None) -> None:
    axes = range(x.ndim) if axes is None else axes
    for ax in axes:
        if math.isnan(x.shape[ax]):
            raise ValueError(
                f"{name} has unknown chunk sizes along axis {ax} (shape {x.shape}); call "
                f"{name}.compute_chunk_sizes() first")


def _block_nbytes(x: DaskArray, chunks: Sequence[Sequence[int]]) -> int:
    n: int = x.dtype.itemsize
    for c in chunks:
        n *= max(c) if c else 0
    return n


def _one_chunk_along(x: DaskArray, axes: tuple[SupportsIndex, ...], fname: str, what: str,
                     stacklevel: int) -> DaskArray:
    """``x`` with each of ``axes`` in a single chunk (warns if it rechunks)."""
    split = [ax for ax in axes if len(x.chunks[ax]) > 1]
    if not split:
        return x
    _require_known(x, "x", split)
    where = ", ".join(f"axis {ax} (length {x.shape[ax]}, {len(x.chunks[ax])} chunks)"
                      for ax in split)
    spec: dict[Any, int | str] = {ax: -1 for ax in axes}
    # merging chunks along the class axis multiplies the block size; if that
    # would exceed dask's array.chunk-size, let dask shrink the other axes
    merged = [(x.shape[i],) if i in spec else x.chunks[i] for i in range(x.ndim)]
    limit = parse_bytes(dask.config.get("array.chunk-size"))
    if _block_nbytes(x, merged) > max(limit, _block_nbytes(x, x.chunks)):
        spec.update({i: "auto" for i in range(x.ndim) if i not in spec})
    out = x.rechunk(spec)
    warnings.warn(RechunkWarning(
        f"fastsoftmax.dask.{fname}: {what} is split over several chunks along {where}, "
        f"but each block must hold whole rows: rechunking into chunks {out.chunksize}. "
        f"Rechunk it yourself (x.rechunk({{{', '.join(f'{a}: -1' for a in axes)}}})) "
        "to choose the chunks and avoid this warning."), stacklevel=stacklevel)
    return out


def _meta(ndim: int, dtype: DTypeLike) -> Array:
    return np.empty((0,) * ndim, dtype=dtype)


# --------------------------------------------------------------- softmax family

def _elementwise(func: Callable[..., Any], fname: str, x: Any, axis: SupportsIndex | None,
                 num_threads: SupportsIndex | None, where: object,
                 temperature: float | None) -> DaskArray:
    num_threads = _check_threads(num_threads)
    x = _as_dask(x, "x", axis)
    _, result = float_dtypes(np.empty(0, x.dtype))
    if axis is None or x.ndim <= 1:
        if axis is not None:
            normalize_axis(axis, max(x.ndim, 1))   # validate
        kernel_axis = axis if x.ndim else None
    else:
        kernel_axis = normalize_axis(axis, x.ndim)
    temperature = check_temperature(temperature)
    mask = None if where is None else _checked_mask(where, x)
    if kernel_axis is None or x.ndim <= 1:
        x = _one_chunk_along(x, tuple(range(x.ndim)), fname,
                             "the input (axis=None: all its elements)", 4)
    else:
        x = _one_chunk_along(x, (kernel_axis,), fname, "the input", 4)
    args = [x] if mask is None else [x, _broadcast_like(mask, x)]
    if x.ndim == 0:
        return da.map_blocks(_block, *args, fn=func, axis=None, num_threads=num_threads,
                             temperature=temperature, dtype=result,
                             meta=np.empty((), result))
    return da.map_blocks(_block, *args, fn=func, axis=kernel_axis, num_threads=num_threads,
                         temperature=temperature, dtype=result, meta=_meta(x.ndim, result))


def _block(b: Array, *mask: Array, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn`` (an in-memory function) on one block, with its block of the
    ``where`` mask if there is one; a NumPy scalar for a 0-d block."""
    if mask:
        kwargs["where"] = mask[0]
    return fn(b, **kwargs)


def _checked_mask(where: object, x: DaskArray) -> DaskArray | Array:
    """``where`` checked against ``x`` (as the in-memory functions check it),
    as a NumPy or Dask array."""
    m: DaskArray | Array
    if isinstance(where, da.Array):
        m = _as_dask(where, "where")        # block type checks
        _require_known(m, "where")
    else:
        m = as_array(where, "where")
    _require_known(x, "x")
    check_mask(m, x.shape)
    return m


def _broadcast_like(m: DaskArray | Array, x: DaskArray) -> DaskArray:
    """The mask ``m`` (broadcastable to ``x``) as a Dask array of x's shape
    and chunks: rechunked along the axes where it has x's length, broadcast
    (no copy) along the others."""
    lead = x.ndim - m.ndim
    chunks = tuple(x.chunks[lead + i] if n == x.shape[lead + i] else (n,)
                   for i, n in enumerate(m.shape))
    if isinstance(m, da.Array):
        m = m.rechunk(chunks) if m.chunks != chunks else m
    else:
        m = da.from_array(m, chunks=chunks)
    return da.broadcast_to(m, x.shape, chunks=x.chunks)


def softmax(x: DaskArray | ArrayLike, axis: SupportsIndex | None = -1, *,
            num_threads: SupportsIndex | None = None, where: DaskArray | ArrayLike | None = None,
            temperature: float | None = None) -> DaskArray:
    """Softmax along an axis of a Dask array (lazy); see :func:`fastsoftmax.softmax`.

    ``axis`` is rechunked into one chunk if needed (with a
    :class:`RechunkWarning`); ``axis=None`` normalises over all elements and
    therefore needs the whole array in one chunk.  ``where`` (a Dask or
    NumPy boolean array broadcastable to ``x``) and ``temperature`` are those
    of :func:`fastsoftmax.softmax`: each block is computed by it with its
    block of the mask, so the result is bitwise the in-memory one.

    Returns
    -------
    dask.array.Array
        Same shape and chunks as ``x`` (after any rechunking).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastsoftmax.dask import softmax
    >>> x = da.from_array(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), chunks=(1, 3))
    >>> softmax(x).compute().round(5)
    array([[0.09003, 0.24473, 0.66524],
           [0.33333, 0.33333, 0.33333]])
    >>> softmax(x, where=x > 0.5, temperature=2.0).compute().round(5)
    array([[0.18632, 0.3072 , 0.50648],
           [0.     , 0.     , 0.     ]])
    """
    return _elementwise(_softmax, "softmax", x, axis, num_threads, where, temperature)


def log_softmax(x: DaskArray | ArrayLike, axis: SupportsIndex | None = -1, *,
                num_threads: SupportsIndex | None = None,
                where: DaskArray | ArrayLike | None = None,
                temperature: float | None = None) -> DaskArray:
    """Log-softmax along an axis of a Dask array (lazy); see
    :func:`fastsoftmax.log_softmax` and :func:`softmax` for the chunking,
    ``where`` and ``temperature``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastsoftmax.dask import log_softmax
    >>> log_softmax(da.from_array(np.array([[1000.0, 1.0]]))).compute()
    array([[   0., -999.]])
    >>> log_softmax(da.from_array(np.array([[1.0, 1.0, 5.0]])),
    ...             where=np.array([True, True, False])).compute()
    array([[-0.69314718, -0.69314718,        -inf]])
    """
    return _elementwise(_log_softmax, "log_softmax", x, axis, num_threads, where, temperature)


def _lse_block(b: Array, axis: tuple[int, ...], keepdims: bool, compute: np.dtype[Any],
               num_threads: int | None) -> Any:
    """logsumexp of block ``b`` over the tuple of axes ``axis`` in the compute
    dtype (keepdims as dask's reductions ask)."""
    b = np.asarray(b)
    axes = tuple(a % b.ndim for a in axis) if b.ndim else ()
    r = RowsProblem(b, axes, compute).logsumexp(None, resolve(num_threads, b.size))
    if keepdims:
        return r.reshape(tuple(1 if a in axes else n for a, n in enumerate(b.shape)))
    return r.reshape(tuple(n for a, n in enumerate(b.shape) if a not in axes))[()]


def _lse_aggregate(b: Array, axis: tuple[int, ...], keepdims: bool, compute: np.dtype[Any],
                   result: np.dtype[Any], num_threads: int | None) -> Any:
    return _lse_block(b, axis, keepdims, compute, num_threads).astype(result, copy=False)


def logsumexp(x: DaskArray | ArrayLike, axis: SupportsIndex | None = -1, *, keepdims: bool = False,
              num_threads: SupportsIndex | None = None) -> DaskArray:
    """``log(sum(exp(x)))`` along an axis of a Dask array (lazy).

    See :func:`fastsoftmax.logsumexp`.  No rechunking is needed: each chunk
    is reduced with the compiled kernel (in float32 for float16 input, float64
    for integers) and the partial results are combined with ``logsumexp``
    again (a tree reduction), which keeps SciPy's special values (NaN,
    +-inf) and, to rounding, its precision.  ``axis=None`` reduces over all
    elements.

    Returns
    -------
    dask.array.Array
        The reduction; a 0-d array (which computes to a NumPy scalar) for
        ``axis=None`` or 1-d input.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastsoftmax.dask import logsumexp
    >>> x = da.from_array(np.array([[1e4, 1e4], [0.0, -40.0]]), chunks=1)
    >>> logsumexp(x, axis=1).compute()
    array([1.00006931e+04, 4.24835426e-18])
    >>> round(float(logsumexp(x, axis=None).compute()), 6)
    10000.693147
    """
    num_threads = _check_threads(num_threads)
    x = _as_dask(x, "x", None)
    compute, result = float_dtypes(np.empty(0, x.dtype))
    if x.ndim == 0:
        if axis is not None:
            normalize_axis(axis, 1)
        return da.map_blocks(_block, x, fn=_logsumexp, axis=None, num_threads=num_threads,
                             dtype=result, meta=np.empty((), result))
    axes = tuple(range(x.ndim)) if axis is None else (normalize_axis(axis, x.ndim),)
    keepdims = bool(keepdims)
    chunk = functools.partial(_lse_block, compute=compute, num_threads=num_threads)
    aggregate = functools.partial(_lse_aggregate, compute=compute, result=result,
                                  num_threads=num_threads)
    return da.reduction(
        x, chunk, aggregate, axis=axes, keepdims=keepdims, dtype=result, combine=chunk,
        concatenate=True, meta=_meta(x.ndim - (0 if keepdims else len(axes)), result),
        name="fastsoftmax-logsumexp")


# --------------------------------------------------------------- cross-entropy

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _CE:
    """Checked and aligned arguments of a cross-entropy call."""

    def __init__(self, fname: str, logits: object, target: object, axis: SupportsIndex,
                 weight: ArrayLike | None, ignore_index: SupportsIndex, label_smoothing: float,
                 reduction: str, num_threads: SupportsIndex | None, z_loss: float,
                 softcap: float | None, sample_weight: object = None) -> None:
        num_threads = _check_threads(num_threads)
        x = _as_dask(logits, "logits", axis)
        compute, result = float_dtypes(np.empty(0, x.dtype), "logits")
        if x.ndim == 0:
            raise ValueError("logits must have at least one dimension (the class axis)")
        axis = normalize_axis(axis, x.ndim)
        self.options = o = CrossEntropyOptions(reduction, z_loss, softcap, ignore_index,
                                               label_smoothing)
        self.reduction, self.ignore_index = o.reduction, o.ignore_index
        _require_known(x, "logits")
        n_classes = x.shape[axis]
        batch_shape = x.shape[:axis] + x.shape[axis + 1:]
        self.weight = check_class_weight(weight, n_classes, compute)

        t: DaskArray | Array
        if isinstance(target, da.Array):
            t = target
            _require_known(t, "target")
        else:
            t = as_array(target, "target")
        self.index_target = is_index_target(t, x.shape, batch_shape)
        if isinstance(t, da.Array):
            _as_dask(t, "target")   # block type checks

        x = _one_chunk_along(x, (axis,), fname, "logits", 4)
        batch_chunks = x.chunks[:axis] + x.chunks[axis + 1:]
        want = batch_chunks if self.index_target else x.chunks
        if isinstance(t, da.Array):
            t = t.rechunk(want) if t.chunks != want else t
        else:
            t = da.from_array(t, chunks=want)
        # per-sample weights: checked here but for their values (each block's
        # in-memory call checks those), aligned with the blocks' rows
        self.sw = None if sample_weight is None else _sample_weight(
            sample_weight, batch_shape, batch_chunks)

        if x.dtype.kind == "f" and x.dtype != compute and self.reduction != "none":
            # float16: the kernels compute in float32 anyway; doing the cast
            # here keeps the per-block sums in float32 (a float16 block sum
            # would lose digits, or overflow past 65504), and only the final
            # results are rounded to float16, as in memory.  ("none" keeps
            # float16 blocks: per-sample losses are then rounded once, from
            # float64, exactly as in memory.)
            x = x.astype(compute)
        # dtype of the per-block results (``result``: of the final ones)
        self.block = np.dtype(np.float64) if x.dtype.kind in "iub" else x.dtype
        self.x, self.axis = x, axis
        # both branches above made t a Dask array (from_array is untyped)
        self.t = cast("DaskArray", t)
        self.n_classes, self.batch_shape = n_classes, batch_shape
        self.compute, self.result = compute, result
        self.num_threads = num_threads
        self.x_ind = _LETTERS[:x.ndim]
        self.batch_ind = self.x_ind[:axis] + self.x_ind[axis + 1:]
        self.t_ind = self.batch_ind if self.index_target else self.x_ind

    def kernel_kwargs(self) -> dict[str, Any]:
        """The arguments of every block's in-memory call but ``reduction``."""
        o = self.options
        return dict(axis=self.axis, weight=self.weight, ignore_index=o.ignore_index,
                    label_smoothing=o.label_smoothing, z_loss=o.z_loss, softcap=o.softcap,
                    num_threads=self.num_threads)

    def denominator(self) -> DaskArray | float:
        """The mean's denominator: a 0-d float64 Dask array (index targets,
        or sample weights) or a Python float (probability targets: the number
        of samples)."""
        if not self.index_target:
            if self.sw is not None:
                return self.sw.sum(dtype=np.float64)
            return float(math.prod(self.batch_shape))
        t = self.t
        extra = () if self.sw is None else (self.sw,)
        parts = da.map_blocks(
            _denominator_block, t, *extra, chunks=tuple((1,) * len(c) for c in t.chunks),
            dtype=np.float64, meta=_meta(t.ndim, np.float64), weight=self.weight,
            n_classes=self.n_classes, ignore_index=self.ignore_index,
            token="fastsoftmax-ce-denominator")
        return parts.sum(dtype=np.float64)

    def block_args(self) -> list[Any]:
        """The blockwise arguments of the per-block calls: logits, targets and
        (if any) sample weights, each with its indices."""
        args: list[Any] = [self.x, self.x_ind, self.t, self.t_ind]
        if self.sw is not None:
            args += [self.sw, self.batch_ind]
        return args


def _sample_weight(sample_weight: object, batch_shape: tuple[int, ...],
                   chunks: tuple[tuple[int, ...], ...]) -> DaskArray:
    """sample_weight as a float64 Dask array of the batch shape in the
    logits' batch chunks (dtype and shape checked; values by the blocks)."""
    if isinstance(sample_weight, da.Array):
        sw = _as_dask(sample_weight, "sample_weight")
        _require_known(sw, "sample_weight")
    else:
        sw = _as_dask(as_array(sample_weight, "sample_weight"), "sample_weight")
    if sw.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must be real numbers, got dtype {sw.dtype}")
    if tuple(sw.shape) != tuple(batch_shape):
        raise ValueError(f"sample_weight has shape {tuple(sw.shape)}, expected "
                         f"{tuple(batch_shape)} (the logits' shape without the class axis)")
    sw = sw.astype(np.float64)
    return sw.rechunk(chunks) if sw.chunks != chunks else sw


def _denominator_block(t: Array, sw: Array | None = None, *, weight: Array | None,
                       n_classes: int, ignore_index: int,
                       block_info: dict[Any, Any] | None = None) -> Array:
    """Sum of the target-class weights of the non-ignored samples of a block
    of class-index targets (their count without weights), each times its
    sample weight (``sw``, if any); checks the indices, naming a bad one by
    its position in the whole array."""
    t = np.asarray(t)
    offset = None
    if block_info and 0 in block_info:
        offset = tuple(lo for lo, _ in block_info[0]["array-location"])
    targets = IndexTargets(t, n_classes, ignore_index, offset=offset)
    s = None if sw is None else check_sample_weight(sw, t.shape)
    return np.full((1,) * t.ndim, targets.denominator(weight, s))


# The per-block functions take the denominator of class-index targets as an
# (otherwise unused) argument so that they run only once every target has
# been checked: an out-of-range index is then reported by _denominator_block
# with its position in the whole array, not by a block with its position in
# the block, and the blocks need not check (nor scan) their targets again.

def _cross_entropy(x: Array, t: Array, **kwargs: Any) -> Any:
    """The in-memory loss of one block (targets already checked)."""
    return _crossentropy.cross_entropy(x, t, want_grad=False, targets_checked=True, **kwargs)


def _cross_entropy_and_grad(x: Array, t: Array, **kwargs: Any) -> Any:
    """The in-memory loss and gradient of one block (targets already checked)."""
    return _crossentropy.cross_entropy(x, t, want_grad=True, targets_checked=True, **kwargs)


def _split(rest: tuple[Any, ...], weighted: bool) -> tuple[Any, Any]:
    """(sample weights, denominator) of a block function's extra arguments
    (either may be absent: None)."""
    sw = rest[0] if weighted else None
    rest = rest[1:] if weighted else rest
    return sw, (rest[0] if rest else None)


def _ce_sum_block(x: Array, t: Array, *rest: Any, ndim: int, weighted: bool = False,
                  **kwargs: Any) -> Array:
    sw, _ = _split(rest, weighted)
    s = _cross_entropy(x, t, reduction="sum", sample_weight=sw, **kwargs)
    return np.full((1,) * ndim, np.float64(s))


def _ce_none_block(x: Array, t: Array, *rest: Any, weighted: bool = False,
                   **kwargs: Any) -> Array:
    sw, _ = _split(rest, weighted)
    return np.asarray(_cross_entropy(x, t, reduction="none", sample_weight=sw, **kwargs))


def _finish(total: float, denom: float | None = None, *, reduction: str,
            result: np.dtype[np.floating[Any]]) -> np.floating[Any]:
    """The reduced loss from the summed block losses (and the denominator)."""
    return reduced_loss(total, denom, reduction, result)


def _reduced(ce: _CE, total: DaskArray, denom: DaskArray | float) -> DaskArray:
    """0-d Dask array: the final loss from 0-d ``total`` and ``denom``."""
    args = [total, ""]
    if ce.reduction == "mean":
        if isinstance(denom, da.Array):
            args += [denom, ""]
        else:
            args += [denom, None]
    return da.blockwise(_finish, "", *args, reduction=ce.reduction, result=ce.result,
                        dtype=ce.result, meta=np.empty((), ce.result),
                        token="fastsoftmax-ce-finish")


def cross_entropy(logits: DaskArray | ArrayLike, target: DaskArray | ArrayLike, *,
                  axis: SupportsIndex = -1, weight: ArrayLike | None = None,
                  ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", num_threads: SupportsIndex | None = None,
                  z_loss: float = 0.0, softcap: float | None = None,
                  sample_weight: DaskArray | ArrayLike | None = None) -> DaskArray:
    """Cross-entropy of Dask arrays (lazy); see :func:`fastsoftmax.cross_entropy`.

    Each block of ``logits`` (with the class axis in one chunk, rechunked
    with a :class:`RechunkWarning` if needed) and the matching block of
    ``target`` (rechunked to match silently; a NumPy target is wrapped) goes
    through one fused kernel call with ``reduction="sum"`` or ``"none"``.
    The "mean" is the sum of all block sums divided by the global
    denominator, so it equals the in-memory mean, not a mean of means.

    Parameters
    ----------
    logits : dask.array.Array or array_like
    target : dask.array.Array or array_like
        Integer class indices (shape of ``logits`` without ``axis``) or
        floating class probabilities (shape of ``logits``).
    axis, weight, ignore_index, label_smoothing, reduction, num_threads, z_loss, softcap
        As for :func:`fastsoftmax.cross_entropy`; ``weight`` is a small
        (C,) array sent to every block.  The z-loss and the softcap apply
        sample by sample, so "mean" divides them by the same global
        denominator as in memory.
    sample_weight : dask.array.Array or array_like, optional
        Per-sample weights of the shape of ``logits`` without ``axis``, as
        for :func:`fastsoftmax.cross_entropy` (rechunked to the logits' blocks
        silently; their values are checked by ``compute()``).  "mean" divides
        by the global weighted denominator.

    Returns
    -------
    dask.array.Array
        0-d (computes to a NumPy scalar of the logits' float dtype) for "mean"
        and "sum"; the per-sample losses for "none".

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastsoftmax.dask import cross_entropy
    >>> logits = da.from_array(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), chunks=(1, 3))
    >>> round(float(cross_entropy(logits, np.array([0, 1])).compute()), 5)
    0.31854
    >>> cross_entropy(logits, np.array([0, -100]), reduction="none").compute().round(5)
    array([0.41703, 0.     ])
    """
    ce = _CE("cross_entropy", logits, target, axis, weight, ignore_index,
             label_smoothing, reduction, num_threads, z_loss, softcap, sample_weight)
    kw = ce.kernel_kwargs()
    if ce.sw is not None:
        kw["weighted"] = True
    denom = ce.denominator()
    args = ce.block_args()
    if ce.index_target:
        # (for "sum" / "none" the denominator only orders the index check first)
        args += [denom, ""]
    if ce.reduction == "none":
        out = da.blockwise(_ce_none_block, ce.batch_ind, *args, dtype=ce.block,
                           meta=_meta(len(ce.batch_ind), ce.block), concatenate=True,
                           token="fastsoftmax-ce-none", **kw)
        return out.astype(ce.result, copy=False)
    parts = da.blockwise(_ce_sum_block, ce.x_ind, *args, ndim=ce.x.ndim, dtype=np.float64,
                         meta=_meta(ce.x.ndim, np.float64),
                         adjust_chunks={c: 1 for c in ce.x_ind}, concatenate=True,
                         token="fastsoftmax-ce-sum", **kw)
    return _reduced(ce, parts.sum(dtype=np.float64), denom)


def _ce_grad_block(x: Array, t: Array, *rest: Any, reduction: str, weighted: bool = False,
                   **kwargs: Any) -> tuple[Array, Array]:
    """(loss, grad) of one block from one fused call: the loss summed
    (float64, shape (1,)*ndim) or per sample, the gradient of the global
    reduction (scaled by 1/denominator for "mean")."""
    sw, denom = _split(rest, weighted)
    loss, grad = _cross_entropy_and_grad(
        x, t, reduction="none" if reduction == "none" else "sum", sample_weight=sw, **kwargs)
    if reduction == "mean":
        # the block's "sum" gradient times the global mean's scale
        scale = gradient_scale("mean", float(denom))
        if scale != 1.0:
            np.multiply(grad, scale, out=grad, casting="unsafe")
    else:
        loss = np.asarray(loss)
    if reduction != "none":
        loss = np.full((1,) * x.ndim, np.float64(loss))
    return loss, grad


def _pick_loss_none(blocks: list[tuple[Array, Array]]) -> Array:
    # blockwise hands over the blocks along the dropped class axis as a list
    # (one: the class axis is one chunk)
    (pair,) = blocks
    return pair[0]


def cross_entropy_and_grad(logits: DaskArray | ArrayLike, target: DaskArray | ArrayLike, *,
                           axis: SupportsIndex = -1, weight: ArrayLike | None = None,
                           ignore_index: SupportsIndex = -100, label_smoothing: float = 0.0,
                           reduction: str = "mean", num_threads: SupportsIndex | None = None,
                           z_loss: float = 0.0, softcap: float | None = None,
                           sample_weight: DaskArray | ArrayLike | None = None
                           ) -> tuple[DaskArray, DaskArray]:
    """Cross-entropy of Dask arrays and its gradient w.r.t. the logits (lazy).

    See :func:`fastsoftmax.cross_entropy_and_grad` and :func:`cross_entropy`.
    The gradient is that of the *global* reduction: for "mean", every
    block's gradient is scaled by ``1 / (global denominator)``, which is
    computed first from the targets and weights alone.  Loss and gradient of
    a block come from the same kernel call; compute them together
    (``dask.compute(loss, grad)``) so that it runs once.

    Returns
    -------
    loss : dask.array.Array
        As returned by :func:`cross_entropy`.
    grad : dask.array.Array
        Shape and chunks of ``logits`` (after any rechunking of the class axis).

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> from fastsoftmax.dask import cross_entropy_and_grad
    >>> x = da.from_array(np.zeros((2, 2)), chunks=(1, 2))
    >>> loss, grad = dask.compute(*cross_entropy_and_grad(x, np.array([1, 0])))
    >>> round(float(loss), 6), grad
    (0.693147, array([[ 0.25, -0.25],
           [-0.25,  0.25]]))
    """
    ce = _CE("cross_entropy_and_grad", logits, target, axis, weight, ignore_index,
             label_smoothing, reduction, num_threads, z_loss, softcap, sample_weight)
    kw = ce.kernel_kwargs()
    if ce.sw is not None:
        kw["weighted"] = True
    denom = ce.denominator()
    args = ce.block_args()
    if ce.reduction == "mean" or ce.index_target:
        # (for "sum" / "none" the denominator only orders the index check first)
        args += [denom, ""] if isinstance(denom, da.Array) else [denom, None]
    nd = ce.x.ndim
    # Blocks of ``pairs`` are (loss, grad) tuples, never concatenated: only
    # the two arrays taken from them below are ever computed.
    pairs = da.blockwise(_ce_grad_block, ce.x_ind, *args, reduction=ce.reduction,
                         dtype=ce.block, meta=_meta(nd, ce.block), concatenate=True,
                         token="fastsoftmax-ce-grad", **kw)
    grad = da.map_blocks(operator.getitem, pairs, 1, dtype=ce.block,
                         meta=_meta(nd, ce.block), token="fastsoftmax-ce-grad-pick")
    grad = grad.astype(ce.result, copy=False)
    if ce.reduction == "none":
        # (concatenate=False: the class axis, dropped here, is one block)
        loss = da.blockwise(_pick_loss_none, ce.batch_ind, pairs, ce.x_ind,
                            concatenate=False, dtype=ce.block,
                            meta=_meta(nd - 1, ce.block), token="fastsoftmax-ce-loss-pick")
        loss = loss.astype(ce.result, copy=False)
        return loss, grad
    parts = da.map_blocks(operator.getitem, pairs, 0, chunks=tuple((1,) * len(c)
                                                                   for c in pairs.chunks),
                          dtype=np.float64, meta=_meta(nd, np.float64),
                          token="fastsoftmax-ce-loss-pick")
    total = parts.sum(dtype=np.float64)
    return _reduced(ce, total, denom), grad
