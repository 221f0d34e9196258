"""Benchmark harness behind ``python -m fastsoftmax bench`` and ``benchmarks/``.

Private module.  It holds the op registry (what to benchmark and against
what), the input makers, the timing loop, machine facts and the output
formats (table, JSON, plot).  The pytest-benchmark suite in ``benchmarks/``
reuses the registry, shapes and input makers and lets pytest-benchmark do the
timing.

Adding an op is one :func:`register` call with an :class:`Op`; the CLI, the
JSON output, the plot and the benchmark suite pick it up from :data:`OPS`.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

import fastsoftmax

from . import _core, _reference

__all__ = [
    "DEFAULT_SHAPES", "QUICK_SHAPES", "IMPLEMENTATIONS", "OPS", "Op", "Timing",
    "Result", "register", "make_logits", "make_logits_and_labels", "bind",
    "backend_available", "torch_threads", "time_callable", "suggested_rounds",
    "run", "machine_info", "copy_bandwidth", "format_shape", "format_time",
    "format_gbps", "format_speedup", "format_header", "format_table",
    "write_json", "plot",
]

#: The default shape matrix: many short rows, the classic vocabulary sizes,
#: a few very long rows (row-parallel work is scarce) and a tiny call
#: (per-call overhead).
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = (
    (1_000_000, 10), (200_000, 100), (20_000, 1000),
    (2048, 32000), (32, 256000), (8, 10),
)
#: A reduced matrix for quick runs (``FASTSOFTMAX_BENCH_QUICK=1``).
QUICK_SHAPES: tuple[tuple[int, ...], ...] = ((20_000, 1000), (256, 32000), (8, 10))

#: Column order; "fastsoftmax" is the baseline the others are compared to.
IMPLEMENTATIONS = ("fastsoftmax", "numpy", "torch", "scipy")

# Optional backends: implementation name -> module handed to the op's factory.
_BACKEND_MODULES = {"torch": "torch", "scipy": "scipy.special"}

# Adaptive timing: time samples until this many seconds (warm-up included)
# are spent ...
TIME_BUDGET_S = 0.3
# ... but at least / at most this many samples per implementation and shape.
MIN_RUNS = 3
MAX_RUNS = 100
# A sample loops over enough calls to last this long, so that timer overhead
# (~0.1 us) stays negligible for the microsecond-sized calls.
MIN_SAMPLE_S = 100e-6


# --------------------------------------------------------------------------
# inputs


@functools.lru_cache(maxsize=1)
def make_logits(shape: tuple[int, ...], dtype: str = "float32", seed: int = 0) -> np.ndarray:
    """Seeded standard-normal logits of the given shape and dtype.

    Parameters
    ----------
    shape : tuple of int
        Array shape; the class (reduction) axis is the last.
    dtype : str, optional
        ``"float32"`` or ``"float64"``.
    seed : int, optional
        Seed of the generator.

    Returns
    -------
    ndarray
        C-contiguous array.  The last result is cached (generating 65M
        normals takes about a second and every op of a shape uses the same
        logits), so callers must treat it as read-only.
    """
    rng = np.random.default_rng(seed)
    return rng.standard_normal(tuple(shape), dtype=np.dtype(dtype).type)


def make_logits_and_labels(shape: tuple[int, ...], dtype: str = "float32",
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (see :func:`make_logits`) and uniform int64 class labels.

    Returns
    -------
    logits : ndarray
        Shape ``shape``.
    labels : ndarray of int64
        Shape ``shape[:-1]``, values in ``[0, shape[-1])``.
    """
    rng = np.random.default_rng(seed + 1)  # independent of the logits' stream
    labels = rng.integers(0, shape[-1], size=tuple(shape[:-1]), dtype=np.int64)
    return make_logits(shape, dtype, seed), labels


def _logits_only(shape: Any, dtype: Any = "float32", seed: Any = 0) -> Any:
    return (make_logits(shape, dtype, seed),)


# --------------------------------------------------------------------------
# the op registry


