"""The command line, ``python -m fastsoftmax``: options, help, a tiny bench
run in a subprocess and the JSON it writes, --compare, --from-json, --plot."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fastsoftmax
from fastsoftmax import __main__ as cli_main
from fastsoftmax._bench import inputs, registry, report, runner


def _parse(*argv):
    return cli_main.build_parser().parse_args(list(argv))


def test_no_command_prints_the_help(capsys):
    assert cli_main.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m fastsoftmax")
    assert "bench" in out and "config" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastsoftmax {fastsoftmax.__version__}"


def test_config_command(capsys):
    assert cli_main.main(["config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fastsoftmax {fastsoftmax.__version__}\n")
    assert "isa_selected: " in out


def test_bench_defaults():
    args = _parse("bench")
    assert args.shapes == list(inputs.DEFAULT_SHAPES)
    assert args.ops == list(registry.DEFAULT_OPS)
    assert _parse("bench", "--ops", "all").ops == registry.matrix_ops()
    assert args.impls == registry.default_implementations()
    assert "fastsoftmax_out" not in args.impls  # a variant: asked for by name
    assert (args.dtype, args.threads, args.rounds, args.repeat) == ("float32", None,
                                                                    runner.ROUNDS, None)
    assert args.bandwidth_mib == runner.BANDWIDTH_MIB
    assert not (args.verbose or args.no_torch or args.no_scipy)
    assert args.json is args.plot is args.linear is args.from_json is args.compare is None


def test_every_bench_option_parses():
    args = _parse("bench", "--shapes", "2048x32000, 8X10", "--dtype", "float64",
                  "--threads", "1", "--ops", "softmax,cross_entropy", "--impls",
                  "numpy,fastsoftmax", "--no-torch", "--no-scipy", "--rounds", "5",
                  "--repeat", "7", "--bandwidth-mib", "0", "-v", "--json", "out.json",
                  "--plot", "out.png", "--linear", "--from-json", "in.json",
                  "--compare", "a.json", "b.json")
    assert args.shapes == [(2048, 32000), (8, 10)]
    assert args.dtype == "float64" and args.threads == 1
    assert args.ops == ["softmax", "cross_entropy"]
    assert args.impls == ["numpy", "fastsoftmax"]
    assert args.no_torch and args.no_scipy and args.verbose
    assert (args.rounds, args.repeat, args.bandwidth_mib) == (5, 7, 0)
    assert (args.json, args.plot, args.from_json) == ("out.json", "out.png", "in.json")
    assert args.linear == inputs.LINEAR_SIZE
    assert args.compare == ["a.json", "b.json"]
    assert _parse("bench", "--linear", "64x16x128").linear == (64, 16, 128)
    assert _parse("bench", "--verbose").verbose


@pytest.mark.parametrize("argv", [
    ["--shapes", "0x10"], ["--shapes", "8x"], ["--shapes", "axb"], ["--ops", "nope"],
    ["--ops", ","], ["--impls", "nope"], ["--threads", "0"], ["--rounds", "-1"],
    ["--repeat", "x"], ["--bandwidth-mib", "-1"], ["--dtype", "int8"],
    ["--linear", "8x10"], ["--compare", "a.json"],
], ids=lambda a: " ".join(a))
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse("bench", *argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("columns", ["40", "60", "100"])
def test_help_never_splits_a_word(columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", columns)
    with pytest.raises(SystemExit):
        cli_main.main(["bench", "--help"])
    words = {w.strip("(),:") for w in capsys.readouterr().out.split()}
    for shape in inputs.DEFAULT_SHAPES:
        assert inputs.format_shape(shape) in words
    for name in registry.matrix_ops() + list(registry.IMPLEMENTATIONS):
        assert name in words, name
    assert "fastsoftmax.get_num_threads" in words and "4096x1024x32000" in words


# --------------------------------------------------------------------------
# a real run, in a subprocess as a user runs it

RESULT_KEYS = {"op", "shape", "dtype", "threads", "bytes_read", "bytes_written", "bytes_moved",
               "agrees_with_reference", "bandwidth_percent", "implementations"}
IMPL_KEYS = {"median_s", "best_round", "round_medians_s", "best_s", "gbps",
             "fastsoftmax_speedup", "rounds"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """``bench --shapes 8x10 --ops softmax`` with two rounds: (process, JSON path)."""
    path = tmp_path_factory.mktemp("bench") / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastsoftmax", "bench", "--shapes", "8x10", "--ops", "softmax",
         "--impls", "fastsoftmax,numpy", "--rounds", "2", "--bandwidth-mib", "16",
         "--json", str(path)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"})
    assert proc.returncode == 0, proc.stderr
    return proc, path


def test_tiny_run_prints_the_table(tiny_run):
    proc, _ = tiny_run
    out = proc.stdout
    assert "method: 2 round(s), each running fastsoftmax, numpy in turn" in out
    assert "memory bandwidth (" in out and "copy (read+write)" in out
    table = out[out.index("op "):].splitlines()
    assert table[0].split()[:6] == ["op", "shape", "fastsoftmax", "GB/s", "%", "bw"]
    assert table[1].split()[:2] == ["softmax", "8x10"]
    assert "MISMATCH" not in out
    # progress: one line per process, on stderr
    assert proc.stderr.count("round 1/2 ") == 2 and proc.stderr.count("round 2/2 ") == 2


def test_tiny_run_json_has_the_documented_keys(tiny_run):
    doc = json.loads(tiny_run[1].read_text())
    assert set(doc) == {"format", "machine", "method", "settings", "bandwidth", "results",
                        "linear", "memory", "elapsed_s"}
    assert doc["memory"] is None  # --memory not given
    assert doc["format"] == report.FORMAT
    assert doc["method"]["rounds"] == 2 and doc["method"]["order"] == ["fastsoftmax", "numpy"]
    assert {"cpu", "versions", "load_average", "cpu_activity", "busy", "threads",
            "date"} <= set(doc["machine"])
    bw = doc["bandwidth"]
    assert set(bw) == {"method", "threads", "mib", "rounds"} and bw["mib"] == 16
    assert bw["method"].startswith("numpy")  # torch not among the implementations
    assert len(bw["rounds"]) == 2
    assert all(r["copy_gbps"] > 0 and r["read_gbps"] > 0 for r in bw["rounds"])
    (row,) = doc["results"]
    assert set(row) == RESULT_KEYS
    assert row["op"] == "softmax" and row["shape"] == [8, 10]
    assert row["agrees_with_reference"] is True
    assert row["bytes_moved"] == 2 * 80 * 4 and row["bandwidth_percent"] > 0
    for name in ("fastsoftmax", "numpy"):
        entry = row["implementations"][name]
        assert set(entry) == IMPL_KEYS
        assert len(entry["rounds"]) == 2 == len(entry["round_medians_s"])
        assert entry["median_s"] == min(entry["round_medians_s"])
        assert entry["best_s"] <= entry["median_s"]
    assert row["implementations"]["fastsoftmax"]["fastsoftmax_speedup"] == 1.0


def test_from_json_shows_the_same_table(tiny_run, capsys):
    proc, path = tiny_run
    assert cli_main.main(["bench", "--from-json", str(path)]) == 0
    out = capsys.readouterr().out
    table = proc.stdout[proc.stdout.index("op "):]
    assert out.endswith(table)


def test_compare_two_runs(tiny_run, capsys):
    _, path = tiny_run
    assert cli_main.main(["bench", "--compare", str(path), str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"A: {path}, ") and lines[1].startswith(f"B: {path}, ")
    row = next(line for line in lines if line.startswith("softmax"))
    assert row.split()[-2:] == ["1.00", "1.00"]  # fastsoftmax B/A, numpy B/A


def test_compare_rejects_other_json(tmp_path, tiny_run):
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match="not a fastsoftmax bench JSON"):
        cli_main.main(["bench", "--compare", str(tiny_run[1]), str(other)])


def test_plot_from_json(tiny_run, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    assert cli_main.main(["bench", "--from-json", str(tiny_run[1]), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
