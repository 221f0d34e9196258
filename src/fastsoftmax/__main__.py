"""Command line: ``python -m fastsoftmax {bench,config}``.

``bench`` times fastsoftmax against NumPy (and torch / SciPy when installed),
see :mod:`fastsoftmax._bench.cli`; ``config`` prints how this build was
compiled.  Without a command, the help is printed.
"""
from __future__ import annotations

import argparse
import sys

import fastsoftmax


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m fastsoftmax``."""
    from ._bench import cli

    parser = argparse.ArgumentParser(prog="python -m fastsoftmax",
                                     description="fastsoftmax command line tools.",
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"fastsoftmax {fastsoftmax.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("config", help="print version, OpenMP, threads and SIMD ISA",
                   description="Print the version, OpenMP support, default thread count "
                               "and the SIMD instruction sets of this build.",
                   formatter_class=cli.HelpFormatter)
    bench = sub.add_parser("bench",
                           help="benchmark against NumPy, torch, SciPy, onnxruntime and JAX",
                           description=cli.DESCRIPTION, formatter_class=cli.HelpFormatter)
    cli.add_arguments(bench)
    return parser


def cmd_config() -> int:
    """Print the build configuration."""
    import numpy as np

    from . import _core
    print(f"fastsoftmax {fastsoftmax.__version__}")
    print(f"numpy {np.__version__}")
    print(f"openmp_enabled: {fastsoftmax.openmp_enabled()}")
    print(f"num_threads: {fastsoftmax.get_num_threads()}")
    print(f"isa_selected: {_core.isa_selected()}")
    print(f"isa_compiled: {_core.isa_compiled()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (no command: the help, status 0)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config":
        return cmd_config()
    if args.command == "bench":
        from ._bench import cli
        return cli.run(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
