"""Facts about the machine a benchmark ran on: CPU, versions, how busy it
was, and its memory bandwidth (the limit of the large ops)."""
from __future__ import annotations

import datetime
import math
import os
import platform
import threading
import time
from collections.abc import Sequence
from typing import Any, Callable, TypedDict

import numpy as np

import fastsoftmax

from .. import _core
from . import JSONDict, registry

#: The machine counts as busy (its timings unreliable) when the 1-minute load
#: average exceeds this many runnable tasks per usable CPU ...
BUSY_LOAD_PER_CPU = 0.75
# ... or when less than this fraction of CPU time was idle in a short check
BUSY_IDLE_FRACTION = 0.85
IDLE_CHECK_S = 0.5


class CpuActivity(TypedDict):
    """What :func:`cpu_activity` measured (the machine facts' ``cpu_activity``)."""

    seconds: float
    idle: float
    steal: float


class Bandwidth(TypedDict):
    """What :func:`memory_bandwidth` measured (a probe's ``"bandwidth"`` event)."""

    method: str
    threads: int
    mib: int
    copy_gbps: float
    read_gbps: float


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


def usable_cpus() -> int:
    """CPUs this process may run on (affinity mask), else the CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times() -> list[int] | None:
    """The aggregate ``cpu`` line of /proc/stat: user nice system idle iowait
    irq softirq steal (in clock ticks); None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    return [int(v) for v in fields[1:9]] + [0] * max(0, 9 - len(fields))


def cpu_activity(seconds: float = IDLE_CHECK_S) -> CpuActivity | None:
    """Fractions of all CPUs' time that were idle and stolen (by the
    hypervisor) over the next ``seconds``; None where not measurable.

    Examples
    --------
    >>> a = cpu_activity(0.05)
    >>> a is None or 0 <= a["idle"] <= 1
    True
    """
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_times()
    if after is None:  # gone since the first read: not measurable
        return None
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta)
    if total <= 0:
        return None
    return {"seconds": seconds, "idle": (delta[3] + delta[4]) / total,
            "steal": delta[7] / total}