@dataclass(frozen=True)
class Op:
    """One benchmarked operation and the implementations it is compared with.

    Attributes
    ----------
    name : str
        Registry key and table label.
    ours : callable
        ``ours(*args, num_threads=n)``, the fastsoftmax function.
    reference : callable
        ``reference(*args)``, the NumPy baseline, computed in the input dtype.
    bytes_moved : callable
        ``bytes_moved(shape, itemsize) -> int``: bytes the op must read plus
        write at least (the GB/s numerator).
    make_inputs : callable
        ``make_inputs(shape, dtype, seed) -> tuple`` of NumPy arguments.
    torch : callable or None
        Factory ``torch(torch_module) -> f``; ``f(*tensors)`` receives
        ``torch.from_numpy`` of every argument.
    scipy : callable or None
        Factory ``scipy(scipy.special) -> f``; ``f(*args)`` takes the NumPy
        arguments.
    """

    name: str
    ours: Callable[..., Any]
    reference: Callable[..., Any]
    bytes_moved: Callable[[tuple[int, ...], int], int]
    make_inputs: Callable[..., tuple[Any, ...]] = _logits_only
    torch: Callable[[Any], Callable[..., Any]] | None = None
    scipy: Callable[[Any], Callable[..., Any]] | None = None


#: Registered ops by name, in registration (= table) order.
OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Add ``op`` to :data:`OPS` (replacing an op of the same name)."""
    OPS[op.name] = op
    return op


def _rows(shape: Any) -> Any:
    return math.prod(shape[:-1])


def _elementwise_bytes(shape: Any, itemsize: Any) -> Any:
    # read the input, write an output of the same size
    return 2 * math.prod(shape) * itemsize


def _reduction_bytes(shape: Any, itemsize: Any) -> Any:
    # read the input, write one value per row
    return (math.prod(shape) + _rows(shape)) * itemsize


def _loss_bytes(shape: Any, itemsize: Any) -> Any:
    # read the logits and the int64 labels; the scalar result is negligible
    return math.prod(shape) * itemsize + _rows(shape) * 8


def _loss_and_grad_bytes(shape: Any, itemsize: Any) -> Any:
    # ... plus the gradient, the size of the logits
    return _loss_bytes(shape, itemsize) + math.prod(shape) * itemsize


def _torch_rows(x: Any, y: Any) -> Any:
    """(N, C) logits and (N,) labels: the layout F.cross_entropy expects."""
    return x.reshape(-1, x.shape[-1]), y.reshape(-1)


def _torch_cross_entropy(torch: Any) -> Any:
    F = torch.nn.functional

    def cross_entropy(x: Any, y: Any) -> Any:
        return F.cross_entropy(*_torch_rows(x, y))
    return cross_entropy


def _torch_cross_entropy_and_grad(torch: Any) -> Any:
    F = torch.nn.functional

    def cross_entropy_and_grad(x: Any, y: Any) -> Any:
        # a fresh leaf per call: no gradient accumulates between calls
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(*_torch_rows(x, y))
        loss.backward()
        return loss.detach(), x.grad
    return cross_entropy_and_grad


def _reference_cross_entropy_and_grad(x: Any, y: Any) -> Any:
    return (_reference.cross_entropy(x, y, dtype=x.dtype),
            _reference.cross_entropy_grad(x, y, dtype=x.dtype))


register(Op(
    "softmax", fastsoftmax.softmax,
    lambda x: _reference.softmax(x, dtype=x.dtype), _elementwise_bytes,
    torch=lambda torch: functools.partial(torch.softmax, dim=-1),
    scipy=lambda special: functools.partial(special.softmax, axis=-1),
))
register(Op(
    "log_softmax", fastsoftmax.log_softmax,
    lambda x: _reference.log_softmax(x, dtype=x.dtype), _elementwise_bytes,
    torch=lambda torch: functools.partial(torch.log_softmax, dim=-1),
    scipy=lambda special: functools.partial(special.log_softmax, axis=-1),
))
register(Op(
    "logsumexp", fastsoftmax.logsumexp,
    lambda x: _reference.logsumexp(x, dtype=x.dtype), _reduction_bytes,
    torch=lambda torch: functools.partial(torch.logsumexp, dim=-1),
    scipy=lambda special: functools.partial(special.logsumexp, axis=-1),
))
# The losses are registered once the library has them; SciPy has no equivalent.
if hasattr(fastsoftmax, "cross_entropy"):
    register(Op(
        "cross_entropy", fastsoftmax.cross_entropy,
        lambda x, y: _reference.cross_entropy(x, y, dtype=x.dtype), _loss_bytes,
        make_inputs=make_logits_and_labels, torch=_torch_cross_entropy,
    ))
if hasattr(fastsoftmax, "cross_entropy_and_grad"):
    register(Op(
        "cross_entropy_and_grad", fastsoftmax.cross_entropy_and_grad,
        _reference_cross_entropy_and_grad, _loss_and_grad_bytes,
        make_inputs=make_logits_and_labels, torch=_torch_cross_entropy_and_grad,
    ))


# --------------------------------------------------------------------------
# binding implementations to inputs


@functools.cache
def backend_available(impl: str) -> bool:
    """Whether an implementation's library can be imported."""
    if impl not in _BACKEND_MODULES:
        return True
    try:
        importlib.import_module(_BACKEND_MODULES[impl])
    except ImportError:
        return False
    return True


