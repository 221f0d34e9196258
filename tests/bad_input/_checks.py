"""How an outcome of the bad-input matrix is judged against its case.

The child interpreter (``_runner``) sends back, for each case, what the call
returned or raised and copies of its inputs taken before the call; here, in
the pytest process, :func:`check_outcome` checks that no input was written,
that a crash is reported as one, and the expectation: the exception and its
message, or the reference answer -- ``fastsoftmax.slow`` called with the
same (copied) arguments -- to the rounding of the result dtype, the identity
of an ``out=`` / ``grad_out=`` result, and bitwise layout independence.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import assert_matches_reference, assert_same
from bad_input._cases import Raises, RefOrRaises

# Per result dtype: (rtol, atol) of a finite value against the reference.
TOL = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (2e-5, 2e-6),
       np.dtype(np.float16): (3e-3, 1e-3)}


def call_arguments(rec):
    """(args, kwargs) of the call, from the pre-call copies the child sent."""
    inputs = rec["inputs"]
    args = [inputs[f"arg{i}"] for i in range(rec["nargs"])]
    kwargs = {k: v for k, v in inputs.items() if not k.startswith("arg")}
    return args, kwargs


def reference(case, rec):
    """The reference answer of the call: ``fastsoftmax.slow.<fname>`` with the
    same arguments (an ``out=`` / ``grad_out=`` buffer left out: it only says
    where the answer goes)."""
    args, kwargs = call_arguments(rec)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("out", "grad_out")}
    with np.errstate(all="ignore"):
        return getattr(slow, case.fname)(*args, **kwargs)


def check_reference(case, rec):
    want = reference(case, rec)
    got = rec["result"]
    if case.fname.endswith("_and_grad"):
        assert isinstance(got, tuple) and len(got) == len(want), (
            f"expected a tuple of {len(want)} (loss, gradients), got {got!r}")
        parts = [("loss" if i == 0 else f"gradient {i}", g, w)
                 for i, (g, w) in enumerate(zip(got, want))]
    elif isinstance(want, tuple):   # (gradient, hessian)
        assert isinstance(got, tuple) and len(got) == len(want), (
            f"expected a tuple of {len(want)}, got {got!r}")
        parts = [(f"result {i}", g, w) for i, (g, w) in enumerate(zip(got, want))]
    else:
        parts = [("result", got, want)]
    for what, g, w in parts:
        rtol, atol = TOL[np.asarray(w).dtype]
        assert_matches_reference(g, w, rtol=rtol, atol=atol, what=what)
    exp = case.expect.ref if isinstance(case.expect, RefOrRaises) else case.expect
    if exp.returns:
        path = "1" if case.fname.endswith("_and_grad") else ""
        assert rec["identity"].get(path) == exp.returns, (
            f"the result is not the {exp.returns} array passed in ({rec['identity']})")
    if exp.bitwise:
        check_bitwise(case, rec)


def _contiguous_copy(v):
    if isinstance(v, np.ndarray):
        return np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("="))
    return v


def check_bitwise(case, rec):
    """The compiled result equals the same call on C-contiguous native
    copies (run here, in-process: that is the ordinary, well-tested path)."""
    inputs = rec["inputs"]
    args = [_contiguous_copy(inputs[f"arg{i}"]) for i in range(rec["nargs"])]
    kwargs = {k: _contiguous_copy(v) for k, v in inputs.items()
              if not k.startswith("arg") and k not in ("out", "grad_out", "num_threads")}
    plain = getattr(fs, case.fname)(*args, **kwargs)
    got = rec["result"]
    if isinstance(plain, tuple):
        for g, p in zip(got, plain):
            assert_same(g, p)
    else:
        assert_same(got, plain)


def check_raises(expected, rec):
    excs = expected.exc if isinstance(expected.exc, tuple) else (expected.exc,)
    names = [e.__name__ for e in excs]
    assert rec["status"] == "raised", (
        f"expected {'/'.join(names)} matching {expected.pattern!r}, but the call returned "
        f"{rec.get('result')!r}")
    assert any(n in rec["mro"] for n in names), (
        f"expected {'/'.join(names)}, got {rec['type']}: {rec['message']}")
    assert re.search(expected.pattern, rec["message"]), (
        f"{rec['type']} message {rec['message']!r} does not match {expected.pattern!r}")


def check_outcome(case, outcomes):
    """The whole verdict on one case, from the outcomes of its table."""
    rec = outcomes.get(case.id)
    assert rec is not None, f"{case.id}: no outcome (the runner lost it)"
    if rec["status"] == "crashed":
        pytest.fail(f"{case.id} CRASHED the interpreter ({rec['how']}); stderr tail:\n"
                    f"{rec['stderr']}", pytrace=False)
    # never write to an input (out= / grad_out= aside, and the declared aliases)
    written = [k for k in rec["modified"] if k not in ("out", "grad_out") + case.mutable]
    assert not written, f"{case.id}: the call wrote to its input(s) {written}"
    exp = case.expect
    if isinstance(exp, Raises):
        check_raises(exp, rec)
    elif isinstance(exp, RefOrRaises):
        if rec["status"] == "raised":
            check_raises(exp.raises, rec)
        else:
            check_reference(case, rec)
    else:
        assert rec["status"] == "returned", (
            f"expected the reference answer, got {rec['type']}: {rec['message']}")
        check_reference(case, rec)


def case_params(cases):
    """pytest parameters, one per case (id = case id; a known bug: strict xfail)."""
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)]
                         if c.bug else []) for c in cases]


def check_family_covered(cases, functions):
    """The table has cases for exactly these functions."""
    assert {c.fname for c in cases} == set(functions)
