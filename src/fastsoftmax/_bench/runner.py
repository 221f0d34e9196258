"""Runs the probes: each implementation in its own fresh process, in rounds
that alternate between implementations, and gathers what they print.

Shared, noisy machines drift within seconds (neighbours start and stop,
memory bandwidth varies twofold within an hour).  Timing every library in
one process, one after the other, would hand whichever ran in a quiet moment
an advantage, and libraries would disturb each other (thread pools, memory
layout).  So a run is ``rounds`` rounds of ``fastsoftmax, numpy, torch,
scipy, onnxruntime, jax`` probes, one process each, and each cell keeps the best of its rounds'
medians: the median resists a noisy sample within a round, the best-of
resists a noisy round.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Callable, TypedDict

import numpy as np

import fastsoftmax

from . import JSONDict, events, inputs, registry
from .report import format_time
from .timing import CELL_BUDGET_S, Timing

#: Default number of rounds.
ROUNDS = 3
#: Size of the arrays of the bandwidth measurement.
BANDWIDTH_MIB = 256

Progress = Callable[[str], None]
#: A cell of the shape matrix: (op name, shape).
Cell = tuple[str, tuple[int, ...]]


class _ProbeSummary(TypedDict):
    """What :func:`run_matrix` keeps of one matrix probe's events."""

    cells: int
    bandwidth: JSONDict | None


