"""The ``bench`` command of ``python -m fastsoftmax``: its arguments and what
it runs.  The measuring is in :mod:`runner`, the output in :mod:`report`."""
from __future__ import annotations

import argparse
import sys
import textwrap
import time
from typing import Callable

import fastsoftmax

from . import JSONDict, inputs, machine, registry, report, runner, timing


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but never splitting a word (a shape, an op list,
    a file name) across lines."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False)


def _shape_list(text: str) -> list[tuple[int, ...]]:
    """``"2048x32000,8x10"`` -> ``[(2048, 32000), (8, 10)]``."""
    try:
        return [inputs.parse_shape(item) for item in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _linear_size(text: str) -> tuple[int, int, int]:
    try:
        size = inputs.parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if len(size) != 3:
        raise argparse.ArgumentTypeError(f"expected NxDxV (three sizes), got {text!r}")
    return size  # a tuple of three: narrowed by the length check


def _name_list(known: list[str], what: str, everything: bool = False
               ) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        if everything and text.strip() == "all":
            return list(known)
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                f"available: {', '.join(known)}")
        return names
    return parse


def _positive_int(text: str, least: int = 1) -> int:
    try:
        n = int(text)
    except ValueError:
        n = least - 1
    if n < least:
        raise argparse.ArgumentTypeError(
            f"expected a {'positive' if least else 'non-negative'} integer, got {text!r}")
    return n


def _nonnegative_int(text: str) -> int:
    return _positive_int(text, least=0)


