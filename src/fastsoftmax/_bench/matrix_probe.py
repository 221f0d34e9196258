"""One implementation times its ops over the shape matrix, in its own process.

Run by the runner as ``python -m fastsoftmax._bench.matrix_probe SPEC``, where
``SPEC`` is a JSON object::

    {"impl": "torch", "ops": ["softmax"], "shapes": [[8, 10]],
     "dtype": "float32", "threads": 2, "seed": 0, "repeat": null,
     "budget": 0.1, "check": false, "bandwidth_mib": null,
     "bandwidth_method": "auto", "inputs": null}

(``inputs``: the manifest of :func:`inputs.write_inputs`, or null to draw the
inputs here; ``check``: compare each result with the reference, :func:`check`;
``bandwidth_mib``: measure the memory bandwidth first, with
:func:`machine.memory_bandwidth`'s ``method``).  It prints one event
line (see :mod:`events`) each: ``"start"`` (with the path of the fastsoftmax it
imported, which the runner checks), ``"bandwidth"``, one
``"cell"`` per timed (op, shape) and ``"done"``.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

import fastsoftmax

from . import JSONDict, inputs, machine, registry, timing
from .events import emit as _emit


#: How many evenly spaced leading-axis rows a check compares.
CHECK_ROWS = 257


def _sample_index(n: int, rows: int = CHECK_ROWS) -> np.ndarray | None:
    """Evenly spaced row indices (first and last included), or None for all."""
    return np.linspace(0, n - 1, rows).astype(np.intp) if n > rows else None


def _sampled_rows(result: object, rows: int = CHECK_ROWS) -> list[np.ndarray]:
    """Each output as float64, only ``rows`` evenly spaced leading-axis rows.

    Checking a sample keeps the check cheap (a full float64 copy of a 2048x32000
    output would cost more than timing it) while a broken kernel still shows.
    """
    parts = result if isinstance(result, tuple) else (result,)
    out = []
    for p in parts:
        p = np.asarray(p)
        idx = _sample_index(p.shape[0], rows) if p.ndim else None
        if idx is not None:
            p = p[idx]
        out.append(p.astype(np.float64))
    return out


def agrees(ours: object, ref: object, dtype: str) -> bool:
    """Loose comparison of fastsoftmax's result with the reference's: catches
    a broken kernel, not ulp-level differences."""
    dt = inputs.numpy_dtype(dtype)
    # 16-bit results: rounded to 8 (bfloat16) or 11 (float16) significant bits
    rtol = 1e-2 if dt.itemsize == 2 else 1e-3 if dt == np.float32 else 1e-9
    a, b = _sampled_rows(ours), _sampled_rows(ref)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.shape != y.shape:
            return False
        finite = np.abs(y[np.isfinite(y)])
        scale = float(finite.max()) if finite.size else 0.0
        if not np.allclose(x, y, rtol=rtol, atol=rtol * scale, equal_nan=True):
            return False
    return True


def check(op_name: str, args: tuple[np.ndarray, ...], result: object, dtype: str) -> bool:
    """Whether ``result`` of ``op_name(*args)`` agrees with the reference.

    A row-wise op's reference runs on the sampled rows only (the rows
    :func:`agrees` compares); any other op's on the whole input.
    """
    reference = registry.reference(op_name)
    if inputs.numpy_dtype(dtype).itemsize == 2:
        # the float64 reference of the 16-bit values (fastsoftmax.slow reads no bfloat16)
        args = tuple(a.astype(np.float64) if a.dtype.itemsize == 2 else a for a in args)
        result = tuple(np.asarray(r).astype(np.float64) for r in result) \
            if isinstance(result, tuple) else np.asarray(result).astype(np.float64)
    idx = _sample_index(args[0].shape[0]) if registry.OPS[op_name].rowwise else None
    if idx is None:
        return agrees(result, reference(*args), dtype)
    parts = result if isinstance(result, tuple) else (result,)
    ours = tuple(np.asarray(p)[idx] for p in parts)
    return agrees(ours if isinstance(result, tuple) else ours[0],
                  reference(*(np.asarray(a)[idx] for a in args)), dtype)


def run(spec: JSONDict) -> None:
    """Time ``spec["impl"]`` on every op and shape of ``spec``; print events."""
    start = time.perf_counter()
    impl, dtype, seed = spec["impl"], spec["dtype"], spec.get("seed", 0)
    shapes = [tuple(s) for s in spec["shapes"]]
    ops = list(spec["ops"])
    itemsize = inputs.numpy_dtype(dtype).itemsize
    _emit("start", impl=impl, fastsoftmax=fastsoftmax.__file__)
    with registry.thread_count(impl, spec["threads"]):
        timing.prefault(max(int(np.prod(s)) for s in shapes) * itemsize)
        if spec.get("bandwidth_mib"):
            # just before the kernels: the bandwidth drifts with the neighbours
            _emit("bandwidth", **machine.memory_bandwidth(
                spec["threads"], spec["bandwidth_mib"],
                method=spec.get("bandwidth_method", "auto")))
        for shape in shapes:
            cache: dict[str, np.ndarray] = {}  # this shape's loaded input files
            for op_name in ops:
                if op_name not in registry.IMPLEMENTATIONS[impl].bindings:
                    continue
                args = inputs.load_inputs(spec.get("inputs"), registry.OPS[op_name].make_inputs,
                                          shape, dtype, seed, cache)
                fn = registry.bind(op_name, impl, args)
                assert fn is not None  # the op is bound, and the runner starts installed ones
                t, out = timing.time_callable(fn, spec.get("repeat"),
                                              budget=spec.get("budget", timing.CELL_BUDGET_S))
                del fn
                ok = None
                if spec.get("check"):
                    ok = check(op_name, args, out, dtype)
                del out, args
                _emit("cell", op=op_name, shape=list(shape), samples_s=t.samples,
                      calls_per_sample=t.number, agrees=ok)
            del cache
            inputs.make_logits.cache_clear()
    _emit("done", elapsed_s=time.perf_counter() - start)


if __name__ == "__main__":
    run(json.loads(sys.argv[1]))
