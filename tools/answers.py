"""Record and compare the exact answers of the public API.

A refactoring must not change a single bit of any result.  This tool
records, for every call of a public function, a digest of its inputs and a
digest of its outputs; two recordings made before and after a change are
then compared on the calls they share.

Two sources of calls:

``python tools/answers.py matrix OUT.json``
    every public function over the benchmark matrix of shapes, both float
    dtypes and the options of each function (a few minutes);
``python -m pytest -p answers_plugin --answers OUT.json`` (with ``tools/`` on
    ``PYTHONPATH``)
    every call the test suite makes to a public function, keyed by the
    digest of its arguments, so tests may be moved or renamed in between.

``python tools/answers.py compare BEFORE.json AFTER.json`` prints how many
calls were compared and every one whose result differs (exit status 1 if
any does, 2 if the recordings share no call).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any

import numpy as np


# x87 long double: 10 bytes of value in 12 or 16 bytes of storage, the rest
# uninitialised padding that must not enter a digest
_LD_VALUE_BYTES = 10 if np.finfo(np.longdouble).nmant == 63 else None


def _value_bytes(a: np.ndarray) -> bytes:
    if _LD_VALUE_BYTES and a.dtype.kind in "fc" and a.dtype.type in (np.longdouble,
                                                                      np.clongdouble):
        size = a.dtype.itemsize // (2 if a.dtype.kind == "c" else 1)
        raw = a.reshape(-1).view(np.uint8).reshape(-1, size)
        return np.ascontiguousarray(raw[:, :_LD_VALUE_BYTES]).tobytes()
    return a.tobytes()


def _feed(h: Any, value: Any) -> None:
    """Hash ``value`` into ``h``: arrays by dtype, shape and bytes."""
    if isinstance(value, np.ndarray) or np.isscalar(value) and isinstance(value, np.generic):
        a = np.asarray(value)
        h.update(f"a{a.dtype.str}{a.shape}".encode())
        h.update(_value_bytes(np.ascontiguousarray(a)))
    elif isinstance(value, (tuple, list)):
        h.update(f"s{type(value).__name__}{len(value)}".encode())
        for v in value:
            _feed(h, v)
    elif isinstance(value, dict):
        h.update(b"d")
        for k in sorted(value):
            h.update(str(k).encode())
            _feed(h, value[k])
    elif value is None or isinstance(value, (bool, int, float, str, complex)):
        h.update(f"p{type(value).__name__}{value!r}".encode())
    else:
        try:
            a = np.asarray(value)
        except Exception:
            a = None
        if a is not None and a.dtype != object:
            _feed(h, a)
        else:
            h.update(f"o{type(value).__name__}".encode())


def digest(*values: Any) -> str:
    h = hashlib.sha256()
    for v in values:
        _feed(h, v)
    return h.hexdigest()[:32]


def input_key(name: str, args: tuple, kwargs: dict) -> str:
    # thread counts never change an answer: leave them out of the key so that
    # a recording with other thread settings still matches
    kw = {k: v for k, v in kwargs.items() if k != "num_threads"}
    return f"{name}:{digest(args, kw)}"


class Recorder:
    def __init__(self) -> None:
        self.results: dict[str, str] = {}

    def call(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        key = input_key(name, args, kwargs)   # before the call: out= may alias an input
        try:
            res = fn(*args, **kwargs)
        except Exception as exc:  # the exception type is an answer too
            self.results[key] = f"raise {type(exc).__name__}"
            raise
        outs = [kwargs[k] for k in ("out", "grad_out", "gradient_out", "hessian_out")
                if kwargs.get(k) is not None]
        self.results[key] = digest(res, outs)
        return res

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.results, f, indent=0, sort_keys=True)


# ------------------------------------------------------------------- matrix

SHAPES = [(8, 10), (1000000, 10), (200000, 100), (20000, 1000), (2048, 32000),
          (32, 256000), (3, 7), (5, 2049), (2, 100003)]


def _matrix(rec: Recorder, quick: bool) -> None:
    import fastsoftmax as fs
    import fastsoftmax.scipy as fss

    rng = np.random.default_rng(0)
    shapes = [s for s in SHAPES if not quick or s[0] * s[1] <= 1 << 20]
    for shape in shapes:
        n, c = shape
        for dtype in (np.float32, np.float64):
            x = (rng.standard_normal(shape) * 3).astype(dtype)
            y = rng.integers(0, c, n)
            y[::7] = -100
            p = rng.random(shape).astype(dtype)
            p /= p.sum(axis=1, keepdims=True)
            w = rng.random(c).astype(dtype) + 0.5
            for f in ("softmax", "log_softmax"):
                rec.call(f, getattr(fs, f), x)
                rec.call(f, getattr(fs, f), x, axis=0)
                if n * c <= 1 << 22:
                    rec.call(f, getattr(fs, f), x, where=x > -1)
                    rec.call(f, getattr(fs, f), x, temperature=0.7)
                rec.call("scipy." + f, getattr(fss, f), x, axis=1)
            rec.call("logsumexp", fs.logsumexp, x)
            rec.call("logsumexp", fs.logsumexp, x, axis=0)
            rec.call("scipy.logsumexp", fss.logsumexp, x, axis=1)
            for red in ("mean", "sum", "none"):
                rec.call("cross_entropy", fs.cross_entropy, x, y, reduction=red)
                rec.call("cross_entropy_and_grad", fs.cross_entropy_and_grad, x, y,
                         reduction=red)
                rec.call("cross_entropy", fs.cross_entropy, x, p, reduction=red)
            options = [dict(weight=w), dict(label_smoothing=0.1), dict(z_loss=1e-3),
                       dict(weight=w, label_smoothing=0.2, z_loss=1e-4)]
            if n * c <= 1 << 22:
                options.append(dict(softcap=5.0))
                options.append(dict(softcap=5.0, weight=w, label_smoothing=0.1))
            for kw in options:
                rec.call("cross_entropy_and_grad", fs.cross_entropy_and_grad, x, y, **kw)
                rec.call("cross_entropy_and_grad", fs.cross_entropy_and_grad, x, p,
                         **{k: v for k, v in kw.items()})
            if n * c <= 1 << 22:
                t = (rng.random(shape) > 0.5).astype(dtype)
                rec.call("sigmoid", fs.sigmoid, x)
                rec.call("log_sigmoid", fs.log_sigmoid, x)
                rec.call("bce_logits", fs.binary_cross_entropy_with_logits_and_grad, x, t)
                rec.call("bce", fs.binary_cross_entropy_and_grad, fs.sigmoid(x), t)
                rec.call("nll_loss", fs.nll_loss, fs.log_softmax(x), y)
        if n * c <= 1 << 20 and c <= 4096:
            d = 16
            h = rng.standard_normal((n, d)).astype(np.float32)
            wt = rng.standard_normal((c, d)).astype(np.float32)
            yy = rng.integers(0, c, n)
            rec.call("linear_cross_entropy", fs.linear_cross_entropy, h, wt, yy)
            rec.call("linear_cross_entropy_and_grad", fs.linear_cross_entropy_and_grad,
                     h, wt, yy, label_smoothing=0.1, z_loss=1e-4)
            rec.call("linear_cross_entropy_and_grad", fs.linear_cross_entropy_and_grad,
                     h, wt, yy, softcap=4.0, chunk_size=max(1, c // 3))
        print(f"  {shape} done", file=sys.stderr)


def _compare(a_path: str, b_path: str) -> int:
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    common = sorted(set(a) & set(b))
    diff = [k for k in common if a[k] != b[k]]
    print(f"{len(common)} calls compared ({len(a)} in {a_path}, {len(b)} in {b_path}); "
          f"{len(diff)} differ")
    for k in diff[:50]:
        print(f"  {k}: {a[k]} -> {b[k]}")
    if not common:
        return 2
    return 1 if diff else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("matrix", help="record the benchmark matrix")
    m.add_argument("out")
    m.add_argument("--quick", action="store_true", help="shapes up to 1M elements only")
    c = sub.add_parser("compare", help="compare two recordings")
    c.add_argument("before")
    c.add_argument("after")
    args = ap.parse_args(argv)
    if args.cmd == "compare":
        return _compare(args.before, args.after)
    rec = Recorder()
    _matrix(rec, args.quick)
    rec.save(args.out)
    print(f"{len(rec.results)} calls recorded in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
