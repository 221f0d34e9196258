"""fastsoftmax side by side with its peers, as a markdown table.

    python tools/side_by_side.py [--impls numpy,torch,scipy,onnxruntime,jax]
        [--rounds 2] [--threads CPUS] [--dtype float32] [--shapes 2048x32000,...]
        [--ops softmax,...] [--bandwidth-mib 256] [--json FILE]

Measures with the benchmark harness itself (``python -m fastsoftmax bench``'s
:func:`fastsoftmax._bench.cli.measure`: no second timing implementation):
the default shape matrix and the five ops, each library alone in a fresh
process, ``--rounds`` rounds alternating between the libraries, each cell
the best of the rounds' medians, fastsoftmax's results checked against the
reference.  The memory bandwidth (copy and read, the bench's thread count)
is measured in each fastsoftmax process of the same run.  Prints:

* the machine line (load average, busy warning) and the load average when
  the run ended;
* the bandwidth line;
* the table: per op and shape, fastsoftmax's time and each peer's time with
  ratio = peer's time / fastsoftmax's (">1": fastsoftmax faster; "–": the
  peer has no such op, e.g. onnxruntime has no gradient);
* how close fastsoftmax gets to the bandwidth: softmax writing into a
  preallocated output (``out=``, the ``fastsoftmax_out`` implementation) as a
  share of the copy bandwidth at (2048, 32000), (200000, 100) and
  (20000, 1000), and cross_entropy as a share of the read bandwidth at
  (2048, 32000); each against the bandwidth measured in the same round.

``--json FILE`` saves the run as ``bench --json`` does (``python -m
fastsoftmax bench --from-json FILE`` shows it as the bench's table).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from fastsoftmax._bench import cli, inputs, machine, registry, report, runner

#: softmax with ``out=``: shapes whose share of the copy bandwidth is shown.
COPY_SHAPES = ((2048, 32000), (200_000, 100), (20_000, 1000))
#: cross_entropy: shapes whose share of the read bandwidth is shown.
READ_SHAPES = ((2048, 32000),)
#: The baseline and its preallocated-output variant; every other
#: implementation of the run is a peer.
OURS = ("fastsoftmax", "fastsoftmax_out")
#: The ops of the table: the softmax family and the cross-entropy, which the peers have.
PEER_OPS = registry.DEFAULT_OPS


def bench_argv(args: argparse.Namespace) -> list[str]:
    """The ``bench`` arguments of the run ``args`` describe."""
    argv = ["--impls", ",".join([*OURS, *args.impls]), "--rounds", str(args.rounds),
            "--dtype", args.dtype, "--bandwidth-mib", str(args.bandwidth_mib),
            "--threads", str(args.threads)]
    if args.shapes:
        argv += ["--shapes", args.shapes]
    argv += ["--ops", args.ops or ",".join(PEER_OPS)]
    return argv


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "–"
    return (f"{report.format_time(entry['median_s'])} "
            f"({report.format_speedup(entry['fastsoftmax_speedup'])})")


def format_markdown_table(doc: dict) -> str:
    """Per op and shape: fastsoftmax's time, each peer's time (ratio)."""
    results = doc["results"]
    order = doc["method"]["order"]
    peers = [i for i in order if i not in OURS
             and any(i in r["implementations"] for r in results)]
    lines = ["| op | shape | fastsoftmax | " + " | ".join(peers) + " |",
             "|---|---|---:|" + "---:|" * len(peers)]
    for r in results:
        impls = r["implementations"]
        ours = impls.get("fastsoftmax")
        mark = " (MISMATCH vs reference)" if r["agrees_with_reference"] is False else ""
        cells = [r["op"], inputs.format_shape(r["shape"]),
                 (report.format_time(ours["median_s"]) if ours else "–") + mark]
        cells += [_cell(impls.get(name)) for name in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bandwidth_share(doc: dict, op: str, shape: Sequence[int], impl: str) -> dict | None:
    """``impl``'s ``op`` at ``shape`` against the bandwidth of the same round.

    Returns
    -------
    dict or None
        ``{"seconds", "gbps", "percent", "copy_gbps", "read_gbps"}``: the best
        of the rounds' medians, its GB/s (bytes read + written / time), and
        the least time those bytes take at the bandwidth measured in that
        round (:func:`runner.roofline_seconds`: written bytes and as many
        read at the copy bandwidth, other reads at the read bandwidth) as a
        percentage of the time; None when not measured.
    """
    row = next((r for r in doc["results"]
                if r["op"] == op and tuple(r["shape"]) == tuple(shape)), None)
    entry = None if row is None else row["implementations"].get(impl)
    rounds = (doc.get("bandwidth") or {}).get("rounds") or []
    if entry is None or entry["best_round"] >= len(rounds) or rounds[entry["best_round"]] is None:
        return None
    bw = rounds[entry["best_round"]]
    read, written = row["bytes_read"], row["bytes_written"]
    least = runner.roofline_seconds(read, written, bw["copy_gbps"], bw["read_gbps"])
    return {"seconds": entry["median_s"], "gbps": entry["gbps"],
            "percent": 100 * least / entry["median_s"], "copy_gbps": bw["copy_gbps"],
            "read_gbps": bw["read_gbps"]}


def format_bandwidth_shares(doc: dict) -> str:
    """The shares of the copy / read bandwidth, as a markdown table."""
    lines = ["| what | shape | time | GB/s | share of the bandwidth (same round) |",
             "|---|---|---:|---:|---|"]
    wanted = ([("softmax, out=", "softmax", s, "fastsoftmax_out", "copy") for s in COPY_SHAPES]
              + [("cross_entropy", "cross_entropy", s, "fastsoftmax", "read")
                 for s in READ_SHAPES])
    for label, op, shape, impl, kind in wanted:
        share = bandwidth_share(doc, op, shape, impl)
        if share is None:
            lines.append(f"| {label} | {inputs.format_shape(shape)} | – | – | not measured |")
            continue
        lines.append(f"| {label} | {inputs.format_shape(shape)} | "
                     f"{report.format_time(share['seconds'])} | "
                     f"{report.format_gbps(share['gbps'])} | {share['percent']:.0f}% of "
                     f"{kind} ({share[kind + '_gbps']:.1f} GB/s) |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=cli.HelpFormatter)
    peers = [i for i in registry.default_implementations() if i not in OURS]
    parser.add_argument("--impls", default=",".join(peers), metavar="NAME,...",
                        help=f"the peers (default: {', '.join(peers)}; the uninstalled "
                             "ones are skipped)")
    parser.add_argument("--rounds", type=int, default=2, metavar="R",
                        help="rounds (default: 2)")
    parser.add_argument("--threads", type=int, default=machine.usable_cpus(), metavar="N",
                        help="threads of every library and of the bandwidth measurement "
                             f"(default: the usable CPUs, here {machine.usable_cpus()})")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--shapes", default=None, metavar="NxC,...",
                        help="default: the bench's default matrix")
    parser.add_argument("--ops", default=None, metavar="OP,...",
                        help="default: the five ops every peer has ("
                             + ", ".join(PEER_OPS) + ")")
    parser.add_argument("--bandwidth-mib", type=int, default=runner.BANDWIDTH_MIB,
                        metavar="MIB", help=f"default: {runner.BANDWIDTH_MIB}")
    parser.add_argument("--json", metavar="FILE", help="also save the run, as bench --json")
    args = parser.parse_args(argv)
    args.impls = [name.strip() for name in args.impls.split(",")
                  if name.strip() and name.strip() not in OURS]

    bench = argparse.ArgumentParser(prog="side_by_side")
    cli.add_arguments(bench)
    doc = cli.measure(bench.parse_args(bench_argv(args)))  # prints the machine line
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"(1, 5, 15 min) on {os.cpu_count()} CPUs")
    print(report.format_method(doc["method"]))
    print(report.format_bandwidth(doc["bandwidth"]))
    print()
    print(f"{doc['settings']['dtype']}, {doc['settings']['threads']} thread(s); time per "
          f"call, the {report.STATISTIC}; (xR) = the peer's time / fastsoftmax's "
          "(>1: fastsoftmax faster); – : the peer has no such op")
    print()
    print(format_markdown_table(doc))
    print()
    print("fastsoftmax against the memory bandwidth (the least time of the bytes moved at "
          "the bandwidth measured in the same round / the time):")
    print()
    print(format_bandwidth_shares(doc))
    if args.json:
        report.write_json(args.json, doc)
        print(f"wrote {args.json}", file=sys.stderr)
    bad = [r for r in doc["results"] if r["agrees_with_reference"] is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
