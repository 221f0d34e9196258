"""The bench with 16-bit input (``--dtype float16|bfloat16``) and its peak
memory measurement (``--memory``)."""
from __future__ import annotations

import numpy as np
import pytest

from fastsoftmax._bench import inputs, matrix_probe, memory_probe, registry, report, runner


@pytest.mark.parametrize("dtype", inputs.HALF_DTYPES)
def test_half_inputs_and_bindings(dtype):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    dt = inputs.numpy_dtype(dtype)
    x, y = inputs.make_logits_and_labels((6, 40), dtype)
    assert x.dtype == dt and x.flags.c_contiguous
    inputs.make_logits.cache_clear()
    for op in registry.HALF_OPS:
        args = registry.OPS[op].make_inputs((6, 40), dtype)
        for impl in ("fastsoftmax", "numpy"):
            out = registry.bind(op, impl, args)()
            assert matrix_probe.check(op, args, out, dtype), (op, impl)
            first = out[0] if isinstance(out, tuple) else out
            if np.ndim(first):
                assert np.asarray(first).dtype == dt  # results in the input's dtype
        inputs.make_logits.cache_clear()
    assert registry.traffic("softmax", (6, 40), dtype) == (6 * 40 * 2, 6 * 40 * 2)


def test_torch_peer_gets_bfloat16_tensors():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    x, = registry.OPS["softmax"].make_inputs((5, 8), "bfloat16")
    t = registry._torch_tensor(torch, x)
    assert t.dtype == torch.bfloat16 and t.data_ptr() == x.ctypes.data  # no copy
    out = registry.bind("softmax", "torch", (x,))()
    assert out.dtype == torch.bfloat16


def test_memory_probe_and_table():
    got = memory_probe.run({"impl": "fastsoftmax", "op": "cross_entropy", "shape": [64, 300],
                            "dtype": "float32", "threads": 1})
    assert got["peak_extra"] is None or got["peak_extra"] >= 0
    mem = runner.run_memory(["softmax"], [(8, 10)], ["fastsoftmax", "numpy"],
                            dtype="float32", threads=1)
    assert [r["impl"] for r in mem["results"]] == ["fastsoftmax", "numpy"]
    table = report.format_memory_table(mem)
    assert "peak extra memory" in table and "softmax" in table
