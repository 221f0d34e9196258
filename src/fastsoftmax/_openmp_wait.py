"""How long idle OpenMP threads spin before they sleep (GNU libgomp).

After a parallel region libgomp's threads spin, waiting for the next one,
``GOMP_SPINCOUNT`` iterations before they sleep: 300000 by default when
neither it nor ``OMP_WAIT_POLICY`` is set, "about 3 ms" by libgomp's own
estimate, measured at 7 ms of CPU per idle thread after every call on a
current x86-64 CPU (24 ns an iteration).  That time is taken from any other
process that wants the core, and under contention the spinning threads and
the scheduler interact badly: calls on two threads measured 10-20 ms where
one thread needs 0.03-0.3 ms.  Sleeping at once (``OMP_WAIT_POLICY=PASSIVE``)
costs a wake-up at every call instead, measured 20-70 us: two threads
would be slower than one up to ~0.3 ms of work.

:data:`SPINCOUNT` is the compromise: about 2.5 ms of spinning, a third of
libgomp's default.  Calls less than that apart find the threads spinning as
before; a call after a longer pause pays one wake-up, at most ~3% of the
time between calls; idle threads burn a third of the CPU they used to.
(The default thread count also avoids CPUs other processes keep busy; see
``_cpuload``.)

libgomp reads its environment once, when it is loaded.  So while the
extension modules are imported, and only if the user has set neither
``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT``, ``GOMP_SPINCOUNT=SPINCOUNT`` is put
in the environment, and removed again right after: processes started later
and OpenMP runtimes loaded later never see it.  It takes effect only if
libgomp is loaded by that import; a libgomp already in the process (torch
imported first ships one, which the kernels then share) keeps its settings.
Conversely a library imported later that links the same ``libgomp.so.1``
(torch does) shares the runtime and its shorter spin.  :func:`describe` says
which case applies; ``fastsoftmax.show_config()`` reports it.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["SPINCOUNT", "loading", "describe"]

#: Spin iterations of an idle libgomp thread before it sleeps (libgomp's
#: default: 300000).
SPINCOUNT = "100000"

# Variables through which the user chooses how OpenMP threads wait; any of
# them set means "leave the runtime alone".  (GCC 13+ also reads device
# suffixed forms such as OMP_WAIT_POLICY_ALL.)
_USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

# What happened when the extensions were loaded (see describe()).
_state: dict[str, Any] = {"applied": False, "user": None, "preloaded": None}


def mapped_libgomp(maps_path: str = "/proc/self/maps") -> frozenset[str] | None:
    """Paths of the GNU OpenMP runtimes mapped into this process.

    Any copy counts (``libgomp.so.1``, a wheel's renamed
    ``libgomp-<hash>.so.1``).  None when it cannot be known (no ``/proc``).
    """
    paths = set()
    try:
        with open(maps_path) as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6:
                    path = fields[5].strip()
                    if os.path.basename(path).startswith("libgomp"):
                        paths.add(path)
    except OSError:
        return None
    return frozenset(paths)


def user_setting(environ: Mapping[str, str]) -> dict[str, str]:
    """The wait-policy variables the user has set (name -> value)."""
    return {k: v for k, v in environ.items()
            if any(k == name or k.startswith(name + "_") for name in _USER_VARIABLES)}


@contextlib.contextmanager
def loading(environ: MutableMapping[str, str] | None = None,
            maps_path: str = "/proc/self/maps") -> Iterator[None]:
    """Import the OpenMP extension modules inside this block.

    Sets ``GOMP_SPINCOUNT`` in ``environ`` (default ``os.environ``) for the
    duration of the block when the user has set no wait-policy variable and
    ``/proc/self/maps`` can tell whether the block loaded a libgomp; always
    restores the environment on exit.
    """
    # (setenv is not thread-safe in C: done once, while the package imports)
    environ = os.environ if environ is None else environ
    user = user_setting(environ)
    before = None if user else mapped_libgomp(maps_path)
    set_here = before is not None
    if set_here:
        environ["GOMP_SPINCOUNT"] = SPINCOUNT
    try:
        yield
    finally:
        if set_here and environ.get("GOMP_SPINCOUNT") == SPINCOUNT:
            del environ["GOMP_SPINCOUNT"]
        after = mapped_libgomp(maps_path) if set_here else None
        _state["user"] = user or None
        _state["preloaded"] = sorted(before) if before else None
        # a libgomp mapped by the block read its environment in the block
        _state["applied"] = bool(set_here and after is not None and before is not None
                                 and after - before)


def describe() -> str:
    """How the OpenMP runtime's idle threads wait, as far as this module knows."""
    if _state["user"]:
        return "set by the user: " + " ".join(f"{k}={v}" for k, v in _state["user"].items())
    if _state["applied"]:
        return f"GOMP_SPINCOUNT={SPINCOUNT} (set by fastsoftmax when libgomp was loaded)"
    if _state["preloaded"]:
        return "runtime default (libgomp was loaded before fastsoftmax)"
    return "runtime default"