def bind(op: Op, impl: str, args: tuple[Any, ...], threads: int | None = None
         ) -> Callable[[], Any] | None:
    """A zero-argument callable running ``impl``'s version of ``op`` on ``args``.

    Parameters
    ----------
    op : Op
        The op.
    impl : str
        One of :data:`IMPLEMENTATIONS`.
    args : tuple
        NumPy arguments from ``op.make_inputs``; converted to tensors here for
        torch (zero-copy), so the conversion is not timed.
    threads : int, optional
        ``num_threads`` for fastsoftmax.  Torch's thread count is process-wide:
        set it with :func:`torch_threads`.

    Returns
    -------
    callable or None
        None when the op has no such implementation or its library is missing.
    """
    if impl == "fastsoftmax":
        ours = op.ours
        return lambda: ours(*args, num_threads=threads)
    if impl == "numpy":
        ref = op.reference
        return lambda: ref(*args)
    factory = {"torch": op.torch, "scipy": op.scipy}[impl]
    if factory is None or not backend_available(impl):
        return None
    module = importlib.import_module(_BACKEND_MODULES[impl])
    fn = factory(module)
    if impl == "torch":
        args = tuple(module.from_numpy(a) for a in args)
    return lambda: fn(*args)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (None: leave as is), then restore."""
    if n is None or not backend_available("torch"):
        yield
        return
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------
# timing


@dataclass
class Timing:
    """Per-call times of one implementation on one input.

    Attributes
    ----------
    samples : list of float
        Seconds per call, one entry per sample (a sample averages ``number``
        back-to-back calls).
    number : int
        Calls per sample.
    """

    samples: list[float]
    number: int

    @property
    def median(self) -> float:
        """Median seconds per call (robust against the noise of a busy machine)."""
        return float(np.median(self.samples))

    @property
    def best(self) -> float:
        """Fastest sample, seconds per call."""
        return min(self.samples)

    @property
    def runs(self) -> int:
        """Number of samples."""
        return len(self.samples)


def time_callable(fn: Callable[[], Any], repeat: int | None = None, *,
                  budget: float = TIME_BUDGET_S, min_runs: int = MIN_RUNS,
                  max_runs: int = MAX_RUNS) -> tuple[Timing, Any]:
    """Warm up ``fn`` once, then time it.

    Parameters
    ----------
    fn : callable
        Zero-argument callable.
    repeat : int, optional
        Exact number of samples.  Default: adaptive, samples until ``budget``
        seconds (warm-up included) are spent, at least ``min_runs`` and at
        most ``max_runs``; so a slow call gets just ``min_runs`` samples.
    budget, min_runs, max_runs
        The adaptive policy.

    Returns
    -------
    timing : Timing
    result
        What the warm-up call returned (for a correctness check).
    """
    start = time.perf_counter()
    result = fn()
    estimate = time.perf_counter() - start
    if estimate > 5e-3:
        # Large outputs: the first few allocations of a new size are slow here
        # (transparent huge pages being assembled by the kernel: 90-300 ms for
        # 262 MB, then 18 ms).  Steady state is what the table reports.
        for _ in range(2):
            t0 = time.perf_counter()
            fn()
            estimate = time.perf_counter() - t0
    if estimate < MIN_SAMPLE_S * 10:
        # the first call pays for lazy initialisation; time a warm one
        t0 = time.perf_counter()
        fn()
        estimate = time.perf_counter() - t0
    number = max(1, min(10_000, math.ceil(MIN_SAMPLE_S / max(estimate, 1e-9))))
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection inside a sample is noise
    try:
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            t1 = time.perf_counter()
            samples.append((t1 - t0) / number)
            if repeat is not None:
                if len(samples) >= repeat:
                    break
            elif len(samples) >= max_runs or (
                    len(samples) >= min_runs and t1 - start >= budget):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(samples, number), result


def suggested_rounds(shape: Sequence[int], *, lo: int = 3, hi: int = 1000) -> int:
    """pytest-benchmark rounds for a shape: about 1e8 elements' worth, clipped.

    Keeps the suite to a few minutes: 3 rounds at 2048x32000, 1000 at 8x10.
    """
    return int(min(hi, max(lo, 100_000_000 // max(1, math.prod(shape)))))


# --------------------------------------------------------------------------
# running the matrix


@dataclass
class Result:
    """Timings of all implementations of one op on one shape.

    Attributes
    ----------
    op, shape, dtype, threads, nbytes
        What was measured; ``nbytes`` is ``op.bytes_moved(shape, itemsize)``.
    timings : dict
        Implementation name -> :class:`Timing`, for those that ran.
    agrees : bool or None
        Whether fastsoftmax's result matched the NumPy reference (a loose,
        gross-error check; None if not compared).
    """

    op: str
    shape: tuple[int, ...]
    dtype: str
    threads: int
    nbytes: int
    timings: dict[str, Timing] = field(default_factory=dict)
    agrees: bool | None = None

    def gbps(self, impl: str) -> float | None:
        """Bytes moved per second of ``impl``'s median time, in GB/s."""
        t = self.timings.get(impl)
        return None if t is None else self.nbytes / t.median / 1e9

    def speedup(self, impl: str) -> float | None:
        """``impl``'s median time over fastsoftmax's (> 1: we are faster)."""
        t, ours = self.timings.get(impl), self.timings.get("fastsoftmax")
        return None if t is None or ours is None else t.median / ours.median

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        impls = {}
        for name, t in self.timings.items():
            impls[name] = {
                "median_s": t.median, "best_s": t.best, "runs": t.runs,
                "calls_per_run": t.number, "gbps": self.gbps(name),
                "fastsoftmax_speedup": self.speedup(name), "samples_s": t.samples,
            }
        return {"op": self.op, "shape": list(self.shape), "dtype": self.dtype,
                "threads": self.threads, "bytes_moved": self.nbytes,
                "agrees_with_reference": self.agrees, "implementations": impls}