def machine_info(threads: int, impls: Sequence[str], *, idle_check: bool = True) -> JSONDict:
    """CPU, core count, ISA, threads, library versions and how busy the
    machine is, as a JSON-ready dict.

    Versions come from the package metadata, for the implementations in
    ``impls`` only, so nothing optional is imported.  ``idle_check`` takes
    :data:`IDLE_CHECK_S` seconds.
    """
    versions: dict[str, str | None] = {"fastsoftmax": fastsoftmax.__version__,
                                       "numpy": np.__version__}
    for impl in impls:
        entry = registry.IMPLEMENTATIONS[impl]
        package = entry.distribution or entry.module.partition(".")[0]
        if package not in versions and registry.available(impl):
            versions[package] = registry.version(impl)  # once per package: not a variant's
    model, cores = _cpuinfo()
    info: JSONDict = {
        "cpu": model, "cores": cores, "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "isa_selected": _core.isa_selected(), "isa_compiled": _core.isa_compiled(),
        "openmp": fastsoftmax.openmp_enabled(), "threads": threads,
        "python": platform.python_version(), "versions": versions,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "cpu_activity": cpu_activity() if idle_check else None,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    info["busy"] = busy_reasons(info)
    return info


def busy_reasons(info: JSONDict) -> list[str]:
    """Why the machine of ``info`` looks busy (empty list: it looks quiet).

    Other work on the machine slows every implementation by different
    amounts, so a busy machine's table is unreliable.

    Examples
    --------
    >>> busy_reasons({"usable_cpus": 2, "load_average": 3.0, "cpu_activity": None})
    ['load average 3.0 on 2 usable CPUs']
    """
    reasons = []
    load, cpus = info.get("load_average"), info.get("usable_cpus") or 1
    if load is not None and load > BUSY_LOAD_PER_CPU * cpus:
        reasons.append(f"load average {load:.1f} on {cpus} usable CPUs")
    activity = info.get("cpu_activity")
    if activity is not None and activity["idle"] < BUSY_IDLE_FRACTION:
        reasons.append(f"only {activity['idle']:.0%} of CPU time idle "
                       f"in a {activity['seconds']:g} s check")
    return reasons


# --------------------------------------------------------------------------
# memory bandwidth


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _torch_bandwidth(torch: Any, threads: int, nbytes: int, repeats: int) -> tuple[float, float]:
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        src = torch.ones(nbytes // 4, dtype=torch.float32)
        dst = torch.empty_like(src)
        dst.copy_(src)  # fault the pages in before timing
        copy = _best_seconds(lambda: dst.copy_(src), repeats)
        read = _best_seconds(src.sum, repeats)
    finally:
        torch.set_num_threads(old)
    return copy, read


def _numpy_threads_bandwidth(threads: int, nbytes: int, repeats: int) -> tuple[float, float]:
    """NumPy releases the GIL inside ``copyto`` and reductions, so one Python
    thread per part of the array runs in parallel.  The read kernel is a max
    reduction: NumPy's float32 sum is compute-bound on one core (pairwise
    summation), its max is vectorised."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in before timing
    bounds = np.linspace(0, src.size, threads + 1).astype(int)
    parts = [(src[lo:hi], dst[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    jobs = {"copy": lambda s, d: np.copyto(d, s), "read": lambda s, d: np.maximum.reduce(s)}
    best = {}
    for kind, job in jobs.items():
        # Each thread clocks its own part; a repeat lasts from the first start
        # to the last end.  (The main thread's clock would be late: after the
        # barrier it may wait for the GIL while the workers already run.)
        spans = [[0.0, 0.0] for _ in range(threads * repeats)]
        barrier = threading.Barrier(threads)

        def worker(k: int, s: np.ndarray, d: np.ndarray,
                   job: Callable[[np.ndarray, np.ndarray], object] = job,
                   barrier: threading.Barrier = barrier,
                   spans: list[list[float]] = spans) -> None:
            for r in range(repeats):
                barrier.wait()
                t0 = time.perf_counter()
                job(s, d)
                spans[r * threads + k] = [t0, time.perf_counter()]
        pool = [threading.Thread(target=worker, args=(k, *p), daemon=True)
                for k, p in enumerate(parts)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        best[kind] = min(max(e for _, e in spans[r * threads:(r + 1) * threads])
                         - min(b for b, _ in spans[r * threads:(r + 1) * threads])
                         for r in range(repeats))
    return best["copy"], best["read"]


def memory_bandwidth(threads: int, mib: int = 256, repeats: int = 5,
                     method: str = "auto") -> Bandwidth:
    """Copy and read bandwidth of ``threads`` threads over ``mib`` MiB of float32.

    The best of ``repeats`` times each: the limit the large ops can reach.
    Copy counts the bytes read plus written (STREAM's convention), the same
    way the ops' GB/s do.

    Parameters
    ----------
    threads : int
        Threads (the benchmark's thread count).
    mib : int, optional
        Array size; far beyond the caches.
    repeats : int, optional
        Timed runs of each kernel.
    method : {"auto", "torch", "numpy"}, optional
        "torch": ``Tensor.copy_`` and ``Tensor.sum`` with ``threads`` intra-op
        threads; "numpy": ``threads`` Python threads over parts of the array,
        ``np.copyto`` and ``np.maximum.reduce``; "auto": torch if installed.

    Returns
    -------
    dict
        ``method``, ``threads``, ``mib``, ``copy_gbps``, ``read_gbps``.
    """
    nbytes = mib << 20
    if method == "auto":
        method = "torch" if registry.available("torch") else "numpy"
    if method == "torch":
        import torch
        copy, read = _torch_bandwidth(torch, threads, nbytes, repeats)
        label = "torch copy_ / sum"
    elif method == "numpy":
        copy, read = _numpy_threads_bandwidth(threads, nbytes, repeats)
        label = "numpy copyto / max in Python threads"
    else:
        raise ValueError(f"unknown bandwidth method {method!r}")
    return {"method": label, "threads": threads, "mib": mib,
            "copy_gbps": 2 * nbytes / copy / 1e9, "read_gbps": nbytes / read / 1e9}
