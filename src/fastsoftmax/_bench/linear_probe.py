"""Time and peak memory of one linear cross-entropy implementation, alone in
a fresh process (so that the peak resident size is its own).

Run by the runner as ``python -m fastsoftmax._bench.linear_probe SPEC`` with
``SPEC`` a JSON object ``{"impl": "torch", "op": "linear_cross_entropy",
"size": [4096, 1024, 32000], "dtype": "float32", "threads": 2}``.  Prints
a ``"start"`` event like the matrix probe's, then a ``"result"`` event (see
:mod:`events`) with ``seconds`` (the faster of two calls) and ``peak_extra``
(bytes of peak resident memory above the resident size once the inputs exist
and a small call has initialised the library).
"""
from __future__ import annotations

import json
import sys
import time
from typing import TypedDict

import fastsoftmax

from . import JSONDict, registry
from .events import emit


class Result(TypedDict):
    """The ``"result"`` event's fields."""

    seconds: float
    peak_extra: int | None


def _status_bytes(key: str) -> int | None:
    """A ``kB`` line of /proc/self/status in bytes; None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run(spec: JSONDict) -> Result:
    """Measure ``spec``'s implementation; the result printed by ``__main__``."""
    impl, op_name, dtype = spec["impl"], spec["op"], spec["dtype"]
    make_inputs = registry.OPS[op_name].make_inputs
    with registry.thread_count(impl, spec["threads"]):
        fn = registry.bind(op_name, impl, make_inputs(tuple(spec["size"]), dtype))
        if fn is None:
            raise SystemExit(f"{impl} has no {op_name}")
        # a small call initialises thread pools and lazy imports
        small = registry.bind(op_name, impl, make_inputs((64, 16, 128), dtype))
        assert small is not None  # bound just above
        small()
        base = _status_bytes("VmRSS")
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
            del out
        peak = _status_bytes("VmHWM")
    extra = None if base is None or peak is None else peak - base
    return {"seconds": min(times), "peak_extra": extra}


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    emit("start", impl=spec["impl"], fastsoftmax=fastsoftmax.__file__)
    emit("result", **run(spec))
