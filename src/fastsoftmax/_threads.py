"""Thread-count policy for the compiled kernels.

The default follows the rest of the OpenMP stack: ``omp_get_max_threads()``
at call time, so ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(
user_api="openmp")`` apply, capped by the CPUs this process may run on
(affinity mask and cgroup CPU quota) and, unless ``OMP_NUM_THREADS`` is set,
by those of them that other processes leave free (:mod:`._cpuload`: a thread
on a core another process keeps busy holds the whole call up, so there one
thread fewer is faster).  ``set_num_threads`` overrides it
for the whole process, the ``num_threads`` context manager for the calling
thread (or asyncio task) only.  Inside a thread pool (``concurrent.futures``,
Dask's threaded scheduler, a ``distributed`` worker) the default is the
calling thread's share of the CPUs, so that a pool of k threads does not
start k times as many OpenMP threads as there are cores.
Small arrays always run on one thread: starting a parallel region costs
microseconds, more than the work itself.  Whatever the count, the kernels
hand out runs of row chunks (about 2 MiB of input each) to whichever
thread is free next, and idle OpenMP threads spin only briefly before they
sleep (:mod:`._openmp_wait`), so a thread whose core gets taken holds a call
up by the run it is working on, not by a whole share of the rows.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
import threading
import weakref
from concurrent.futures import Executor
from types import TracebackType
from typing import TYPE_CHECKING, Literal, SupportsIndex

from . import _cpuload
from ._driver import core

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["get_num_threads", "set_num_threads", "num_threads", "openmp_enabled"]

# Below this many elements a call runs single-threaded (measured: a parallel
# region costs ~5-20 us here, about the time of 64K exponentials).
PARALLEL_MIN_ELEMENTS = 1 << 16

_lock = threading.Lock()
_user_threads: int | None = None
_forked_child = False
# num_threads() overrides, innermost last.  A ContextVar rather than a
# threading.local: it is per thread too, and also per asyncio task, so two
# tasks interleaving their ``with num_threads(...)`` blocks on one event-loop
# thread cannot restore each other's values.
_override: contextvars.ContextVar[tuple[int | None, ...]] = contextvars.ContextVar(
    "fastsoftmax_num_threads", default=())
# Per-thread cache of the size of the thread pool the thread works for
# (0: not a pool thread); a thread never changes pools.
_pool_cache = threading.local()


def openmp_enabled() -> bool:
    """Whether the kernels were compiled with OpenMP (multithreaded).

    Examples
    --------
    >>> import fastsoftmax
    >>> isinstance(fastsoftmax.openmp_enabled(), bool)
    True
    """
    return core.openmp_enabled()


def _cgroup_cpu_limit() -> int | None:
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return None


# The cgroup quota is fixed for the life of a container: read it once.  The
# affinity mask can change at any time (os.sched_setaffinity, taskset): it is
# asked for at each call (a ~1 us system call).
_CGROUP_LIMIT = _cgroup_cpu_limit()


def _affinity() -> set[int] | None:
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None


def _cpu_count(cpu_set: set[int] | None) -> int:
    n = len(cpu_set) if cpu_set else os.cpu_count() or 1
    return max(1, min(n, _CGROUP_LIMIT) if _CGROUP_LIMIT else n)


def _available_cpus() -> int:
    return _cpu_count(_affinity())


# The load estimate behind the default (see _cpuload): None where there is
# no affinity mask to tell which CPUs are ours.  Not applied when the user
# chose a count in the environment (OMP_NUM_THREADS, read once, as libgomp
# reads it).
_LOAD = _cpuload.CpuLoad() if hasattr(os, "sched_getaffinity") else None
_OMP_NUM_THREADS_SET = bool(os.environ.get("OMP_NUM_THREADS", "").strip())


def valid_count(n: object) -> bool:
    """Cheap check for the small-input fast paths: a plain positive int."""
    return type(n) is int and n > 0


def check_count(n: SupportsIndex, name: str = "num_threads") -> int:
    """A thread count: a positive integer (TypeError / ValueError otherwise).
    Front ends call it to reject a bad ``num_threads`` at call time."""
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"{name} must be a positive integer or None, got {n!r}")
    n = int(n.__index__())
    if n < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {n}")
    return n


def set_num_threads(n: SupportsIndex | None) -> None:
    """Set the number of threads the kernels use; ``None`` restores the default.

    Parameters
    ----------
    n : int or None
        A positive thread count, or None to follow ``omp_get_max_threads()``.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.set_num_threads(1)
    >>> fastsoftmax.get_num_threads()
    1
    >>> fastsoftmax.set_num_threads(None)
    """
    global _user_threads
    with _lock:
        _user_threads = None if n is None else check_count(n, "n")


def _find_pool_size(thread: threading.Thread) -> int:
    # A concurrent.futures worker thread runs _worker(executor_ref, ...): the
    # standard library passes a weak reference to its ThreadPoolExecutor
    # (Dask's threaded scheduler uses a subclass), distributed's workers the
    # executor itself (distributed vendors its own copy of the class, not a
    # subclass: hence the duck typing).
    if thread is threading.main_thread():
        return 0
    for arg in getattr(thread, "_args", None) or ():
        if isinstance(arg, weakref.ReferenceType):
            arg = arg()
        if (isinstance(arg, Executor) and hasattr(arg, "_max_workers")
                and hasattr(arg, "_threads")):
            try:
                return max(1, int(arg._max_workers))
            except (AttributeError, TypeError, ValueError):  # pragma: no cover
                return 0
    return 0


def _pool_size() -> int:
    """Threads in the pool the calling thread belongs to; 0 if none (cached)."""
    try:
        cached: int = _pool_cache.size
        return cached
    except AttributeError:
        size = _pool_cache.size = _find_pool_size(threading.current_thread())
        return size


def get_num_threads() -> int:
    """The number of threads a large call will use.

    In order of precedence:

    1. the innermost :class:`num_threads` block active in the calling thread
       (or asyncio task);
    2. the process-wide :func:`set_num_threads` setting;
    3. the default: ``omp_get_max_threads()`` at call time (so
       ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(n,
       user_api="openmp")`` apply), capped by the CPUs this process may use
       (affinity mask, cgroup quota), and, when called from a worker thread of
       a ``concurrent.futures.ThreadPoolExecutor`` (which includes Dask's
       threaded scheduler and ``distributed`` workers), capped again by that
       thread's share of the CPUs: ``max(1, cpus // pool size)``.  A pool of
       k threads then runs k calls at once on ``cpus // k`` threads each
       instead of oversubscribing the machine k times.  Finally, unless
       ``OMP_NUM_THREADS`` is set in the environment, the CPUs (of the
       affinity mask) that other processes are keeping busy are left out:
       from ``/proc/stat``, the busy time of those CPUs minus this process's
       own CPU time, over the time since the last look (looked at again at
       most every 0.1 s, by the call that finds the last look older); a CPU
       counts as busy when other processes used half of it or more.  At
       least one thread always remains, and without ``/proc/stat`` (not
       Linux) nothing is left out.  Several processes sharing a machine then
       settle on about one thread per free CPU between them.  (A
       ``threadpoolctl`` limit is an upper bound like the others.)

    Only this default is lowered by the load of other processes: explicit
    counts (1. and 2. above, or a call's ``num_threads=``) are used as given.

    A process forked from one that used OpenMP, and a build without OpenMP,
    always use one thread.

    Note that with GNU OpenMP, ``omp_set_num_threads`` (which is what
    threadpoolctl calls) changes the setting *of the calling thread only*:
    ``threadpool_limits`` in the main thread does not limit calls made from
    other threads.  ``set_num_threads`` does.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.get_num_threads() >= 1
    True
    """
    if _forked_child or not core.openmp_enabled():
        return 1
    stack = _override.get()
    if stack and stack[-1] is not None:
        return stack[-1]
    if _user_threads is not None:
        return _user_threads
    cpu_set = _affinity()
    cpus = _cpu_count(cpu_set)
    n = min(core.omp_max_threads(), cpus)
    pool = _pool_size()
    if pool > 1:
        n = min(n, cpus // pool)
    if n > 1 and cpu_set and _LOAD is not None and not _OMP_NUM_THREADS_SET:
        free = _LOAD.free_cpus(cpu_set)
        if free is not None:
            n = min(n, free)
    return max(1, n)


class num_threads(contextlib.ContextDecorator):
    """Context manager (or decorator) setting the kernels' thread count for
    the calling thread only, restoring the previous setting on exit.

    The setting is *thread-local* (more exactly, local to the
    ``contextvars`` context: each thread and each asyncio task has its own),
    so concurrent requests in a server can each choose their own count
    without affecting the others.  It takes precedence over the process-wide
    :func:`set_num_threads`; ``num_threads(None)`` removes any enclosing
    override inside its block.  Blocks nest, and one instance may be
    entered by several threads at once.  Threads started inside the block
    (thread pools included) do not inherit it: they follow the process-wide
    setting or the default (unless Python copies the context into new
    threads, as free-threaded CPython 3.14 does by default).

    Parameters
    ----------
    n : int or None
        A positive thread count, or None for the default.

    Examples
    --------
    >>> import fastsoftmax
    >>> with fastsoftmax.num_threads(1):
    ...     fastsoftmax.get_num_threads()
    1
    """

    __slots__ = ("n",)

    def __init__(self, n: SupportsIndex | None) -> None:
        self.n = None if n is None else check_count(n, "n")

    def __enter__(self) -> Self:
        _override.set(_override.get() + (self.n,))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> Literal[False]:
        _override.set(_override.get()[:-1])
        return False

    def __repr__(self) -> str:
        return f"fastsoftmax.num_threads({self.n!r})"


def _thread_cap() -> int:
    # More threads than this never helps and a huge request (10**6) would make
    # libgomp try to start them all; results do not depend on the count, so
    # capping is safe.  Mild oversubscription (e.g. 8 on 2 cores) stays allowed.
    return max(8, 4 * _available_cpus())


def resolve(num_threads: SupportsIndex | None, work: int) -> int:
    """Thread count for one call doing ``work`` element operations."""
    if num_threads is None:
        if work < PARALLEL_MIN_ELEMENTS:
            return 1
        n = get_num_threads()
    else:
        n = check_count(num_threads)
        if _forked_child or not core.openmp_enabled():
            n = 1
    if work < PARALLEL_MIN_ELEMENTS:
        return 1
    return min(n, _thread_cap())


def _after_fork_in_child() -> None:
    # GNU libgomp is not fork-safe: a child of a process that has used an
    # OpenMP thread pool can hang in its first parallel region.  Children run
    # the kernels serially instead.
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