DESCRIPTION = (
    "Time fastsoftmax against plain NumPy (same dtype) and, when installed, "
    "torch, SciPy, onnxruntime and JAX, over a matrix of shapes.  Each implementation "
    "runs in its own fresh process; rounds alternate between the implementations "
    "(fastsoftmax, numpy, torch, ..., fastsoftmax, ...) and each cell of the table is the "
    "best of the "
    "rounds' median times, so that a noisy moment of a shared machine hits no "
    "implementation alone.  The memory bandwidth is measured in each fastsoftmax "
    "process just before its kernels, and fastsoftmax's results are checked against "
    "the reference (fastsoftmax.slow).  The table goes to stdout, progress to stderr (one line per "
    "process; -v: one per cell).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser``."""
    ops = registry.matrix_ops()
    impls = list(registry.IMPLEMENTATIONS)
    defaults = registry.default_implementations()
    parser.add_argument(
        "--shapes", type=_shape_list, default=list(inputs.DEFAULT_SHAPES), metavar="NxC,...",
        help="input shapes, the class axis last (default: "
             f"{', '.join(inputs.format_shape(s) for s in inputs.DEFAULT_SHAPES)})")
    parser.add_argument("--dtype", choices=("float32", "float64") + inputs.HALF_DTYPES,
                        default="float32",
                        help="input dtype (default: float32); float16 and bfloat16 (which "
                             "needs ml_dtypes) time the ops whose kernels read 16-bit rows "
                             f"({', '.join(registry.HALF_OPS)}) with "
                             f"{', '.join(registry.HALF_IMPLEMENTATIONS)}, each peer fed "
                             "the 16-bit data as its users hold it (torch: 16-bit tensors; "
                             "NumPy: a float32 copy, the result rounded back)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure the peak extra resident memory of one call of "
                             "each op and shape, per implementation (one fresh process per "
                             "call; Linux)")
    parser.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                        help="threads of every implementation and of the bandwidth "
                             "measurement (default: fastsoftmax.get_num_threads(), here "
                             f"{fastsoftmax.get_num_threads()})")
    parser.add_argument("--ops", type=_name_list(ops, "op(s)", everything=True),
                        default=list(registry.DEFAULT_OPS), metavar="OP,...",
                        help="ops to time (default: "
                             f"{', '.join(registry.DEFAULT_OPS)}), or all, which adds "
                             f"{', '.join(o for o in ops if o not in registry.DEFAULT_OPS)}")
    parser.add_argument("--impls", type=_name_list(impls, "implementation(s)"),
                        default=defaults, metavar="NAME,...",
                        help="implementations, in the order each round runs them; the "
                             "uninstalled ones are skipped and fastsoftmax, the baseline, is "
                             f"always in (default: {', '.join(defaults)}), and "
                             "fastsoftmax_out (fastsoftmax writing into preallocated "
                             "outputs: out=, grad_out=)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch")
    parser.add_argument("--no-scipy", action="store_true", help="skip SciPy")
    parser.add_argument("--rounds", type=_positive_int, default=runner.ROUNDS, metavar="R",
                        help=f"rounds (default: {runner.ROUNDS}); more rounds resist noise "
                             "better and take proportionally longer")
    parser.add_argument("--repeat", type=_positive_int, default=None, metavar="N",
                        help="timed samples per cell and round (default: adaptive: "
                             f"samples until ~{timing.CELL_BUDGET_S:g} s are spent, at least "
                             f"{timing.MIN_RUNS} (or 2 within "
                             f"{(timing.AGREE - 1) * 100:.0f}%% of each other), "
                             f"at most {timing.MAX_RUNS})")
    parser.add_argument("--bandwidth-mib", type=_nonnegative_int, default=runner.BANDWIDTH_MIB,
                        metavar="MIB",
                        help="size of each array of the bandwidth measurement; it must "
                             "exceed the last-level cache many times (default: "
                             f"{runner.BANDWIDTH_MIB}; 0: do not measure)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="a progress line per cell: its median, and how many samples "
                             "of how many back-to-back calls it is the median of")
    parser.add_argument("--json", metavar="FILE", help="also write all results to FILE")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also plot GB/s per shape to FILE.png (needs matplotlib)")
    parser.add_argument(
        "--linear", nargs="?", type=_linear_size, const=inputs.LINEAR_SIZE, default=None,
        metavar="NxDxV",
        help="also time linear_cross_entropy (a language-model head: hidden (N, D), "
             f"weight (V, D); default {inputs.format_shape(inputs.LINEAR_SIZE)}) with and "
             "without gradients, and its peak extra memory, against torch and NumPy (one "
             "fresh process per call; about a minute per round)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: show (and with --plot, plot) the run saved "
                             "in FILE by --json")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                        help="measure nothing: compare two runs saved by --json (e.g. two "
                             "builds): fastsoftmax's times and B/A per cell, and the other "
                             "implementations' B/A, which show the machine's drift")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _implementations(args: argparse.Namespace) -> list[str]:
    skip = {"torch"} if args.no_torch else set()
    if args.no_scipy:
        skip.add("scipy")
    chosen = []
    for name in dict.fromkeys(args.impls):
        if name in skip:
            continue
        if not registry.available(name):
            needs = registry.IMPLEMENTATIONS[name].requires
            _say(f"{name} is not installed"
                 + (f" (it needs {' and '.join((name, *needs))})" if needs else "")
                 + ": skipped")
            continue
        dtype = getattr(args, "dtype", "float32")
        if dtype in inputs.HALF_DTYPES and name not in registry.HALF_IMPLEMENTATIONS:
            _say(f"{name} does not take {dtype} input here: skipped")
            continue
        chosen.append(name)
    if "fastsoftmax" not in chosen:
        chosen.insert(0, "fastsoftmax")  # the baseline of every ratio
    return chosen