def _sampled_rows(result: Any, rows: int = 257) -> list[NDArray[Any]]:
    """Each output as float64, only ``rows`` evenly spaced leading-axis rows.

    Checking a sample keeps the check cheap (a full float64 copy of a 2048x32000
    output would cost more than timing it) while a broken kernel still shows.
    """
    parts = result if isinstance(result, tuple) else (result,)
    out = []
    for p in parts:
        p = np.asarray(p)
        if p.ndim and p.shape[0] > rows:
            p = p[np.linspace(0, p.shape[0] - 1, rows).astype(np.intp)]
        out.append(p.astype(np.float64))
    return out


def _agrees(ours: Any, ref: Any, dtype: str) -> bool:
    """Loose comparison: catches a broken kernel, not ulp-level differences."""
    rtol = 1e-3 if np.dtype(dtype) == np.float32 else 1e-9
    a, b = _sampled_rows(ours), _sampled_rows(ref)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.shape != y.shape:
            return False
        finite = np.abs(y[np.isfinite(y)])
        scale = float(finite.max()) if finite.size else 0.0
        if not np.allclose(x, y, rtol=rtol, atol=rtol * scale, equal_nan=True):
            return False
    return True


def run(ops: Iterable[str], shapes: Iterable[Sequence[int]], *, dtype: str = "float32",
        threads: int | None = None, repeat: int | None = None,
        impls: Sequence[str] = IMPLEMENTATIONS, seed: int = 0,
        progress: Callable[[str], None] | None = None) -> list[Result]:
    """Time every op on every shape for every available implementation.

    Parameters
    ----------
    ops : iterable of str
        Keys of :data:`OPS`.
    shapes : iterable of tuple of int
        Input shapes; the class axis is the last.
    dtype : str, optional
        Input dtype, ``"float32"`` or ``"float64"``.
    threads : int, optional
        Threads for fastsoftmax and torch; default :func:`fastsoftmax.get_num_threads`.
    repeat : int, optional
        Fixed number of samples; default adaptive (see :func:`time_callable`).
    impls : sequence of str, optional
        Implementations to run; unavailable ones are skipped.
    seed : int, optional
        Input seed.
    progress : callable, optional
        Called with one line of text after each (shape, op).

    Returns
    -------
    list of Result
        Shape-major order (all ops of a shape share one generated input).
    """
    threads = fastsoftmax.get_num_threads() if threads is None else threads
    selected = [OPS[name] for name in ops]
    shape_list = [tuple(int(n) for n in s) for s in shapes]
    itemsize = np.dtype(dtype).itemsize
    results = []
    total, start = len(selected) * len(shape_list), time.perf_counter()
    _prefault(max(int(np.prod(s)) for s in shape_list) * itemsize)
    with torch_threads(threads if "torch" in impls else None):
        for shape in shape_list:
            for op in selected:
                args = op.make_inputs(shape, dtype, seed)
                res = Result(op.name, shape, dtype, threads, op.bytes_moved(shape, itemsize))
                outputs = {}
                for impl in impls:
                    fn = bind(op, impl, args, threads)
                    if fn is None:
                        continue
                    res.timings[impl], out = time_callable(fn, repeat)
                    if impl in ("fastsoftmax", "numpy"):
                        outputs[impl] = out
                    del fn, out  # free the outputs of large shapes early
                if len(outputs) == 2:
                    res.agrees = _agrees(outputs["fastsoftmax"], outputs["numpy"], dtype)
                del outputs, args
                results.append(res)
                if progress is not None:
                    progress(_progress_line(res, len(results), total,
                                            time.perf_counter() - start))
    make_logits.cache_clear()
    return results


