"""Timing one call: warm-up, adaptive number of samples, statistics.

A *sample* is the mean time of ``number`` back-to-back calls (``number`` > 1
only for calls of less than :data:`MIN_SAMPLE_S`); a cell of the table is
timed with several samples in each round, and each round's median is kept.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

# Adaptive timing, per cell and round: time samples until this many seconds
# (warm-up included) are spent ...
CELL_BUDGET_S = 0.1
# ... but at least / at most this many samples; two samples suffice when
# they agree within AGREE (the slow calls: a third would add 20% to the run).
MIN_RUNS = 3
MAX_RUNS = 50
AGREE = 1.05
# A sample loops over enough calls to last this long, so that timer overhead
# (~0.1 us) stays negligible for the microsecond-sized calls.
MIN_SAMPLE_S = 100e-6


@dataclass
class Timing:
    """Per-call times of one implementation on one input, in one process.

    Attributes
    ----------
    samples : list of float
        Seconds per call, one entry per sample.
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
                  budget: float = CELL_BUDGET_S, min_runs: int = MIN_RUNS,
                  max_runs: int = MAX_RUNS) -> tuple[Timing, Any]:
    """Warm up ``fn``, then time it.

    Parameters
    ----------
    fn : callable
        Zero-argument callable.
    repeat : int, optional
        Exact number of samples.  Default: adaptive, samples until ``budget``
        seconds (warm-up included) are spent, at least ``min_runs`` (or two
        that agree within :data:`AGREE`) and at most ``max_runs``; so a slow
        call gets just two or three samples.
    budget, min_runs, max_runs
        The adaptive policy.

    Returns
    -------
    timing : Timing
    result
        What the first call returned (for a correctness check).
    """
    start = time.perf_counter()
    result = fn()
    estimate = time.perf_counter() - start
    if 5e-3 < estimate < 50e-3:
        # Large outputs: the first few allocations of a new size are slow on
        # virtual machines (transparent huge pages being assembled: 90-300 ms
        # for 262 MB, then 18 ms).  One more call, and the median of at
        # least three samples, keep them out of the result.  A call of over
        # 50 ms (the NumPy reference) has made several allocations already,
        # and warming it up again would cost a fifth of the run.
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
            elif len(samples) >= max_runs or t1 - start >= budget and (
                    len(samples) >= min_runs
                    or len(samples) == 2 and max(samples) <= AGREE * min(samples)):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(samples, number), result


def prefault(nbytes: int) -> None:
    """Touch and free twice ``nbytes`` (the largest input) once, before any
    timing.

    The first touch of memory a process has never used is far slower than
    later allocations (measured: the first three 262 MB outputs took
    90-300 ms, then 18 ms each, on a virtual machine whose host backs guest
    memory lazily).  Without this the first op measured pays it alone.
    Twice the input was measured to be as good as six times, and costs a
    probe process 0.1-1.5 s instead of 0.3-5 s.
    """
    budget = min(2 * nbytes, 1 << 30)
    chunk = 64 << 20
    bufs = [np.ones(chunk // 8) for _ in range(max(1, budget // chunk))]
    del bufs
