"""The sample_weight= cases of the loss tables (cross-entropy, binary and
linear families): wrong shapes (no broadcasting), non-finite values, wrong
dtypes and kinds, and the accepted ones (negative, integer, bool, lists, all
zeros, every memory layout), each against the reference or a clear error
naming ``sample_weight``."""
from __future__ import annotations

import re

import numpy as np

from bad_input._cases import (BCE_FAMILY, BCEL_FAMILY, BITWISE, CE_FAMILY, LINEAR_FAMILY, REF,
                              Raises, collector, inf, layout, linear_args, nan, small)

_SHAPE = {True: (6, 5), False: (6,)}   # per sample (binary: per element) weights


def _builder(fname, sw):
    """A small valid call of ``fname`` with ``sample_weight=sw()``."""
    if fname in LINEAR_FAMILY:
        return lambda: linear_args(sample_weight=sw())
    return lambda: small(fname, sample_weight=sw())()


def sample_weight_cases(fname):
    """sample_weight= of one loss."""
    cases, add = collector(fname, "args/")
    elementwise = fname in BCE_FAMILY + BCEL_FAMILY
    shape = _SHAPE[elementwise]
    base = np.linspace(0.25, 2.0, int(np.prod(shape))).reshape(shape)

    def wrong(got):
        return Raises(ValueError, re.escape(f"sample_weight has shape {got}, expected {shape} ("))
    bad_shapes = {"longer": shape[:-1] + (shape[-1] + 1,), "broadcastable": shape[:-1] + (1,),
                  "scalar": (), "extra_axis": shape + (1,)}
    if elementwise:
        bad_shapes["transposed"] = shape[::-1]
    for what, sh in bad_shapes.items():
        add(f"sample_weight_{what}", _builder(fname, lambda sh=sh: np.ones(sh)), wrong(sh))
    finite = Raises(ValueError, r"sample_weight must be finite \(no NaN or inf\)")
    for what, v in (("nan", nan), ("posinf", inf), ("neginf", -inf)):
        def sw(v=v):
            s = base.copy()
            s.reshape(-1)[1] = v
            return s
        add(f"sample_weight_{what}", _builder(fname, sw), finite)
    for what, arr, dt in (("complex", np.ones(shape, complex), "complex128"),
                          ("strings", np.full(shape, "a"), "<U1"),
                          ("objects", np.full(shape, None), "object")):
        add(f"sample_weight_{what}", _builder(fname, lambda arr=arr: arr.copy()),
            Raises(TypeError, rf"sample_weight must be real numbers, got dtype {dt}"))
    add("sample_weight_masked", _builder(fname, lambda: np.ma.ones(shape)),
        Raises(TypeError, r"sample_weight: masked arrays are not supported"))
    add("sample_weight_ok", _builder(fname, lambda: base.copy()), REF)
    add("sample_weight_negative", _builder(fname, lambda: base - 1.0), REF)
    add("sample_weight_zeros", _builder(fname, lambda: np.zeros(shape)), REF)
    add("sample_weight_int", _builder(fname, lambda: np.arange(np.prod(shape)).reshape(shape)),
        REF)
    add("sample_weight_bool", _builder(fname, lambda: base > 1.0), REF)
    add("sample_weight_list", _builder(fname, lambda: base.tolist()), REF)
    compiled = fname in CE_FAMILY + LINEAR_FAMILY
    for kind in ("F", "strided", "negative", "readonly", "byteswapped", "unaligned", "memmap"):
        add(f"sample_weight_layout_{kind}", _builder(fname, lambda kind=kind: layout(base, kind)),
            BITWISE if compiled else REF)
    return cases
