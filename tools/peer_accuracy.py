"""How accurate each benchmarked library's softmax family is, in float32.

The benchmark compares times; a library may be faster because it computes
less carefully.  This tool runs the bench's own bindings (the same calls it
times) on seeded float32 logits at several scales and prints, per library
and op, the largest relative error against a float64 computation:

    python tools/peer_accuracy.py                       # every installed library
    python tools/peer_accuracy.py --impls fastsoftmax,numpy --shape 200x100

Relative errors are taken where the float64 result is a normal float32 number
(softmax: probabilities that do not underflow; log_softmax and logsumexp:
values of magnitude at least 1e-30, so the max element's small negative
log-probability counts).  fastsoftmax's own bound is 1e-6 (its tests).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from fastsoftmax._bench import registry

OPS = ("softmax", "log_softmax", "logsumexp")


def references(x: np.ndarray) -> dict[str, np.ndarray]:
    """float64 softmax, log_softmax and logsumexp of the rows of ``x``: the
    max term apart, so that log1p keeps the others' small sum."""
    xd = x.astype(np.float64)
    m = xd.max(axis=-1, keepdims=True)
    e = np.exp(xd - m)
    total = e.sum(axis=-1, keepdims=True)
    top = xd == m
    # the sum of the terms below the max, and of the max terms but one
    rest = np.where(top, 0.0, e).sum(axis=-1, keepdims=True) + (top.sum(axis=-1, keepdims=True) - 1)
    log_total = np.log1p(rest)
    return {"softmax": e / total, "log_softmax": (xd - m) - log_total,
            "logsumexp": (m + log_total)[..., 0]}


def max_relative_error(got: np.ndarray, ref: np.ndarray, op: str) -> float:
    got = np.asarray(got, dtype=np.float64).reshape(ref.shape)
    if op == "softmax":
        keep = ref >= np.finfo(np.float32).tiny
    else:
        keep = np.abs(ref) >= 1e-30
    err = np.abs(got - ref)[keep] / np.abs(ref[keep])
    return float(err.max()) if err.size else 0.0


def as_numpy(result: object) -> np.ndarray:
    """A library's result (array, tensor, tuple of one) as a NumPy array."""
    if isinstance(result, (tuple, list)):
        result = result[0]
    numpy = getattr(result, "numpy", None)   # torch tensors
    return np.asarray(numpy() if callable(numpy) and not isinstance(result, np.ndarray)
                      else result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", default=None,
                        help="comma-separated library names (default: every installed one)")
    parser.add_argument("--shape", default="2000x1000", help="rows x classes (default 2000x1000)")
    parser.add_argument("--scales", default="1,5,20",
                        help="standard deviations of the logits (default 1,5,20)")
    args = parser.parse_args(argv)
    rows, cols = (int(v) for v in args.shape.lower().split("x"))
    names = args.impls.split(",") if args.impls else [
        n for n in registry.IMPLEMENTATIONS if registry.available(n)]
    scales = [float(s) for s in args.scales.split(",")]
    print(f"float32 logits {rows}x{cols}, standard normal times each scale; "
          "max relative error against float64")
    print(f"{'library':<16} {'op':<12} " + " ".join(f"{'scale ' + format(s, 'g'):>11}"
                                                   for s in scales))
    rng = np.random.default_rng(0)
    inputs = [(s * rng.standard_normal((rows, cols))).astype(np.float32) for s in scales]
    refs = [references(x) for x in inputs]
    for name in names:
        for op in OPS:
            cells = []
            for x, ref in zip(inputs, refs):
                run = registry.bind(op, name, (x,))
                cells.append("-" if run is None else
                             f"{max_relative_error(as_numpy(run()), ref[op], op):.1e}")
            if any(c != "-" for c in cells):
                print(f"{name:<16} {op:<12} " + " ".join(f"{c:>11}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
