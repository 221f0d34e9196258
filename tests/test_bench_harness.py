"""The benchmark harness (``fastsoftmax._bench``): registry, the one reference
lookup, the correctness check, the probes, bandwidth, busy check, reports."""
from __future__ import annotations

import doctest
import importlib
import io
import json
import os
import pkgutil
from contextlib import redirect_stdout

import numpy as np
import pytest

import fastsoftmax
from fastsoftmax import _bench
from fastsoftmax._bench import (events, inputs, machine, matrix_probe, registry, report,
                                runner)

SUBMODULES = [f"fastsoftmax._bench.{m.name}" for m in pkgutil.iter_modules(_bench.__path__)]


@pytest.mark.parametrize("modname", SUBMODULES)
def test_docstring_examples(modname):
    module = importlib.import_module(modname)
    finder, runner_ = doctest.DocTestFinder(exclude_empty=True), doctest.DocTestRunner()
    out = io.StringIO()
    for test in finder.find(module, modname):
        runner_.run(test, out=out.write)
    assert runner_.failures == 0, out.getvalue()


def test_importing_the_harness_imports_no_optional_library():
    import subprocess
    import sys
    code = ("import sys, fastsoftmax.__main__, fastsoftmax._bench.cli, "
            "fastsoftmax._bench.runner; fastsoftmax.__main__.build_parser(); "
            "print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'onnxruntime', 'onnx', "
            "'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------
# registry


def _small_args(op_name, dtype="float64", shape=None):
    op = registry.OPS[op_name]
    if shape is None:
        shape = (16, 8, 40) if not op.matrix else (6, 7)
    return op.make_inputs(shape, dtype)


def _close(a, b, rtol):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x, dtype=np.float64),
                                   np.asarray(y, dtype=np.float64), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("op_name", list(registry.OPS))
def test_every_binding_computes_the_op(op_name):
    """Each implementation's binding gives the reference's answer: a binding
    to the wrong function (or argument order) would be timed unnoticed."""
    args = _small_args(op_name)
    want = registry.reference(op_name)(*args)
    for impl, entry in registry.IMPLEMENTATIONS.items():
        if op_name not in entry.bindings or not registry.available(impl):
            continue
        fn = registry.bind(op_name, impl, args)
        got = fn()
        if impl == "torch":
            got = tuple(t.detach().numpy() for t in got) if isinstance(got, tuple) else \
                got.detach().numpy()
        _close(got, want, rtol=1e-6)


def test_every_op_has_a_reference_and_a_fastsoftmax_binding():
    for name in registry.OPS:
        assert callable(registry.reference(name))
        assert name in registry.IMPLEMENTATIONS["fastsoftmax"].bindings
    with pytest.raises(KeyError):
        registry.reference("nope")


def test_bind_returns_none_without_the_op():
    assert registry.bind("cross_entropy", "scipy", _small_args("cross_entropy")) is None


def test_the_check_goes_through_reference(monkeypatch, capsys):
    """One function to switch when the reference changes: the correctness
    check calls :func:`registry.reference`, and the "numpy" column does not
    (it is a peer that is timed, :func:`registry.numpy_peer`)."""
    calls = []

    def fake(op_name):
        calls.append(op_name)
        return lambda x: np.zeros_like(x)  # a wrong "reference"
    monkeypatch.setattr(registry, "reference", fake)
    x = np.ones((2, 3))
    np.testing.assert_allclose(registry.bind("softmax", "numpy", (x,))(), np.full((2, 3), 1 / 3))
    matrix_probe.run({"impl": "fastsoftmax", "ops": ["softmax"], "shapes": [[4, 5]],
                      "dtype": "float32", "threads": 1, "repeat": 1, "check": True})
    lines = [events.parse(line) for line in capsys.readouterr().out.splitlines()]
    cell = next(e for e in lines if e and e["event"] == "cell")
    assert cell["agrees"] is False
    assert calls == ["softmax"]


def test_reference_is_the_slow_module():
    """The reference of an op is slow's function of its name, called as the
    fastsoftmax binding calls fastsoftmax's (with the same options)."""
    from fastsoftmax import slow
    for name in registry.OPS:
        if name in registry._CALLS:
            args = _small_args(name)
            fast = registry.IMPLEMENTATIONS["fastsoftmax"].bindings[name](fastsoftmax)(*args)
            _close(registry.reference(name)(*args), fast, rtol=1e-6)
        else:
            assert registry.reference(name) is getattr(slow, name)


