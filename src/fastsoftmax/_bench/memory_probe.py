"""Peak extra memory of one implementation's call of one op, alone in a
fresh process (so that the peak resident size is its own).

Run by the runner as ``python -m fastsoftmax._bench.memory_probe SPEC`` with
``SPEC`` a JSON object ``{"impl": "fastsoftmax", "op": "cross_entropy",
"shape": [2048, 32000], "dtype": "bfloat16", "threads": 2}``.  Prints a
``"start"`` event like the matrix probe's, then a ``"result"`` event with
``peak_extra``: bytes of resident memory the call added at its peak, above
the resident size once the inputs exist and one call of the same size has
run (thread pools, lazy imports and any output cache warmed up).  It is read
from the kernel's peak-RSS counter (``VmHWM`` of /proc/self/status, reset
first through /proc/self/clear_refs), so C allocations count as well as
NumPy's and torch's.  The result arrays the call returns count unless the
library reuses memory the warm-up call freed (fastsoftmax's output pool
does: its results then add nothing).
None where the counters are missing (not Linux) or cannot be reset.
"""
from __future__ import annotations

import gc
import json
import sys
from typing import TypedDict

import fastsoftmax

from . import JSONDict, inputs, registry
from .events import emit


class Result(TypedDict):
    """The ``"result"`` event's fields."""

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


def _reset_peak() -> bool:
    """Set the peak resident size to the current one (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run(spec: JSONDict) -> Result:
    """Measure ``spec``'s call; the result printed by ``__main__``."""
    impl, op_name, dtype = spec["impl"], spec["op"], spec["dtype"]
    args = registry.OPS[op_name].make_inputs(tuple(spec["shape"]), dtype)
    with registry.thread_count(impl, spec["threads"]):
        fn = registry.bind(op_name, impl, args)
        if fn is None:
            raise SystemExit(f"{impl} has no {op_name}")
        out = fn()  # warm-up, the same size
        del out
        inputs.make_logits.cache_clear()  # the inputs stay alive in args
        gc.collect()
        if not _reset_peak():
            return {"peak_extra": None}
        base = _status_bytes("VmRSS")
        out = fn()
        peak = _status_bytes("VmHWM")
        del out
    return {"peak_extra": None if base is None or peak is None else max(0, peak - base)}


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    emit("start", impl=spec["impl"], fastsoftmax=fastsoftmax.__file__)
    emit("result", **run(spec))
