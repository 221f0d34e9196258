"""How many of this process's CPUs other processes keep busy (Linux).

The default thread count leaves out the CPUs that other processes are using:
a thread on a core that another process keeps busy gets a fraction of it and
delays the whole call, so on such a machine one thread per *free* CPU is
faster than one per CPU.  The estimate is the busy time of each CPU in
``/proc/stat`` (user, nice, system, irq, softirq and steal time) over the last
window, minus this process's own CPU time (its OpenMP and Python threads),
looked at again at most every :data:`REFRESH_S` seconds (longer where reading
it is slow, so that it never takes more than 1% of the time), by the call
that finds the last look older than that, so the window is the time since
then.  Reading ``/proc/stat`` costs ~10-40 us on 2 CPUs; between looks the
answer is a cached number.  Without a readable ``/proc/stat`` there is no estimate (None).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Set as AbstractSet
import time

__all__ = ["REFRESH_S", "parse_proc_stat", "CpuLoad"]

#: Seconds between two looks at /proc/stat (and the shortest window).
REFRESH_S = 0.1
# ... or more, so that reading it takes at most 1/LOOK_COST_BOUND of the time
# (it grows with the number of CPUs and interrupts: ~10-40 us on 2 CPUs).
LOOK_COST_BOUND = 100

# A CPU counts as taken when other processes use at least this fraction of it
# (the estimate is the sum over CPUs, rounded: noise of one clock tick per CPU
# and window, 10 ms in 100 ms, stays well below it).
TAKEN_FRACTION = 0.5


def parse_proc_stat(text: bytes) -> dict[int, tuple[int, int]]:
    """``{cpu: (busy ticks, total ticks)}`` from the ``cpuN`` lines of /proc/stat.

    Busy is user + nice + system + irq + softirq + steal; total adds idle and
    iowait.  (guest and guest_nice are already counted in user and nice.)
    Malformed lines are skipped.
    """
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        if not line.startswith(b"cpu"):
            if out:
                break             # the cpu lines come first
            continue
        fields = line.split()
        name = fields[0][3:]
        if not name.isdigit():
            continue              # the "cpu" line: all CPUs together
        try:
            v = [int(f) for f in fields[1:9]]
        except ValueError:
            continue
        if len(v) < 4:
            continue
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        total = sum(v)
        out[int(name)] = (total - idle, total)
    return out


# (wall clock, own CPU time, per-CPU ticks) at one look
_Sample = tuple[float, float, dict[int, tuple[int, int]]]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class CpuLoad:
    """Rate-limited estimate of the CPUs free of other processes' work.

    Parameters
    ----------
    path : str
        The ``/proc/stat`` to read.
    clock, own_cpu_time : callable
        Wall clock and this process's CPU time, in seconds (replaceable for
        tests).
    refresh : float
        Seconds between two looks (more if a look is slow, see LOOK_COST_BOUND).
    cost_clock : callable
        The clock that times a look (replaceable for tests).
    """

    def __init__(self, path: str = "/proc/stat",
                 clock: Callable[[], float] = time.monotonic,
                 own_cpu_time: Callable[[], float] = time.process_time,
                 refresh: float = REFRESH_S,
                 cost_clock: Callable[[], float] = time.perf_counter) -> None:
        self._path = path
        self._clock = clock
        self._own = own_cpu_time
        self._cost_clock = cost_clock
        self._refresh = self._interval = refresh
        self._lock = threading.Lock()
        self._fractions: dict[int, float] | None = None   # cpu -> busy fraction
        self._own_rate = 0.0                              # CPUs' worth of ours
        self._cached: tuple[frozenset[int], int] | None = None
        self._prev = self._sample()
        self._last = self._prev[0] if self._prev else clock()

    def _sample(self) -> _Sample | None:
        t0 = self._cost_clock()
        text = _read(self._path)
        if text is None:
            return None
        sample = self._clock(), self._own(), parse_proc_stat(text)
        self._interval = max(self._refresh, LOOK_COST_BOUND * (self._cost_clock() - t0))
        return sample

    def _update(self, now: float) -> None:
        cur = self._sample()
        prev, self._prev, self._last = self._prev, cur, now
        self._cached = None
        if cur is None or prev is None:
            self._fractions = None
            return
        wall = cur[0] - prev[0]
        fractions: dict[int, float] = {}
        for cpu, (busy, total) in cur[2].items():
            old = prev[2].get(cpu)
            if old is not None and total > old[1]:
                fractions[cpu] = min(1.0, max(0.0, (busy - old[0]) / (total - old[1])))
        self._fractions = fractions
        self._own_rate = max(0.0, (cur[1] - prev[1]) / wall) if wall > 0 else 0.0

    def _look(self, now: float) -> None:
        """Read /proc/stat again (unless another thread is doing it)."""
        if self._lock.acquire(blocking=False):
            try:
                if now - self._last >= self._interval:
                    self._update(now)
            finally:
                self._lock.release()

    def others(self, cpus: AbstractSet[int]) -> float | None:
        """CPUs' worth of other processes' work on ``cpus`` (a set of CPU
        numbers) in the last window; None without an estimate."""
        now = self._clock()
        if now - self._last >= self._interval:
            self._look(now)
        return self._others(cpus)

    def _others(self, cpus: AbstractSet[int]) -> float | None:
        fractions = self._fractions
        if fractions is None:
            return None
        busy = sum(fractions.get(c, 0.0) for c in cpus)
        return max(0.0, busy - self._own_rate)

    def free_cpus(self, cpus: AbstractSet[int]) -> int | None:
        """How many of ``cpus`` (a set of CPU numbers) other processes leave
        free, at least 1; None without an estimate.  Looks at /proc/stat again
        if the last look is older than the refresh interval."""
        now = self._clock()
        if now - self._last >= self._interval:
            self._look(now)
        cached = self._cached
        if cached is not None and cached[0] == cpus:
            return cached[1]
        others = self._others(cpus)
        if others is None:
            return None
        # round: a CPU is taken when others use TAKEN_FRACTION of it or more
        free = max(1, len(cpus) - int(others + (1.0 - TAKEN_FRACTION)))
        self._cached = (frozenset(cpus), free)
        return free
