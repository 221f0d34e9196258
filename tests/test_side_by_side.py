"""tools/side_by_side.py: the markdown tables, from a run document, and one
tiny real run through the bench harness."""
from __future__ import annotations

import importlib.util
import os

import pytest

from fastsoftmax._bench import report

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "side_by_side", os.path.join(HERE, os.pardir, "tools", "side_by_side.py"))
side_by_side = importlib.util.module_from_spec(spec)
spec.loader.exec_module(side_by_side)


def _entry(t, base, best_round=0):
    return {"median_s": t, "best_round": best_round, "gbps": 1.0,
            "fastsoftmax_speedup": t / base}


def _doc():
    n, c = 2048, 32000
    nbytes = n * c * 4
    return {
        "method": {"order": ["fastsoftmax", "fastsoftmax_out", "torch", "onnxruntime"]},
        "bandwidth": {"rounds": [{"copy_gbps": 40.0, "read_gbps": 50.0},
                                 {"copy_gbps": 20.0, "read_gbps": 25.0}]},
        "results": [
            {"op": "softmax", "shape": [n, c], "bytes_read": nbytes, "bytes_written": nbytes,
             "agrees_with_reference": True,
             "implementations": {"fastsoftmax": _entry(0.02, 0.02),
                                 "fastsoftmax_out": _entry(2 * nbytes / 40e9 / 0.8, 0.02),
                                 "torch": _entry(0.08, 0.02),
                                 "onnxruntime": _entry(0.03, 0.02)}},
            {"op": "cross_entropy", "shape": [n, c], "bytes_read": nbytes + n * 8,
             "bytes_written": 0, "agrees_with_reference": False,
             # its best round is the second, whose bandwidth is half
             "implementations": {"fastsoftmax": _entry((nbytes + n * 8) / 25e9 / 0.5,
                                                       1.0, best_round=1),
                                 "torch": _entry(0.05, 0.01)}},
        ]}


def test_markdown_table():
    lines = side_by_side.format_markdown_table(_doc()).splitlines()
    assert lines[0] == "| op | shape | fastsoftmax | torch | onnxruntime |"
    assert lines[1] == "|---|---|---:|---:|---:|"
    assert lines[2] == "| softmax | 2048x32000 | 20.0 ms | 80.0 ms (x4.00) | 30.0 ms (x1.50) |"
    # no onnxruntime gradient-free op here: the dash; a mismatch is flagged
    assert lines[3].startswith("| cross_entropy | 2048x32000 | ")
    assert "(MISMATCH vs reference)" in lines[3] and lines[3].endswith(" | – |")


def test_bandwidth_shares_use_the_same_round():
    doc = _doc()
    out = side_by_side.bandwidth_share(doc, "softmax", (2048, 32000), "fastsoftmax_out")
    assert out["percent"] == pytest.approx(80.0)
    ce = side_by_side.bandwidth_share(doc, "cross_entropy", (2048, 32000), "fastsoftmax")
    assert ce["percent"] == pytest.approx(50.0) and ce["read_gbps"] == 25.0
    assert side_by_side.bandwidth_share(doc, "softmax", (8, 10), "fastsoftmax_out") is None
    text = side_by_side.format_bandwidth_shares(doc)
    assert "| softmax, out= | 2048x32000 |" in text and "80% of copy (40.0 GB/s)" in text
    assert "| softmax, out= | 200000x100 | – | – | not measured |" in text
    assert "50% of read (25.0 GB/s)" in text


def test_bench_arguments():
    ns = side_by_side.argparse.Namespace(impls=["torch"], rounds=2, dtype="float32",
                                         bandwidth_mib=256, threads=2, shapes=None, ops=None)
    assert side_by_side.bench_argv(ns) == [
        "--impls", "fastsoftmax,fastsoftmax_out,torch", "--rounds", "2", "--dtype",
        "float32", "--bandwidth-mib", "256", "--threads", "2",
        "--ops", "softmax,log_softmax,logsumexp,cross_entropy,cross_entropy_and_grad"]


def test_a_tiny_run(capsys, tmp_path):
    path = tmp_path / "run.json"
    rc = side_by_side.main(["--shapes", "20000x1000,8x10", "--ops", "softmax",
                            "--impls", "numpy", "--rounds", "1", "--bandwidth-mib", "8",
                            "--threads", "1", "--json", str(path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "load average at the end: " in out and "copy (read+write)" in out
    assert "| op | shape | fastsoftmax | numpy |" in out
    assert "| softmax | 8x10 | " in out and "| softmax | 20000x1000 | " in out
    assert "| softmax, out= | 20000x1000 | " in out and "% of copy (" in out
    assert "| cross_entropy | 2048x32000 | – | – | not measured |" in out
    doc = report.read_json(str(path))
    assert doc["method"]["order"] == ["fastsoftmax", "fastsoftmax_out", "numpy"]