@pytest.mark.parametrize("op_name", ["softmax", "logsumexp", "cross_entropy_and_grad"])
def test_check_samples_rows_of_rowwise_ops_only(op_name, monkeypatch):
    """A row-wise op's reference sees the sampled rows (the whole input
    would take the extended-precision reference seconds); a loss's, all."""
    seen = []
    real = registry.reference

    def spy(name):
        fn = real(name)

        def wrapped(*args):
            seen.append(args[0].shape[0])
            return fn(*args)
        return wrapped
    monkeypatch.setattr(registry, "reference", spy)
    args = _small_args(op_name, "float32", shape=(1000, 7))
    out = registry.bind(op_name, "fastsoftmax", args)()
    assert matrix_probe.check(op_name, args, out, "float32")
    rowwise = registry.OPS[op_name].rowwise
    assert seen == [matrix_probe.CHECK_ROWS if rowwise else 1000]
    if rowwise:
        bad = out.copy()
        bad[-1] += 0.01  # the last row is sampled
        assert not matrix_probe.check(op_name, args, bad, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_agrees_catches_a_wrong_result(dtype):
    x = inputs.make_logits((300, 50), dtype)
    good = fastsoftmax.softmax(x)
    ref = registry.reference("softmax")(x)
    assert matrix_probe.agrees(good, ref, dtype)
    bad = good.copy()
    bad[-1, 3] += 0.01  # the last row is among the sampled ones
    assert not matrix_probe.agrees(bad, ref, dtype)
    assert not matrix_probe.agrees((good, good), ref, dtype)
    assert not matrix_probe.agrees(good[:-1], ref, dtype)


def test_traffic():
    assert registry.traffic("softmax", (10, 4), "float32") == (160, 160)
    assert registry.traffic("logsumexp", (10, 4), "float64") == (320, 80)
    assert registry.traffic("cross_entropy", (10, 4), "float32") == (160 + 80, 0)
    assert registry.traffic("cross_entropy_and_grad", (10, 4), "float32") == (240, 160)
    assert registry.traffic("linear_cross_entropy", (8, 4, 16), "float32") is None


# --------------------------------------------------------------------------
# timing


class _Clock:
    """A fake perf_counter: each call of the timed function takes the next
    duration of ``durations``."""

    def __init__(self, durations):
        self.now, self.durations = 0.0, iter(durations)

    def perf_counter(self):
        return self.now

    def call(self):
        self.now += next(self.durations)


@pytest.mark.parametrize(("durations", "budget", "samples"), [
    # slow and agreeing: one warm-up call, two samples
    ([0.2] * 10, 0.1, [0.2, 0.2]),
    # slow and disagreeing: three samples
    ([0.2, 0.2, 0.3, 0.2, 0.2], 0.1, [0.2, 0.3, 0.2]),
    # 5-50 ms: two warm-up calls, then the budget is spent after three samples
    ([0.03, 0.02, 0.02, 0.02, 0.02, 0.02], 0.1, [0.02] * 3),
    # fast: samples until the budget is spent, at most MAX_RUNS
    ([1e-3] * 200, 1.0, [1e-3] * 50),
])
def test_time_callable_policy(monkeypatch, durations, budget, samples):
    from fastsoftmax._bench import timing
    clock = _Clock(durations)
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    t, _ = timing.time_callable(clock.call, budget=budget)
    assert t.samples == pytest.approx(samples) and t.number == 1


def test_time_callable_exact_repeat(monkeypatch):
    from fastsoftmax._bench import timing
    clock = _Clock([0.2] * 10)
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    t, _ = timing.time_callable(clock.call, repeat=4)
    assert t.samples == pytest.approx([0.2] * 4)


# --------------------------------------------------------------------------
# inputs shared through files


def test_inputs_written_once_and_loaded_equal(tmp_path):
    makers = [registry.OPS[name].make_inputs for name in registry.matrix_ops()]
    manifest = inputs.write_inputs(str(tmp_path), makers, [(5, 7), (3, 4)], "float32", seed=3)
    # per shape: the logits and labels, once each; binary targets; the softmax
    # backward pass's gradient and softmax, the log_softmax one's gradient and
    # log_softmax; kl_div's log-probabilities and probabilities; the
    # distillation's teacher logits and its own labels
    assert len(list(tmp_path.iterdir())) == 2 * (2 + 1 + 2 + 2 + 2 + 2)
    for maker in set(makers):
        for shape in [(5, 7), (3, 4)]:
            loaded = inputs.load_inputs(manifest, maker, shape, "float32", 3)
            drawn = maker(shape, "float32", 3)
            assert len(loaded) == len(drawn)
            for a, b in zip(loaded, drawn):
                assert a.dtype == b.dtype and np.array_equal(a, b)
    # not in the manifest: drawn on the spot
    drawn = inputs.load_inputs(manifest, makers[0], (2, 2), "float32", 3)
    assert drawn[0].shape == (2, 2)


def test_parse_shape():
    assert inputs.parse_shape(" 2048X32000 ") == (2048, 32000)
    for bad in ["", "0x3", "3x", "-1x2", "ax2"]:
        with pytest.raises(ValueError, match="bad shape"):
            inputs.parse_shape(bad)


# --------------------------------------------------------------------------
# probes and runner


def test_matrix_probe_events(capsys):
    matrix_probe.run({"impl": "numpy", "ops": ["softmax", "cross_entropy"],
                      "shapes": [[8, 10], [3, 4]], "dtype": "float64", "threads": 1,
                      "repeat": 2, "bandwidth_mib": 4})
    got = [events.parse(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in got] == ["start", "bandwidth"] + ["cell"] * 4 + ["done"]
    cells = [e for e in got if e["event"] == "cell"]
    assert [(c["op"], c["shape"]) for c in cells] == [
        ("softmax", [8, 10]), ("cross_entropy", [8, 10]),
        ("softmax", [3, 4]), ("cross_entropy", [3, 4])]
    assert all(len(c["samples_s"]) == 2 and c["agrees"] is None for c in cells)
    assert got[0]["fastsoftmax"] == fastsoftmax.__file__


def test_probe_environment_runs_this_build():
    env = runner.probe_environment("numpy", 3)
    first = env["PYTHONPATH"].split(":")[0]
    assert fastsoftmax.__file__.startswith(first)
    assert env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    # threads go through the libraries' APIs
    assert env.get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")


def test_run_matrix_alternates_rounds_and_takes_the_best_median(monkeypatch):
    order = []
    real = runner._run_probe

    def spy(module, spec, env, on_line):
        order.append(spec["impl"])
        real(module, spec, env, on_line)
    monkeypatch.setattr(runner, "_run_probe", spy)
    lines = []
    out = runner.run_matrix(["logsumexp"], [(4, 5)], ["fastsoftmax", "numpy"], rounds=3,
                            repeat=2, bandwidth_mib=None, progress=lines.append)
    assert order == ["fastsoftmax", "numpy"] * 3
    assert len(lines) == 6 and lines[0].startswith("round 1/3 fastsoftmax: 1 cells timed")
    (row,) = out["results"]
    assert out["bandwidth"] is None and row["bandwidth_percent"] is None
    for entry in row["implementations"].values():
        assert entry["median_s"] == min(entry["round_medians_s"])
        assert entry["round_medians_s"][entry["best_round"]] == entry["median_s"]
    assert row["agrees_with_reference"] is True


def test_a_failing_probe_raises():
    with pytest.raises(RuntimeError, match=r"(?s)numpy failed \(exit 1\).*KeyError"):
        runner._run_probe("fastsoftmax._bench.matrix_probe", {"impl": "numpy"},
                          runner.probe_environment("numpy", 1), lambda event: None)


def test_a_probe_of_another_build_is_refused(monkeypatch):
    monkeypatch.setattr(runner.os.path, "samefile", lambda a, b: False)
    with pytest.raises(RuntimeError, match="imported fastsoftmax from"):
        runner.run_matrix(["softmax"], [(4, 5)], ["numpy"], rounds=1, repeat=1,
                          bandwidth_mib=None)


def test_run_linear_and_its_table():
    lines = []
    out = runner.run_linear((64, 16, 128), ["fastsoftmax", "numpy"], rounds=1, threads=1,
                            progress=lines.append)
    assert len(lines) == 4
    for impl in ("fastsoftmax", "numpy"):
        for op in registry.linear_ops():
            r = out["results"][impl][op]
            assert r["seconds"] > 0 and len(r["rounds"]) == 1
            assert r["peak_extra"] is None or r["peak_extra"] >= 0
    table = report.format_linear_table(out)
    assert table.splitlines()[0].startswith("linear_cross_entropy: hidden (64, 16) x weight")
    assert [line.split()[0] for line in table.splitlines()[2:]] == ["fastsoftmax", "numpy"]
    json.dumps(out)


# --------------------------------------------------------------------------
# machine


@pytest.mark.parametrize("method", ["numpy", "torch"])
def test_memory_bandwidth(method):
    if method == "torch":
        pytest.importorskip("torch")
    bw = machine.memory_bandwidth(2, mib=8, repeats=2, method=method)
    assert set(bw) == {"method", "threads", "mib", "copy_gbps", "read_gbps"}
    assert bw["copy_gbps"] > 0.1 and bw["read_gbps"] > 0.1
    with pytest.raises(ValueError):
        machine.memory_bandwidth(2, mib=1, method="nope")


def test_busy_reasons():
    quiet = {"usable_cpus": 2, "load_average": 0.2,
             "cpu_activity": {"seconds": 0.5, "idle": 0.97, "steal": 0.0}}
    assert machine.busy_reasons(quiet) == []
    loaded = {**quiet, "load_average": 1.6}
    assert machine.busy_reasons(loaded) == ["load average 1.6 on 2 usable CPUs"]
    idle_low = {**quiet, "cpu_activity": {"seconds": 0.5, "idle": 0.5, "steal": 0.0}}
    assert machine.busy_reasons(idle_low) == ["only 50% of CPU time idle in a 0.5 s check"]
    assert machine.busy_reasons({"usable_cpus": 2, "load_average": None,
                                 "cpu_activity": None}) == []


def test_machine_info_without_idle_check():
    info = machine.machine_info(2, ["fastsoftmax", "numpy"], idle_check=False)
    assert info["cpu_activity"] is None and info["threads"] == 2
    assert info["versions"] == {"fastsoftmax": fastsoftmax.__version__,
                                "numpy": np.__version__}
    assert isinstance(info["busy"], list)


# --------------------------------------------------------------------------
# reports


def _doc(fs_time=1e-3, np_time=4e-3, busy=()):
    def impl(t):
        return {"median_s": t, "best_round": 0, "round_medians_s": [t], "best_s": t,
                "gbps": 8e3 / t / 1e9, "fastsoftmax_speedup": t / fs_time,
                "rounds": [{"samples_s": [t], "calls_per_sample": 1}]}
    info = machine.machine_info(2, ["fastsoftmax", "numpy"], idle_check=False)
    info["busy"] = list(busy)
    return {"format": report.FORMAT, "machine": info,
            "method": {"rounds": 1, "order": ["fastsoftmax", "numpy", "torch"],
                       "statistic": report.STATISTIC},
            "settings": {"dtype": "float32"},
            "bandwidth": {"method": "m", "threads": 2, "mib": 256,
                          "rounds": [{"copy_gbps": 40.0, "read_gbps": 50.0}]},
            "results": [{"op": "softmax", "shape": [1000, 1], "dtype": "float32",
                         "threads": 2, "bytes_read": 4000, "bytes_written": 4000,
                         "bytes_moved": 8000, "agrees_with_reference": False,
                         "bandwidth_percent": 87.4,
                         "implementations": {"fastsoftmax": impl(fs_time),
                                             "numpy": impl(np_time)}}],
            "linear": None, "elapsed_s": 1.0}


def test_table_columns_and_mismatch():
    lines = report.format_table(_doc()).splitlines()
    assert lines[0].split() == ["op", "shape", "fastsoftmax", "GB/s", "%", "bw", "numpy",
                                "vs", "numpy"]  # torch never ran: no column
    assert lines[1].split() == ["softmax", "1000x1", "1.00", "ms", "0.008", "87%", "4.00",
                                "ms", "x4.00", "MISMATCH"]


def test_busy_warning_in_the_header():
    assert "warning" not in report.format_machine(_doc()["machine"])
    header = report.format_header(_doc(busy=["load average 3.0 on 2 usable CPUs"]))
    assert ("warning: the machine is busy (load average 3.0 on 2 usable CPUs): the "
            "timings are unreliable") in header
    assert "method: 1 round(s)" in header and "copy (read+write) 40.0 GB/s" in header


def test_comparison_ratios():
    text = report.format_comparison(_doc(1e-3, 4e-3), _doc(0.5e-3, 4.4e-3), ("a", "b"))
    row = text.splitlines()[-1].split()
    assert row[:2] == ["softmax", "1000x1"] and row[-2:] == ["0.50", "1.10"]


def test_roofline_percent():
    # a copy-like op at exactly the copy bandwidth is at 100 %
    t = runner.roofline_seconds(10**6, 10**6, 40.0, 50.0)
    assert t == pytest.approx(2 * 10**6 / 40e9)
    # reads beyond the written bytes go at the read bandwidth
    assert runner.roofline_seconds(3 * 10**6, 10**6, 40.0, 50.0) == pytest.approx(
        2e6 / 40e9 + 2e6 / 50e9)


def test_write_and_read_json(tmp_path):
    path = tmp_path / "d.json"
    report.write_json(str(path), _doc())
    assert report.read_json(str(path)) == json.loads(json.dumps(_doc()))


def test_format_helpers():
    assert report.format_gbps(None) == "-" and report.format_gbps(0.0312) == "0.031"
    assert report.format_speedup(12.34) == "x12.3" and report.format_percent(None) == "-"
    buf = io.StringIO()
    with redirect_stdout(buf):
        events.emit("x", a=1)
    assert events.parse(buf.getvalue()) == {"event": "x", "a": 1}
    assert events.parse("some library's chatter") is None
