"""Thread-count policy for the compiled kernels.

The default follows the rest of the OpenMP stack: ``omp_get_max_threads()``
at call time, so ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(
user_api="openmp")`` apply, capped by the CPUs this process may run on
(affinity mask and cgroup CPU quota).  ``set_num_threads`` overrides it.
Small arrays always run on one thread: starting a parallel region costs
microseconds, more than the work itself.
"""
from __future__ import annotations

import math
import os
import threading

from . import _kernels

__all__ = ["get_num_threads", "set_num_threads", "openmp_enabled"]

# Below this many elements a call runs single-threaded (measured: a parallel
# region costs ~5-20 us here, about the time of 64K exponentials).
PARALLEL_MIN_ELEMENTS = 1 << 16

_lock = threading.Lock()
_user_threads: int | None = None
_forked_child = False


def openmp_enabled() -> bool:
    """Whether the kernels were compiled with OpenMP (multithreaded).

    Examples
    --------
    >>> import fastsoftmax
    >>> isinstance(fastsoftmax.openmp_enabled(), bool)
    True
    """
    return _kernels.openmp_enabled()


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


def _available_cpus() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, _CGROUP_LIMIT) if _CGROUP_LIMIT else n)


def _check_count(n, name="num_threads") -> int:
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"{name} must be a positive integer or None, got {n!r}")
    n = int(n.__index__())
    if n < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {n}")
    return n


def set_num_threads(n: int | None) -> None:
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
        _user_threads = None if n is None else _check_count(n, "n")


def get_num_threads() -> int:
    """The number of threads a large call will use.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.get_num_threads() >= 1
    True
    """
    if _forked_child or not _kernels.openmp_enabled():
        return 1
    if _user_threads is not None:
        return _user_threads
    return max(1, min(_kernels.omp_max_threads(), _available_cpus()))


def resolve(num_threads, work: int) -> int:
    """Thread count for one call doing ``work`` element operations."""
    if num_threads is None:
        n = get_num_threads()
    else:
        n = _check_count(num_threads)
        if _forked_child or not _kernels.openmp_enabled():
            n = 1
    if work < PARALLEL_MIN_ELEMENTS:
        return 1
    return n


def _after_fork_in_child() -> None:
    # GNU libgomp is not fork-safe: a child of a process that has used an
    # OpenMP thread pool can hang in its first parallel region.  Children run
    # the kernels serially instead.
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
