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

import time
from typing import TypedDict

from . import JSONDict, probe, registry


class Result(TypedDict):
    """The ``"result"`` event's fields."""

    seconds: float
    peak_extra: int | None


def run(spec: JSONDict) -> Result:
    """Measure ``spec``'s implementation; the result printed by ``__main__``."""
    impl, op_name, dtype = spec["impl"], spec["op"], spec["dtype"]
    with probe.bound_call(spec, "size") as fn:
        # a small call initialises thread pools and lazy imports
        small_args = registry.OPS[op_name].make_inputs((64, 16, 128), dtype)
        small = registry.bind(op_name, impl, small_args)
        assert small is not None  # bound just above
        small()
        base = probe.status_bytes("VmRSS")
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
            del out
        peak = probe.status_bytes("VmHWM")
    extra = None if base is None or peak is None else peak - base
    return {"seconds": min(times), "peak_extra": extra}


if __name__ == "__main__":
    probe.main(run)