def _prefault(nbytes: int) -> None:
    """Touch and free about 6x the largest input once, before any timing.

    The first touch of memory a process has never used is far slower than
    later allocations (measured here: the first three 262 MB outputs took
    90-300 ms, then 18 ms each, on a virtual machine whose host backs guest
    memory lazily).  Without this the first op measured pays it alone.
    """
    budget = min(6 * nbytes, 3 << 30)
    chunk = 64 << 20
    bufs = [np.ones(chunk // 8) for _ in range(max(1, budget // chunk))]
    del bufs


def _progress_line(res: Result, i: int, total: int, elapsed: float) -> str:
    parts = [f"{name} {format_time(t.median)} ({t.runs}x{t.number})"
             for name, t in res.timings.items()]
    warn = "  MISMATCH vs reference!" if res.agrees is False else ""
    return (f"[{i}/{total}] {res.op} {format_shape(res.shape)}: "
            f"{', '.join(parts)}  [{elapsed:.1f} s]{warn}")


# --------------------------------------------------------------------------
# machine facts


def _cpuinfo() -> tuple[str, int | None]:
    """(CPU model, physical cores) from /proc/cpuinfo; fallbacks elsewhere."""
    model, cores, phys = None, set(), None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model is None:
                    model = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    cores.add((phys, value))
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return model, len(cores) or None


def _version(module_name: str) -> str | None:
    try:
        version: str = importlib.import_module(module_name).__version__
        return version
    except ImportError:
        return None


def machine_info(threads: int, impls: Sequence[str] = IMPLEMENTATIONS) -> dict[str, Any]:
    """CPU, core count, ISA, threads and library versions, as a dict.

    Versions are listed for the libraries of ``impls`` only, so that an
    excluded optional library is not imported.
    """
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    versions: dict[str, str | None] = {"fastsoftmax": fastsoftmax.__version__,
                                       "numpy": np.__version__}
    for impl in ("torch", "scipy"):
        if impl in impls and backend_available(impl):
            versions[impl] = _version(impl)
    model, cores = _cpuinfo()
    return {
        "cpu": model, "cores": cores, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "isa_selected": _core.isa_selected(), "isa_compiled": _core.isa_compiled(),
        "openmp": fastsoftmax.openmp_enabled(), "threads": threads,
        "python": platform.python_version(), "versions": versions,
        # other work on the machine skews every number; worth knowing
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def copy_bandwidth(mib: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth in GB/s: best ``np.copyto`` of ``mib`` MiB of float32.

    Counted as read + write bytes over time (STREAM's convention), the same
    way the ops' GB/s are, so it is the roofline for the elementwise ops.
    """
    src = np.ones(mib * (1 << 20) // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in before timing
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


# --------------------------------------------------------------------------
# output


def format_shape(shape: Sequence[int]) -> str:
    """``(2048, 32000)`` -> ``"2048x32000"``."""
    return "x".join(str(n) for n in shape)


def _sig3(v: float) -> str:
    """Three significant digits, fixed point: 812, 40.1, 1.23."""
    v = float(f"{v:.3g}")  # round first, so 99.96 becomes 100, not 100.0
    digits = 0 if v >= 100 else 1 if v >= 10 else 2
    return f"{v:.{digits}f}"


def format_time(seconds: float) -> str:
    """Three significant digits with a unit: ``"40.1 ms"``, ``"812 us"``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if float(f"{seconds / scale:.3g}") >= 1 or unit == "ns":
            return f"{_sig3(seconds / scale)} {unit}"
    raise AssertionError("unreachable")


def format_gbps(gbps: float | None) -> str:
    """GB/s with one decimal, two significant digits below 1."""
    if gbps is None:
        return "-"
    return f"{gbps:.1f}" if gbps >= 0.95 else f"{gbps:.2g}"


def format_speedup(ratio: float | None) -> str:
    """``x12.3``: the other implementation's time over ours."""
    return "-" if ratio is None else f"x{_sig3(ratio)}"


def format_header(info: dict[str, Any], bandwidth: float | None) -> str:
    """The machine-facts line and the copy-bandwidth line."""
    versions = " ".join(f"{k} {v}" for k, v in info["versions"].items())
    cpus = f"{info['cores'] or '?'} cores"
    if info["logical_cpus"] != info["cores"]:
        cpus += f"/{info['logical_cpus']} CPUs"
    if info["usable_cpus"] != info["logical_cpus"]:
        cpus += f" ({info['usable_cpus']} usable)"
    omp = "" if info["openmp"] else " (no OpenMP)"
    load = "" if info["load_average"] is None else f" | load {info['load_average']:.1f}"
    lines = [f"{info['cpu']} | {cpus} | {info['isa_selected']} | "
             f"threads {info['threads']}{omp} | {versions} | {info['date']}{load}"]
    if bandwidth is not None:
        lines.append(f"memory bandwidth (np.copyto 256 MiB float32, read+write): "
                     f"{bandwidth:.1f} GB/s")
    return "\n".join(lines)


def format_table(results: Sequence[Result]) -> str:
    """Aligned table: our time and GB/s, then each other implementation's
    time and our speedup over it.  Columns of implementations that never ran
    are dropped; "-" marks an op an implementation does not provide."""
    others = [i for i in IMPLEMENTATIONS[1:] if any(i in r.timings for r in results)]
    op_w = max([len("op")] + [len(r.op) for r in results])
    shape_w = max([len("shape")] + [len(format_shape(r.shape)) for r in results])
    head = f"{'op':<{op_w}}  {'shape':<{shape_w}}  {'fastsoftmax':>11}  {'GB/s':>6}"
    for name in others:
        head += f"  {name:>8}  {'vs ' + name:>8}"
    lines = [head]
    for r in results:
        ours = r.timings.get("fastsoftmax")
        line = (f"{r.op:<{op_w}}  {format_shape(r.shape):<{shape_w}}  "
                f"{format_time(ours.median) if ours else '-':>11}  "
                f"{format_gbps(r.gbps('fastsoftmax')):>6}")
        for name in others:
            t = r.timings.get(name)
            line += (f"  {format_time(t.median) if t else '-':>8}"
                     f"  {format_speedup(r.speedup(name)):>8}")
        if r.agrees is False:
            line += "  MISMATCH"
        lines.append(line)
    return "\n".join(lines)


def write_json(path: str, results: Sequence[Result], info: dict[str, Any],
               bandwidth: float | None, settings: dict[str, Any]) -> None:
    """Write machine facts, settings and every result (with raw samples)."""
    doc = {"machine": info, "copy_bandwidth_gbps": bandwidth, "settings": settings,
           "results": [r.to_dict() for r in results]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def plot(path: str, results: Sequence[Result], bandwidth: float | None) -> None:
    """Grouped bars of GB/s per shape (fastsoftmax, numpy, torch), one
    subplot per op, with the copy bandwidth as a horizontal line.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    import matplotlib
    matplotlib.use("Agg")  # file output only; works without a display
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r.op for r in results))
    impls = [i for i in ("fastsoftmax", "numpy", "torch")
             if any(i in r.timings for r in results)]
    fig, axes = plt.subplots(len(ops), 1, figsize=(10, 1 + 2.8 * len(ops)), squeeze=False)
    width = 0.8 / len(impls)
    for ax, op in zip(axes[:, 0], ops):
        rows = [r for r in results if r.op == op]
        x = np.arange(len(rows))
        for k, impl in enumerate(impls):
            vals = [r.gbps(impl) or 0.0 for r in rows]  # 0: not available
            ax.bar(x + (k - (len(impls) - 1) / 2) * width, vals, width, label=impl)
        if bandwidth is not None:
            ax.axhline(bandwidth, color="k", linestyle="--", linewidth=1,
                       label=f"np.copyto bandwidth ({bandwidth:.0f} GB/s)")
        ax.set_xticks(x, [format_shape(r.shape) for r in rows])
        ax.set_yscale("log")  # spans tiny-shape overhead to near-roofline
        ax.set_ylabel("GB/s")
        ax.set_title(f"{op} ({rows[0].dtype}, {rows[0].threads} threads)", fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------
# linear cross-entropy (a language-model head): time and peak memory

#: (N tokens, D model dim, V vocabulary) of the ``--linear`` table.
LINEAR_SIZE = (4096, 1024, 32000)
LINEAR_IMPLS = ("fastsoftmax", "torch", "numpy")
LINEAR_MODES = ("loss", "loss_and_grad")


def linear_inputs(n: int, d: int, v: int, dtype: str = "float32", seed: int = 0
                  ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Hidden states (N, D), an nn.Linear-style weight (V, D) and labels (N,)."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
    w = rng.standard_normal((v, d), dtype=np.dtype(dtype).type)
    w *= 1.0 / np.sqrt(d)  # logits of order 1, as in a trained model
    y = rng.integers(0, v, n)
    return h, w, y


def linear_impl(impl: str, mode: str) -> Callable[..., Any] | None:
    """``f(h, w, y)`` computing the loss (and gradients for "loss_and_grad")
    of ``hidden @ weight.T`` with one implementation; None if unavailable.

    fastsoftmax never holds the logits; torch is ``F.cross_entropy(F.linear(h,
    w), y)`` (with ``.backward()``); NumPy forms the full logits and runs the
    reference cross-entropy (and gradient) on them."""
    grad = mode == "loss_and_grad"
    if impl == "fastsoftmax":
        return (fastsoftmax.linear_cross_entropy_and_grad if grad
                else fastsoftmax.linear_cross_entropy)
    if impl == "numpy":
        def numpy_impl(h: Any, w: Any, y: Any) -> Any:
            logits = h @ w.T
            loss = _reference.cross_entropy(logits, y, dtype=logits.dtype)
            if not grad:
                return loss
            g = _reference.cross_entropy_grad(logits, y, dtype=logits.dtype)
            del logits
            return loss, g @ w, g.T @ h
        return numpy_impl
    if not backend_available("torch"):
        return None
    import torch
    F = torch.nn.functional

    def torch_impl(h: Any, w: Any, y: Any) -> Any:
        th, tw, ty = torch.from_numpy(h), torch.from_numpy(w), torch.from_numpy(y)
        if not grad:
            with torch.no_grad():
                return F.cross_entropy(F.linear(th, tw), ty)
        th = th.detach().requires_grad_(True)
        tw = tw.detach().requires_grad_(True)
        loss = F.cross_entropy(F.linear(th, tw), ty)
        loss.backward()
        return loss.detach(), th.grad, tw.grad
    return torch_impl


# Run in a fresh interpreter, so that the peak resident size (VmHWM) is this
# one implementation's: inputs are made, a small call initialises thread
# pools and imports, then two full calls are timed.
_LINEAR_PROBE = """
import json, sys, time
from fastsoftmax import _bench

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

impl, mode, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
size = tuple(int(s) for s in sys.argv[4].split("x"))
h, w, y = _bench.linear_inputs(*size, dtype)
fn = _bench.linear_impl(impl, mode)
fn(*_bench.linear_inputs(64, 16, 128, dtype))
base = status("VmRSS")
times = []
for _ in range(2):
    t0 = time.perf_counter()
    out = fn(h, w, y)
    times.append(time.perf_counter() - t0)
    del out
print(json.dumps({"seconds": min(times), "peak_extra": status("VmHWM") - base}))
"""


def linear_probe(impl: str, mode: str, size: tuple[int, ...] = LINEAR_SIZE,
                 dtype: str = "float32", threads: int | None = None) -> dict[str, Any] | None:
    """{"seconds": best of two calls, "peak_extra": bytes above the inputs}
    for one implementation, measured in a subprocess; None if unavailable."""
    if linear_impl(impl, mode) is None:
        return None
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    res = subprocess.run([sys.executable, "-c", _LINEAR_PROBE, impl, mode, dtype,
                          format_shape(size)], capture_output=True, text=True, env=env,
                         timeout=3600)
    if res.returncode != 0:
        raise RuntimeError(f"{impl} {mode} failed:\n{res.stderr[-2000:]}")
    probe: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return probe


def run_linear(size: tuple[int, ...] = LINEAR_SIZE, dtype: str = "float32",
               threads: int | None = None,
               impls: Sequence[str] = LINEAR_IMPLS,
               progress: Callable[[str], None] | None = None) -> dict[Any, Any]:
    """{(impl, mode): probe result} over the implementations and both modes."""
    out = {}
    for mode in LINEAR_MODES:
        for impl in impls:
            r = linear_probe(impl, mode, size, dtype, threads)
            if r is None:
                continue
            out[impl, mode] = r
            if progress is not None:
                progress(f"linear_cross_entropy {mode} {impl}: {format_time(r['seconds'])}, "
                         f"peak +{r['peak_extra'] / 2**20:.0f} MiB")
    return out


def format_linear_table(results: dict[Any, Any], size: tuple[int, ...] = LINEAR_SIZE,
                        dtype: str = "float32") -> str:
    """The ``--linear`` table: time and extra peak memory per implementation."""
    n, d, v = size
    logits_mib = n * v * np.dtype(dtype).itemsize / 2**20
    lines = [f"linear_cross_entropy: hidden ({n}, {d}) x weight ({v}, {d}), {dtype}; "
             f"the logits alone would take {logits_mib:.0f} MiB",
             f"{'implementation':<14}{'loss':>12}{'peak +MiB':>11}"
             f"{'loss+grads':>13}{'peak +MiB':>11}"]
    for impl in LINEAR_IMPLS:
        cells = []
        for mode in LINEAR_MODES:
            r = results.get((impl, mode))
            cells += (["-", "-"] if r is None else
                      [format_time(r["seconds"]), f"{r['peak_extra'] / 2**20:.0f}"])
        if cells != ["-"] * 4:
            lines.append(f"{impl:<14}{cells[0]:>12}{cells[1]:>11}{cells[2]:>13}{cells[3]:>11}")
    return "\n".join(lines)
