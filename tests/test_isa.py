"""Every compiled ISA level (FASTSOFTMAX_ISA=avx512|avx2|baseline, one child
interpreter each): accuracy against the reference ``fastsoftmax.slow``
(computed on float64 copies) and SciPy, special values, bitwise equality
across thread counts within the level.  Levels the CPU (or the build) lacks
are skipped.  Results of different levels are not compared bitwise (FMA
contraction and vector widths differ), only each against the references."""
from __future__ import annotations

import base64
import pickle

import numpy as np
import pytest
import scipy.special as sp

from fastsoftmax import slow
from _subproc import run_python

LEVELS = {"avx512": "x86-64-v4", "avx2": "x86-64-v3", "baseline": "baseline"}

CHILD = r'''
import base64, os, pickle, sys, warnings
import numpy as np
warnings.simplefilter("error")
import fastsoftmax as fs
from fastsoftmax import _core
from fastsoftmax.losses import cross_entropy
rng = np.random.default_rng(7)
inf, nan = np.inf, np.nan
res = {"isa": _core.isa_selected(), "cases": [],
       "thread_fail": []}
shapes = [(1, 1), (7, 3), (50, 8), (41, 9), (33, 15), (64, 16), (31, 17), (9, 31), (12, 100),
          (5, 1000), (3, 2049), (2, 40000), (1000, 10)]
for dt in (np.float32, np.float64):
    for shape in shapes:
        x = (rng.standard_normal(shape) * 5).astype(dt)
        # special values in some rows (short-row chunk fallback and general path)
        sp_x = x.copy()
        if shape[0] >= 4:
            sp_x[0, 0] = nan
            sp_x[1, -1] = inf
            sp_x[2, :] = -inf
            sp_x[3, 0] = -inf
        for xx in (x, sp_x):
            for op in ("softmax", "log_softmax", "logsumexp"):
                f = getattr(fs, op)
                with np.errstate(all="ignore"):
                    r1 = f(xx, num_threads=1)
                    for nt in (2, 3):
                        if not np.array_equal(r1, f(xx, num_threads=nt), equal_nan=True):
                            res["thread_fail"].append((op, shape, dt.__name__, nt))
                res["cases"].append((op, xx, r1))
            t = rng.integers(0, shape[1], shape[0])
            with np.errstate(all="ignore"):
                l1 = cross_entropy(xx, t, reduction="none", num_threads=1)
                if not np.array_equal(l1, cross_entropy(xx, t, reduction="none", num_threads=2),
                                      equal_nan=True):
                    res["thread_fail"].append(("ce", shape, dt.__name__, 2))
            res["cases"].append(("ce", (xx, t), l1))
sys.stdout.write("RESULT " + base64.b64encode(pickle.dumps(res)).decode() + "\n")
'''


def _check(got, want, tol, what, floor=1e-300):
    got = np.asarray(got, np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want)), what
    nf = ~np.isfinite(want)
    assert np.array_equal(got[nf & ~np.isnan(want)], want[nf & ~np.isnan(want)]), what
    fin = np.isfinite(want) & (np.abs(want) > 1e-30)
    if fin.any():
        err = np.max(np.abs(got[fin] - want[fin]) / np.maximum(np.abs(want[fin]), floor))
        assert err <= tol, (what, err)


@pytest.mark.parametrize("level", list(LEVELS))
def test_isa_level(level):
    p = run_python(CHILD, timeout=300, env={"FASTSOFTMAX_ISA": level})
    if p.returncode != 0:
        if "RuntimeWarning" in p.stderr and "not available" in p.stderr:
            pytest.skip(f"{level} not available on this CPU / build")
        raise AssertionError(p.stderr[-3000:])
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    res = pickle.loads(base64.b64decode(line[7:]))
    assert res["isa"].startswith(LEVELS[level]), res["isa"]
    assert not res["thread_fail"], res["thread_fail"]
    for op, x, got in res["cases"]:
        if op == "ce":
            xx, t = x
            tol = 1e-5 if xx.dtype == np.float32 else 1e-12
            want = slow.cross_entropy(xx.astype(np.float64), t, reduction="none")
            # loss = lse - x[y] cancels: relative to max(|loss|, 1)
            _check(got, want, tol, (level, op, xx.shape, xx.dtype), floor=1.0)
            continue
        tol = 1e-6 if x.dtype == np.float32 else 1e-13
        want = getattr(slow, op)(x.astype(np.float64))
        if op == "logsumexp" and x.dtype == np.float32:
            # relative to max(|lse|, 1), as tools/check.py
            fin = np.isfinite(want)
            assert np.all(np.abs(got[fin] - want[fin]) <= tol * np.maximum(np.abs(want[fin]), 1)), (
                level, op, x.shape)
            _check(np.where(fin, want, got), want, tol, (level, op, x.shape, x.dtype))
        else:
            _check(got, want, tol, (level, op, x.shape, x.dtype))
        if x.dtype == np.float64 and op == "logsumexp":
            with np.errstate(all="ignore"):
                _check(got, sp.logsumexp(x, axis=-1), 1e-13, (level, op, "scipy", x.shape))


def test_unknown_isa_name_warns():
    p = run_python("import warnings; warnings.simplefilter('error'); import fastsoftmax",
                   env={"FASTSOFTMAX_ISA": "sse9"})
    assert p.returncode != 0 and "not one of avx512, avx2, baseline" in p.stderr
    p = run_python("import fastsoftmax; from fastsoftmax import _core; "
                   "print(_core.isa_selected())", env={"FASTSOFTMAX_ISA": "sse9"})
    assert p.returncode == 0, p.stderr
