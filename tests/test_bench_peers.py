"""The benchmark's optional peers onnxruntime and JAX, and the fastsoftmax_out
variant: their bindings compute the ops (float32 and float64), their thread
control works in the probe processes, and the harness treats a missing peer
as absent.  Without onnxruntime/onnx or JAX their tests skip."""
from __future__ import annotations

import argparse
import os

import numpy as np
import pytest

from fastsoftmax._bench import cli, registry, report, runner

PEERS = ["onnxruntime", "jax", "fastsoftmax_out"]
NEEDS = {"onnxruntime": ("onnxruntime", "onnx"), "jax": ("jax",), "fastsoftmax_out": ()}


def _need(impl):
    for module in NEEDS[impl]:
        pytest.importorskip(module)


def _as_numpy(result):
    if isinstance(result, tuple):
        return tuple(np.asarray(r) for r in result)
    return np.asarray(result)


def _cases():
    return [(impl, op) for impl in PEERS for op in registry.matrix_ops()
            if op in registry.IMPLEMENTATIONS[impl].bindings]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(6, 7), (3, 4, 5), (1, 1)], ids=str)
@pytest.mark.parametrize(("impl", "op_name"), _cases(), ids=lambda v: str(v))
def test_binding_computes_the_op_in_the_input_dtype(impl, op_name, shape, dtype):
    """Against the reference (fastsoftmax.slow); float64 to float64 accuracy,
    which a library computing in float32 (JAX without x64) would miss."""
    _need(impl)
    args = registry.OPS[op_name].make_inputs(shape, dtype, 3)
    fn = registry.bind(op_name, impl, args)
    got = _as_numpy(fn())
    want = registry.reference(op_name)(*args)
    got_t = got if isinstance(got, tuple) else (got,)
    want_t = want if isinstance(want, tuple) else (want,)
    assert len(got_t) == len(want_t)
    rtol = 1e-5 if dtype == "float32" else 1e-13
    for g, w in zip(got_t, want_t):
        assert g.dtype == np.dtype(dtype)
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
    again = _as_numpy(fn())  # a second (timed-like) call gives the same answer
    for a, b in zip(again if isinstance(again, tuple) else (again,), got_t):
        np.testing.assert_array_equal(a, b)


