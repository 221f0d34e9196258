"""What the fresh-process probes that read the peak resident size share
(:mod:`linear_probe`, :mod:`memory_probe`): the /proc/self/status counters,
the call of a spec bound to its inputs, and the command line.

A spec is the JSON object the runner passes (see each probe): ``impl``,
``op``, ``dtype``, ``threads`` and the inputs' shape.
"""
from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import fastsoftmax

from . import JSONDict, registry
from .events import emit


def status_bytes(key: str) -> int | None:
    """A ``kB`` line of /proc/self/status in bytes; None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def bound_call(spec: JSONDict, shape: str) -> Iterator[Callable[[], Any]]:
    """``spec``'s call on the inputs of shape ``spec[shape]``, run inside the
    spec's thread count (exits if the implementation lacks the op)."""
    impl, op_name = spec["impl"], spec["op"]
    args = registry.OPS[op_name].make_inputs(tuple(spec[shape]), spec["dtype"])
    with registry.thread_count(impl, spec["threads"]):
        fn = registry.bind(op_name, impl, args)
        if fn is None:
            raise SystemExit(f"{impl} has no {op_name}")
        yield fn


def main(run: Callable[[JSONDict], Mapping[str, Any]]) -> None:
    """A probe's ``__main__``: the spec from the command line, a ``"start"``
    event like the matrix probe's, then ``run(spec)``'s ``"result"`` event."""
    spec = json.loads(sys.argv[1])
    emit("start", impl=spec["impl"], fastsoftmax=fastsoftmax.__file__)
    emit("result", **run(spec))