def probe_environment(impl: str, threads: int) -> dict[str, str]:
    """The environment of a probe process: the parent's, with this very
    fastsoftmax first on the path (an A/B run times the build it was started
    from) and the implementation's own thread variables.

    Threads are otherwise set through each library's API, as users set
    them; ``OMP_NUM_THREADS`` is left as it is (it would also resize every
    other OpenMP pool of the process).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_package_parent(), env.get("PYTHONPATH")) if p)
    extra = registry.IMPLEMENTATIONS[impl].environ
    if extra is not None:
        env.update(extra(threads))
    return env


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(fastsoftmax.__file__)))


def _run_probe(module: str, spec: JSONDict, env: dict[str, str],
               on_line: Callable[[JSONDict], None]) -> None:
    """Run ``python -m module SPEC``; hand each JSON event line to ``on_line``.

    Raises
    ------
    RuntimeError
        If the probe fails, or imported another fastsoftmax than this one.
    """
    with tempfile.TemporaryFile(mode="w+") as err:  # a file: a chatty probe cannot block
        # cwd: "-m" puts it first on the path; there it is this package's parent
        proc = subprocess.Popen([sys.executable, "-m", module, json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                cwd=_package_parent())
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                event = events.parse(line)
                if event is None:
                    continue
                if event["event"] == "start" and not os.path.samefile(
                        event["fastsoftmax"], fastsoftmax.__file__):
                    proc.kill()
                    raise RuntimeError(f"the {spec['impl']} probe imported fastsoftmax from "
                                       f"{event['fastsoftmax']}, not {fastsoftmax.__file__}")
                on_line(event)
        if proc.wait() != 0:
            err.seek(0)
            raise RuntimeError(f"{module} {spec.get('impl')} failed "
                               f"(exit {proc.returncode}):\n{err.read()[-3000:]}")


def _input_bytes(shapes: Sequence[Sequence[int]], dtype: str) -> int:
    """Bytes of the logits and labels of every shape."""
    itemsize = inputs.numpy_dtype(dtype).itemsize
    return sum(math.prod(s) * itemsize + math.prod(s[:-1]) * 8 for s in shapes)


def format_cell_progress(event: JSONDict) -> str:
    """``softmax 2048x32000: median 19.2 ms of 5 samples x 1 call``."""
    t = Timing(event["samples_s"], event["calls_per_sample"])
    calls = "call" if t.number == 1 else "calls"
    warn = "  MISMATCH vs reference!" if event.get("agrees") is False else ""
    return (f"  {event['op']} {inputs.format_shape(event['shape'])}: median "
            f"{format_time(t.median)} of {t.runs} samples x {t.number} {calls}{warn}")


def run_matrix(ops: Sequence[str], shapes: Sequence[Sequence[int]], impls: Sequence[str], *,
               dtype: str = "float32", threads: int = 1, rounds: int = ROUNDS,
               repeat: int | None = None, budget: float = CELL_BUDGET_S, seed: int = 0,
               bandwidth_mib: int | None = BANDWIDTH_MIB, bandwidth_method: str = "auto",
               progress: Progress | None = None, verbose: bool = False) -> JSONDict:
    """Time every op on every shape for every implementation, in rounds.

    Parameters
    ----------
    ops, shapes, impls
        What to time; implementations without an op skip it.
    dtype, threads, seed
        Input dtype and seed; threads of every library.
    rounds : int, optional
        Rounds; each runs one fresh process per implementation, in ``impls`` order.
    repeat : int, optional
        Exact samples per cell and round (default adaptive: ``budget`` seconds,
        see :func:`timing.time_callable`).
    bandwidth_mib : int or None, optional
        Measure the memory bandwidth over arrays of this size in each
        fastsoftmax process, just before its kernels (None: don't).
    bandwidth_method : str, optional
        See :func:`machine.memory_bandwidth`.
    progress : callable, optional
        Called with a line of text after each probe (and, if ``verbose``,
        after each cell).

    Returns
    -------
    dict
        ``{"results": [...], "bandwidth": {...} or None, "elapsed_s": ...}``
        (the parts of the JSON document, see :mod:`report`).  Results are in
        shape-major order; fastsoftmax's results of the first round are
        checked against the reference (:mod:`fastsoftmax.slow`).
    """
    start = time.perf_counter()
    matrix = [tuple(int(n) for n in s) for s in shapes]  # tuples: the cells' keys
    timings: dict[Cell, dict[str, list[Timing]]] = {}
    agreement: dict[Cell, bool] = {}
    bandwidths: list[JSONDict | None] = []
    say = progress or (lambda line: None)
    directory = inputs.input_directory(_input_bytes(matrix, dtype))
    try:
        manifest = inputs.write_inputs(directory, [registry.OPS[o].make_inputs for o in ops],
                                       matrix, dtype, seed)
        for r in range(rounds):
            for impl in impls:
                t0 = time.perf_counter()
                spec = {"impl": impl, "ops": list(ops), "shapes": [list(s) for s in matrix],
                        "dtype": dtype, "threads": threads, "seed": seed, "repeat": repeat,
                        "budget": budget, "inputs": manifest,
                        "check": impl == "fastsoftmax" and r == 0,
                        "bandwidth_mib": bandwidth_mib if impl == "fastsoftmax" else None,
                        "bandwidth_method": bandwidth_method}
                seen: _ProbeSummary = {"cells": 0, "bandwidth": None}

                def on_event(event: JSONDict, impl: str = impl,
                             seen: _ProbeSummary = seen) -> None:
                    kind = event["event"]
                    if kind == "bandwidth":
                        seen["bandwidth"] = {k: v for k, v in event.items() if k != "event"}
                    elif kind == "cell":
                        key = (event["op"], tuple(event["shape"]))
                        timings.setdefault(key, {}).setdefault(impl, []).append(
                            Timing(event["samples_s"], event["calls_per_sample"]))
                        if event.get("agrees") is not None:
                            agreement[key] = event["agrees"]
                        seen["cells"] += 1
                        if verbose:
                            say(format_cell_progress(event))
                _run_probe("fastsoftmax._bench.matrix_probe", spec,
                           probe_environment(impl, threads), on_event)
                bw = seen["bandwidth"]
                if impl == "fastsoftmax":
                    bandwidths.append(bw)
                note = "" if bw is None else (f" (bandwidth: copy {bw['copy_gbps']:.1f} GB/s, "
                                              f"read {bw['read_gbps']:.1f} GB/s)")
                say(f"round {r + 1}/{rounds} {impl}: {seen['cells']} cells timed in "
                    f"{time.perf_counter() - t0:.1f} s{note}; "
                    f"{time.perf_counter() - start:.0f} s elapsed")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    results: list[JSONDict] = []
    for shape in matrix:
        for op in ops:
            if (op, shape) in timings:
                results.append(_result(op, shape, dtype, threads, timings[op, shape],
                                       agreement.get((op, shape)), bandwidths))
    measured = [b for b in bandwidths if b is not None]
    bandwidth: JSONDict | None = None
    if measured:
        bandwidth = {k: measured[0][k] for k in ("method", "threads", "mib")}
        bandwidth["rounds"] = [None if b is None else
                               {"copy_gbps": b["copy_gbps"], "read_gbps": b["read_gbps"]}
                               for b in bandwidths]
    return {"results": results, "bandwidth": bandwidth,
            "elapsed_s": time.perf_counter() - start}


def roofline_seconds(read: int, written: int, copy_gbps: float, read_gbps: float) -> float:
    """The least time to read ``read`` and write ``written`` bytes at the
    measured bandwidths: written bytes (and as many read) stream at the copy
    bandwidth (which counts both), the remaining reads at the read bandwidth.

    Examples
    --------
    >>> roofline_seconds(10**9, 10**9, copy_gbps=40.0, read_gbps=50.0)  # a copy
    0.05
    >>> roofline_seconds(10**9, 0, copy_gbps=40.0, read_gbps=50.0)  # a reduction
    0.02
    """
    paired = min(read, written)
    return (2 * paired / (copy_gbps * 1e9) + max(read - paired, 0) / (read_gbps * 1e9)
            + 2 * max(written - paired, 0) / (copy_gbps * 1e9))


def _result(op: str, shape: tuple[int, ...], dtype: str, threads: int,
            per_impl: dict[str, list[Timing]], agrees: bool | None,
            bandwidths: list[JSONDict | None]) -> JSONDict:
    traffic = registry.traffic(op, shape, dtype)
    read, written = traffic if traffic is not None else (None, None)
    moved = None if traffic is None else sum(traffic)
    impls: dict[str, JSONDict] = {}
    for impl, rounds in per_impl.items():
        medians = [t.median for t in rounds]
        best_round = int(np.argmin(medians))
        impls[impl] = {
            "median_s": medians[best_round], "best_round": best_round,
            "round_medians_s": medians, "best_s": min(t.best for t in rounds),
            "gbps": None if moved is None else moved / medians[best_round] / 1e9,
            "rounds": [{"samples_s": t.samples, "calls_per_sample": t.number}
                       for t in rounds],
        }
    ours = impls.get("fastsoftmax")
    for entry in impls.values():
        entry["fastsoftmax_speedup"] = (None if ours is None
                                        else entry["median_s"] / ours["median_s"])
    percent = None
    if ours is not None and traffic is not None and ours["best_round"] < len(bandwidths):
        bw = bandwidths[ours["best_round"]]
        if bw is not None:
            percent = 100 * roofline_seconds(*traffic, bw["copy_gbps"],
                                             bw["read_gbps"]) / ours["median_s"]
    return {"op": op, "shape": list(shape), "dtype": dtype, "threads": threads,
            "bytes_read": read, "bytes_written": written, "bytes_moved": moved,
            "agrees_with_reference": agrees, "bandwidth_percent": percent,
            "implementations": impls}


# --------------------------------------------------------------------------
# linear cross-entropy


def run_linear(size: Sequence[int], impls: Sequence[str], *, dtype: str = "float32",
               threads: int = 1, rounds: int = ROUNDS, ops: Sequence[str] | None = None,
               progress: Progress | None = None) -> JSONDict:
    """Time and peak memory of the linear cross-entropy ops (default both:
    the loss, and the loss with gradients), one fresh process per
    implementation, op and round.

    Returns
    -------
    dict
        ``{"size": [N, D, V], "dtype": ..., "results": {impl: {op: {"seconds":
        best over the rounds, "peak_extra": largest over the rounds (bytes),
        "rounds": [probe results]}}}}``.
    """
    size = [int(n) for n in size]
    say = progress or (lambda line: None)
    results: dict[str, dict[str, JSONDict]] = {}
    for r in range(rounds):
        for op in registry.linear_ops() if ops is None else ops:
            for impl in impls:
                if op not in registry.IMPLEMENTATIONS[impl].bindings:
                    continue
                spec = {"impl": impl, "op": op, "size": size, "dtype": dtype,
                        "threads": threads}
                got: JSONDict = {}

                def on_event(event: JSONDict, got: JSONDict = got) -> None:
                    if event["event"] == "result":
                        got.update(seconds=event["seconds"], peak_extra=event["peak_extra"])
                _run_probe("fastsoftmax._bench.linear_probe", spec,
                           probe_environment(impl, threads), on_event)
                entry = results.setdefault(impl, {}).setdefault(op, {"rounds": []})
                entry["rounds"].append(got)
                entry["seconds"] = min(p["seconds"] for p in entry["rounds"])
                peaks = [p["peak_extra"] for p in entry["rounds"] if p["peak_extra"] is not None]
                entry["peak_extra"] = max(peaks) if peaks else None
                peak = got["peak_extra"]
                say(f"round {r + 1}/{rounds} {op} {impl}: {format_time(got['seconds'])}"
                    + ("" if peak is None else f", peak +{peak / 2**20:.0f} MiB"))
    return {"size": size, "dtype": dtype, "results": results}


# --------------------------------------------------------------------------
# peak extra memory of a call


def run_memory(ops: Sequence[str], shapes: Sequence[Sequence[int]], impls: Sequence[str], *,
               dtype: str = "float32", threads: int = 1,
               progress: Progress | None = None) -> JSONDict:
    """Peak extra memory of each implementation's call of each op and shape,
    one fresh process each (:mod:`memory_probe`).

    Returns
    -------
    dict
        ``{"dtype": ..., "results": [{"op", "shape", "impl", "peak_extra"}]}``
        (``peak_extra`` in bytes, or None where it cannot be measured).
    """
    say = progress or (lambda line: None)
    results = []
    for shape in shapes:
        for op in ops:
            for impl in impls:
                if op not in registry.IMPLEMENTATIONS[impl].bindings:
                    continue
                dims = [int(n) for n in shape]
                spec = {"impl": impl, "op": op, "shape": dims, "dtype": dtype,
                        "threads": threads}
                got: JSONDict = {}

                def on_event(event: JSONDict, got: JSONDict = got) -> None:
                    if event["event"] == "result":
                        got.update(peak_extra=event["peak_extra"])
                _run_probe("fastsoftmax._bench.memory_probe", spec,
                           probe_environment(impl, threads), on_event)
                peak = got.get("peak_extra")
                results.append({"op": op, "shape": dims, "impl": impl,
                                "peak_extra": peak})
                say(f"memory {op} {inputs.format_shape(shape)} {impl}: "
                    + ("-" if peak is None else f"+{peak / 2**20:.1f} MiB"))
    return {"dtype": dtype, "results": results}