def test_onnxruntime_has_no_gradient():
    assert "cross_entropy_and_grad" not in registry.IMPLEMENTATIONS["onnxruntime"].bindings
    args = registry.OPS["cross_entropy_and_grad"].make_inputs((4, 5), "float32")
    assert registry.bind("cross_entropy_and_grad", "onnxruntime", args) is None


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_onnxruntime_sessions_get_the_thread_count(threads):
    _need("onnxruntime")
    args = registry.OPS["softmax"].make_inputs((5, 9), "float32")
    want = registry.reference("softmax")(*args)
    with registry.thread_count("onnxruntime", threads):
        fn = registry.bind("softmax", "onnxruntime", args)  # warm_up: makes the session
    key = ("softmax", np.dtype("float32").str, 2, threads)
    session = registry._ORT_SESSIONS[key]
    options = session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (threads, 1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    np.testing.assert_allclose(fn(), want, rtol=1e-5)
    assert registry._ORT_THREADS[0] is None  # the context restored the default


def test_onnxruntime_builds_one_model_per_op_and_dtype():
    _need("onnxruntime")
    before = len(registry._ORT_SESSIONS)
    with registry.thread_count("onnxruntime", 1):
        for shape in [(4, 5), (40, 50), (3, 2)]:
            registry.bind("logsumexp", "onnxruntime",
                          registry.OPS["logsumexp"].make_inputs(shape, "float64"))
    made = [k for k in registry._ORT_SESSIONS if k[:2] == ("logsumexp", "<f8") and k[3] == 1]
    assert len(made) == 1 and len(registry._ORT_SESSIONS) <= before + 1


def test_jax_float64_enables_x64_and_float32_stays_float32():
    _need("jax")
    import jax
    x32 = registry.OPS["softmax"].make_inputs((4, 6), "float32")
    out = registry.bind("softmax", "jax", x32)()
    assert out.dtype == np.float32
    x64 = registry.OPS["cross_entropy_and_grad"].make_inputs((4, 6), "float64")
    loss, grad = registry.bind("cross_entropy_and_grad", "jax", x64)()
    assert jax.config.jax_enable_x64
    assert loss.dtype == grad.dtype == np.float64
    assert registry.bind("softmax", "jax", x32)().dtype == np.float32


def test_jax_results_are_ready_when_the_call_returns():
    _need("jax")
    args = registry.OPS["cross_entropy_and_grad"].make_inputs((8, 10), "float32")
    ready = []

    class Spy:
        def __init__(self, a):
            self.a = a

        def block_until_ready(self):
            ready.append(True)
            return self.a
    loss, grad = registry._jax_ready((Spy(1), Spy(2)))
    assert (loss, grad) == (1, 2) and len(ready) == 2
    assert registry.IMPLEMENTATIONS["jax"].finish is registry._jax_ready
    registry.bind("cross_entropy_and_grad", "jax", args)()


def test_fastsoftmax_out_writes_into_one_preallocated_output():
    args = registry.OPS["softmax"].make_inputs((6, 7), "float32")
    fn = registry.bind("softmax", "fastsoftmax_out", args)
    first, second = fn(), fn()
    assert first is second  # the same buffer, not a new array per call
    args = registry.OPS["cross_entropy_and_grad"].make_inputs((6, 7), "float32")
    fn = registry.bind("cross_entropy_and_grad", "fastsoftmax_out", args)
    assert fn()[1] is fn()[1]
    assert "cross_entropy" not in registry.IMPLEMENTATIONS["fastsoftmax_out"].bindings


def test_probe_environment_sizes_the_jax_pool():
    env = runner.probe_environment("jax", 3)
    assert env["PJRT_NPROC"] == "3"
    other = runner.probe_environment("onnxruntime", 3)  # threads set through its API
    assert other.get("PJRT_NPROC") == os.environ.get("PJRT_NPROC")


@pytest.mark.parametrize(("impl", "threads"), [("jax", 1), ("jax", 2), ("onnxruntime", 2)])
def test_probes_run_with_each_thread_count(impl, threads):
    """The real thing: a fresh probe process per implementation, as the bench
    runs it (jax reads PJRT_NPROC from its environment; onnxruntime's thread
    counts are checked in this process above)."""
    _need(impl)
    out = runner.run_matrix(["softmax", "cross_entropy_and_grad"], [(6, 7)],
                            [impl], dtype="float64", threads=threads,
                            rounds=1, repeat=2, bandwidth_mib=None)
    rows = {r["op"]: r for r in out["results"]}
    assert impl in rows["softmax"]["implementations"]
    has_grad = "cross_entropy_and_grad" in registry.IMPLEMENTATIONS[impl].bindings
    assert ("cross_entropy_and_grad" in rows) == has_grad  # the only implementation
    entry = rows["softmax"]["implementations"][impl]
    assert len(entry["rounds"][0]["samples_s"]) == 2 and entry["median_s"] > 0


# --------------------------------------------------------------------------
# a peer that is not installed


def test_a_missing_required_module_makes_the_peer_unavailable(monkeypatch):
    real = registry.importlib.util.find_spec
    monkeypatch.setattr(registry.importlib.util, "find_spec",
                        lambda name: None if name == "onnx" else real(name))
    assert not registry.available("onnxruntime")
    args = registry.OPS["softmax"].make_inputs((2, 3), "float32")
    assert registry.bind("softmax", "onnxruntime", args) is None


def test_the_cli_skips_missing_peers(monkeypatch, capsys):
    monkeypatch.setattr(registry, "available", lambda name: name not in ("jax", "onnxruntime"))
    args = argparse.Namespace(impls=["numpy", "onnxruntime", "jax"], no_torch=False,
                              no_scipy=False)
    assert cli._implementations(args) == ["fastsoftmax", "numpy"]
    err = capsys.readouterr().err
    assert "jax is not installed: skipped" in err
    assert "onnxruntime is not installed (it needs onnxruntime and onnx): skipped" in err


def test_default_implementations():
    defaults = registry.default_implementations()
    assert defaults[:4] == ["fastsoftmax", "numpy", "torch", "scipy"]
    assert {"onnxruntime", "jax"} <= set(defaults) and "fastsoftmax_out" not in defaults


def test_table_columns_fit_long_names():
    def impl(t):
        return {"median_s": t, "gbps": 1.0, "fastsoftmax_speedup": t / 1e-3}
    doc = {"method": {"order": ["fastsoftmax", "onnxruntime", "jax"]},
           "results": [{"op": "softmax", "shape": [8, 10], "bandwidth_percent": None,
                        "agrees_with_reference": True,
                        "implementations": {"fastsoftmax": impl(1e-3),
                                            "onnxruntime": impl(2e-3)}},
                       {"op": "cross_entropy_and_grad", "shape": [8, 10],
                        "bandwidth_percent": None, "agrees_with_reference": True,
                        "implementations": {"fastsoftmax": impl(1e-3), "jax": impl(3e-3)}}]}
    lines = report.format_table(doc).splitlines()
    assert len({len(line) for line in lines}) == 1  # aligned: every line as wide
    assert lines[0].split()[-6:] == ["onnxruntime", "vs", "onnxruntime", "jax", "vs", "jax"]
    assert lines[1].split()[-5:] == ["2.00", "ms", "x2.00", "-", "-"]
    assert lines[2].split()[-5:] == ["-", "-", "3.00", "ms", "x3.00"]


def test_the_header_says_how_the_peers_threads_were_set():
    notes = {name: registry.IMPLEMENTATIONS[name].thread_note.format(n=2)
             for name in ("onnxruntime", "jax")}
    line = report.format_method({"rounds": 1, "order": ["fastsoftmax", "jax"],
                                 "statistic": report.STATISTIC, "threads": notes})
    assert line.splitlines()[1].startswith(
        "threads: onnxruntime: SessionOptions intra_op_num_threads=2, "
        "inter_op_num_threads=1; jax: PJRT_NPROC=2 in its environment")
    # a saved run of before these notes: one line
    assert "\n" not in report.format_method({"rounds": 1, "order": ["fastsoftmax"],
                                             "statistic": report.STATISTIC})


def test_versions_once_per_package():
    from fastsoftmax._bench import machine
    info = machine.machine_info(1, ["fastsoftmax", "fastsoftmax_out", "numpy"],
                                idle_check=False)
    assert list(info["versions"]) == ["fastsoftmax", "numpy"]  # no "fastsoftmax_out"