def measure(args: argparse.Namespace) -> JSONDict:
    """Run the benchmark the arguments describe; its JSON document."""
    start = time.perf_counter()
    threads = fastsoftmax.get_num_threads() if args.threads is None else args.threads
    if args.dtype in inputs.HALF_DTYPES:
        inputs.numpy_dtype(args.dtype)  # fail now if ml_dtypes is missing
        other = [op for op in args.ops if op not in registry.HALF_OPS]
        if other:
            raise SystemExit(f"--dtype {args.dtype} times {', '.join(registry.HALF_OPS)} "
                             f"only, not {', '.join(other)}")
    impls = _implementations(args)
    info = machine.machine_info(threads, impls)
    print(report.format_machine(info), flush=True)
    processes = args.rounds * len(impls)
    _say(f"timing {len(args.ops)} op(s) x {len(args.shapes)} shape(s) in {args.rounds} "
         f"round(s) of {len(impls)} processes ({', '.join(impls)}); a progress line per "
         f"process ({processes} in all)"
         + (" and per cell" if args.verbose else "; -v for a line per cell"))
    matrix = runner.run_matrix(args.ops, args.shapes, impls, dtype=args.dtype,
                               threads=threads, rounds=args.rounds, repeat=args.repeat,
                               bandwidth_mib=args.bandwidth_mib or None,
                               # torch measures it best, but not when told to stay out
                               bandwidth_method="torch" if "torch" in impls else "numpy",
                               progress=_say, verbose=args.verbose)
    linear = None
    if args.linear:
        linear = runner.run_linear(args.linear, [i for i in impls
                                                 if i in ("fastsoftmax", "torch", "numpy")],
                                   dtype=args.dtype, threads=threads, rounds=args.rounds,
                                   progress=_say)
    memory = None
    if getattr(args, "memory", False):
        memory = runner.run_memory(args.ops, args.shapes, impls, dtype=args.dtype,
                                   threads=threads, progress=_say)
    return {
        "format": report.FORMAT, "machine": info,
        "method": {"rounds": args.rounds, "order": impls, "statistic": report.STATISTIC,
                   "process": "one fresh process per implementation and round",
                   "threads": {name: registry.IMPLEMENTATIONS[name].thread_note.format(
                       n=threads) for name in impls
                       if registry.IMPLEMENTATIONS[name].thread_note}},
        "settings": {"ops": list(args.ops), "shapes": [list(s) for s in args.shapes],
                     "dtype": args.dtype, "threads": threads, "repeat": args.repeat},
        "bandwidth": matrix["bandwidth"], "results": matrix["results"], "linear": linear,
        "memory": memory,
        "elapsed_s": time.perf_counter() - start,
    }


def run(args: argparse.Namespace) -> int:
    """The ``bench`` command; returns the exit status (1 if a fastsoftmax
    result disagreed with the reference)."""
    if args.compare:
        a, b = (report.read_json(path) for path in args.compare)
        print(report.format_comparison(a, b, args.compare))
        return 0
    if args.plot:
        try:  # fail now, not after minutes of measuring
            import matplotlib  # noqa: F401
        except ImportError:
            _say("error: --plot needs matplotlib, which is not installed "
                 "(pip install matplotlib)")
            return 2
    if args.from_json:
        doc = report.read_json(args.from_json)
        print(report.format_machine(doc["machine"]))
    else:
        doc = measure(args)
    print(report.format_method(doc["method"]))
    print(report.format_bandwidth(doc["bandwidth"]))
    print(report.format_legend(doc["settings"]["dtype"]))
    print(report.format_table(doc))
    if doc.get("linear"):
        print()
        print(report.format_linear_table(doc["linear"]))
    if doc.get("memory"):
        print()
        print(report.format_memory_table(doc["memory"]))
    if args.json:
        report.write_json(args.json, doc)
        _say(f"wrote {args.json}")
    if args.plot:
        report.plot(doc, args.plot)
        _say(f"wrote {args.plot}")
    if not args.from_json:
        _say(f"done in {doc['elapsed_s']:.1f} s")
    mismatches = [r for r in doc["results"] if r["agrees_with_reference"] is False]
    if mismatches:
        _say("error: fastsoftmax disagrees with the reference (fastsoftmax.slow) on: "
             + ", ".join(f"{r['op']} {inputs.format_shape(r['shape'])}" for r in mismatches))
        return 1
    return 0
