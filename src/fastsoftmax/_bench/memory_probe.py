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
from typing import TypedDict

from . import JSONDict, inputs, probe


class Result(TypedDict):
    """The ``"result"`` event's fields."""

    peak_extra: int | None


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
    with probe.bound_call(spec, "shape") as fn:
        out = fn()  # warm-up, the same size
        del out
        inputs.make_logits.cache_clear()  # the inputs stay alive in args
        gc.collect()
        if not _reset_peak():
            return {"peak_extra": None}
        base = probe.status_bytes("VmRSS")
        out = fn()
        peak = probe.status_bytes("VmHWM")
        del out
    return {"peak_extra": None if base is None or peak is None else max(0, peak - base)}


if __name__ == "__main__":
    probe.main(run)
