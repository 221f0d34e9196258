"""Command line: ``python -m fastsoftmax {bench,config}``.

``bench`` times fastsoftmax against NumPy (and torch / SciPy when installed)
over a matrix of shapes; ``config`` prints how this build was compiled.  The
logic lives in :mod:`fastsoftmax._bench`; this module only parses arguments.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import fastsoftmax

from . import _bench, _core


def _shape_list(text: str) -> list[tuple[int, ...]]:
    """``"2048x32000,8x10"`` -> ``[(2048, 32000), (8, 10)]``."""
    shapes = []
    for item in text.split(","):
        try:
            shape = tuple(int(n) for n in item.strip().lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad shape {item!r}: expected sizes joined by 'x', e.g. 2048x32000") from None
        if not shape or min(shape) < 1:
            raise argparse.ArgumentTypeError(f"bad shape {item!r}: sizes must be positive")
        shapes.append(shape)
    return shapes


def _op_list(text: str) -> list[str]:
    ops = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in ops if name not in _bench.OPS]
    if unknown or not ops:
        raise argparse.ArgumentTypeError(
            f"unknown op(s) {', '.join(unknown) or '(none given)'}; "
            f"available in this build: {', '.join(_bench.OPS)}")
    return ops


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m fastsoftmax``."""
    parser = argparse.ArgumentParser(
        prog="python -m fastsoftmax",
        description="fastsoftmax command line tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("config", help="print version, OpenMP, threads and SIMD ISA",
                   description="Print the version, OpenMP support, default thread "
                               "count and the SIMD instruction sets of this build.")

    default_shapes = ",".join(_bench.format_shape(s) for s in _bench.DEFAULT_SHAPES)
    bench = sub.add_parser(
        "bench", help="benchmark against NumPy, torch and SciPy",
        description="Time fastsoftmax against the NumPy reference (same dtype) and, "
                    "when installed, torch and SciPy.  Prints median times, "
                    "fastsoftmax's GB/s (bytes read + written / time) and speedups "
                    "(other time / fastsoftmax time).  Progress goes to stderr.")
    bench.add_argument("--shapes", type=_shape_list, default=list(_bench.DEFAULT_SHAPES),
                       metavar="NxC,...", help=f"input shapes (default: {default_shapes})")
    bench.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="input dtype (default: float32)")
    bench.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                       help="threads for fastsoftmax and torch "
                            f"(default: fastsoftmax.get_num_threads() = "
                            f"{fastsoftmax.get_num_threads()})")
    bench.add_argument("--ops", type=_op_list, default=list(_bench.OPS), metavar="OP,...",
                       help=f"ops to run (default: all: {','.join(_bench.OPS)})")
    bench.add_argument("--repeat", type=_positive_int, default=None, metavar="N",
                       help="timed runs per implementation and shape (default: adaptive, "
                            f"runs until ~{_bench.TIME_BUDGET_S:g} s, "
                            f"{_bench.MIN_RUNS} to {_bench.MAX_RUNS} runs)")
    bench.add_argument("--json", metavar="FILE", help="also write all results to FILE")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="also plot GB/s per shape to FILE.png (needs matplotlib)")
    bench.add_argument("--linear", nargs="?", const=_bench.format_shape(_bench.LINEAR_SIZE),
                       default=None, metavar="NxDxV",
                       help="also time linear_cross_entropy (a language-model head: "
                            "hidden (N, D), weight (V, D); default "
                            f"{_bench.format_shape(_bench.LINEAR_SIZE)}) with and without "
                            "gradients, and its peak extra memory, against torch and NumPy "
                            "(each in a fresh subprocess; about a minute)")
    bench.add_argument("--no-torch", action="store_true", help="skip torch")
    bench.add_argument("--no-scipy", action="store_true", help="skip SciPy")
    return parser


def cmd_config() -> int:
    """Print the build configuration."""
    print(f"fastsoftmax {fastsoftmax.__version__}")
    print(f"numpy {np.__version__}")
    print(f"openmp_enabled: {fastsoftmax.openmp_enabled()}")
    print(f"num_threads: {fastsoftmax.get_num_threads()}")
    print(f"isa_selected: {_core.isa_selected()}")
    print(f"isa_compiled: {_core.isa_compiled()}")
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark matrix and print the table."""
    if args.plot:
        try:  # fail now, not after a minute of measuring
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib, which is not installed "
                  "(pip install matplotlib)", file=sys.stderr)
            return 2
    start = time.perf_counter()
    threads = fastsoftmax.get_num_threads() if args.threads is None else args.threads
    impls = [i for i in _bench.IMPLEMENTATIONS
             if not (i == "torch" and args.no_torch or i == "scipy" and args.no_scipy)]
    info = _bench.machine_info(threads, impls)
    bandwidth = _bench.copy_bandwidth()
    print(_bench.format_header(info, bandwidth), flush=True)
    results = _bench.run(args.ops, args.shapes, dtype=args.dtype, threads=threads,
                         repeat=args.repeat, impls=impls, progress=_progress)
    print(f"{args.dtype}, median time per call; vs X = X time / fastsoftmax time "
          f"(>1: fastsoftmax faster)")
    print(_bench.format_table(results))
    elapsed = time.perf_counter() - start
    linear = None
    if args.linear:
        size = _shape_list(args.linear)[0]
        if len(size) != 3:
            print("error: --linear takes NxDxV", file=sys.stderr)
            return 2
        linear = _bench.run_linear(size, args.dtype, threads,
                                   [i for i in _bench.LINEAR_IMPLS if i in impls],
                                   progress=_progress)
        print()
        print(_bench.format_linear_table(linear, size, args.dtype))
    if args.json:
        settings = {"ops": args.ops, "shapes": [list(s) for s in args.shapes],
                    "dtype": args.dtype, "threads": threads, "repeat": args.repeat,
                    "implementations": impls, "elapsed_s": elapsed}
        if linear is not None:
            settings["linear"] = {"size": list(size),
                                  "results": {f"{i} {m}": r for (i, m), r in linear.items()}}
        _bench.write_json(args.json, results, info, bandwidth, settings)
        _progress(f"wrote {args.json}")
    if args.plot:
        _bench.plot(args.plot, results, bandwidth)
        _progress(f"wrote {args.plot}")
    _progress(f"done in {time.perf_counter() - start:.1f} s")
    mismatches = [r for r in results if r.agrees is False]
    if mismatches:
        _progress("warning: fastsoftmax disagrees with the NumPy reference on: "
                  + ", ".join(f"{r.op} {_bench.format_shape(r.shape)}" for r in mismatches))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "config":
        return cmd_config()
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
