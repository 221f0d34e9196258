"""Bad and unusual input for linear_cross_entropy(_and_grad).

``linear_cross_entropy(hidden, weight, target)`` never forms the logits
``hidden @ weight.T + bias``; its answer is the reference
(``fastsoftmax.slow``: the cross-entropy of those logits and its gradients
with respect to hidden, weight and bias) for special values, every dtype and
layout, empty and degenerate shapes and every option, and a clear exception
for bad arguments; no input is written.  The table runs in a child
interpreter (``_runner``); thread counts are in test_thread_counts.py.
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (FAMILIES, REF, Raises, collector, hidden, inf, labels, layout,
                              linear_args, nan, table_of, weight)
from bad_input._sample_weight_cases import sample_weight_cases
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_linear"]


def linear_cases(fname):
    """hidden, weight, bias and target of every kind, and the options
    (reduction, label_smoothing, z_loss, softcap, ignore_index, chunk_size)."""
    cases, add = collector(fname, "")

    def hval(i, j, v):
        def b():
            h = hidden()
            h[i, j] = v
            return linear_args(h)
        return b
    add("hidden/nan", hval(2, 1, nan), REF)
    add("hidden/posinf", hval(1, 3, inf), REF)
    add("hidden/huge", lambda: linear_args(hidden() * 1e150), REF)
    add("hidden/tiny", lambda: linear_args(hidden() * 1e-310), REF)
    add("hidden/empty_rows", lambda: linear_args(np.zeros((0, 4))), REF)
    # (a regression test: 0 features raised "cannot reshape array of size 0")
    add("hidden/zero_features", lambda: linear_args(np.zeros((6, 0)), np.zeros((5, 0))), REF)
    add("hidden/ndim3", lambda: linear_args(hidden((2, 3, 4))), REF)
    add("hidden/one_dim", lambda: linear_args(hidden((4,)), t=np.int64(2)), REF)
    add("hidden/list", lambda: linear_args([[0.5, 1.0, -1.0, 2.0]] * 3), REF)
    for dt in (np.float32, np.float16):
        add(f"hidden/{np.dtype(dt).name}",
            lambda dt=dt: linear_args(hidden(dtype=dt), weight(dtype=dt)), REF)
    add("hidden/float32_weight_float64", lambda: linear_args(hidden(dtype=np.float32)), REF)
    add("hidden/int", lambda: linear_args(np.arange(24).reshape(6, 4) % 3), REF)
    add("hidden/zero_d", lambda: linear_args(np.float64(1.0), t=np.int64(0)),
        Raises(ValueError, r"hidden must have at least one dimension"))
    add("hidden/complex", lambda: linear_args(np.ones((6, 4), complex)),
        Raises(TypeError, r"hidden must have a real numeric dtype, got complex128"))
    add("hidden/strings", lambda: linear_args(np.full((6, 4), "a")),
        Raises(TypeError, r"hidden must have a real numeric dtype, got <U1"))
    add("hidden/masked", lambda: linear_args(np.ma.ones((6, 4))),
        Raises(TypeError, r"hidden: masked arrays are not supported"))
    if np.dtype(np.longdouble).itemsize > 8:
        add("hidden/longdouble", lambda: linear_args(np.ones((6, 4), np.longdouble)),
            Raises(TypeError, r"hidden has dtype float128, which is not supported"))
    for kind in ("F", "strided", "negative", "readonly", "byteswapped", "unaligned",
                 "memmap", "broadcast"):
        add(f"layout/hidden-{kind}", lambda kind=kind: linear_args(layout(hidden(), kind)), REF)
        add(f"layout/weight-{kind}", lambda kind=kind: linear_args(w=layout(weight(), kind)), REF)
    add("layout/target-byteswapped", lambda: linear_args(t=labels((6,), 5).astype(">i8")), REF)
    add("weight/one_dim", lambda: linear_args(w=np.ones(4)),
        Raises(ValueError, r"weight must be 2-D \(vocabulary, features\), got shape \(4,\)"))
    add("weight/features_mismatch", lambda: linear_args(w=weight((5, 3))),
        Raises(ValueError, r"hidden has 4 features but weight has shape \(5, 3\) "
                           r"\(expected \(V, 4\)\)"))
    add("weight/empty_vocabulary", lambda: linear_args(w=np.zeros((0, 4)), t=np.full(6, -100)),
        Raises(ValueError, r"weight has no rows: the vocabulary is empty"))
    add("weight/strings", lambda: linear_args(w=np.full((5, 4), "a")),
        Raises(TypeError, r"weight must have a real numeric dtype, got <U1"))
    add("weight/nan", lambda: linear_args(w=np.where(np.eye(5, 4) > 0, nan, weight())), REF)
    add("bias/ok", lambda: linear_args(bias=np.linspace(-1, 1, 5)), REF)
    add("bias/wrong_shape", lambda: linear_args(bias=np.ones(4)),
        Raises(ValueError, r"bias must have shape \(5,\), got \(4,\)"))
    add("bias/complex", lambda: linear_args(bias=np.ones(5, complex)),
        Raises(TypeError, r"bias must have a real numeric dtype, got complex128"))
    add("target/out_of_range", lambda: linear_args(t=np.array([0, 1, 5, 2, 3, 4])),
        Raises(IndexError, r"target\[2\] = 5 is not a class index in \[0, 5\) and not "
                           r"ignore_index \(-100\)"))
    add("target/negative", lambda: linear_args(t=np.array([0, 1, -1, 2, 3, 4])),
        Raises(IndexError, r"target\[2\] = -1 is not a class index"))
    add("target/float", lambda: linear_args(t=np.zeros(6)),
        Raises(TypeError, r"target must hold integer class indices, got dtype float64"))
    add("target/bool", lambda: linear_args(t=np.zeros(6, bool)),
        Raises(TypeError, r"target must hold integer class indices, got dtype bool"))
    add("target/wrong_shape", lambda: linear_args(t=np.zeros(5, np.int64)),
        Raises(ValueError, r"target has shape \(5,\), expected \(6,\)"))
    add("target/uint8", lambda: linear_args(t=labels((6,), 5, np.uint8)), REF)
    add("target/ignored", lambda: linear_args(t=np.array([0, -100, 4, -100, 3, 4])), REF)
    add("target/all_ignored", lambda: linear_args(t=np.full(6, -100)), REF)
    for r in ("none", "sum"):
        add(f"args/reduction_{r}", lambda r=r: linear_args(reduction=r), REF)
    add("args/reduction_unknown", lambda: linear_args(reduction="avg"),
        Raises(ValueError, r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"))
    add("args/label_smoothing_bad", lambda: linear_args(label_smoothing=2.0),
        Raises(ValueError, r"label_smoothing must be in \[0, 1\], got 2.0"))
    add("args/z_loss_bad", lambda: linear_args(z_loss=-1.0),
        Raises(ValueError, r"z_loss must be finite and >= 0"))
    add("args/softcap_bad", lambda: linear_args(softcap=0.0),
        Raises(ValueError, r"softcap must be finite and > 0"))
    add("args/ignore_index_bad", lambda: linear_args(ignore_index=0.5),
        Raises(TypeError, r"ignore_index must be an integer, got 0.5"))
    add("args/chunk_size_zero", lambda: linear_args(chunk_size=0),
        Raises(ValueError, r"chunk_size must be a positive integer or None, got 0"))
    add("args/chunk_size_float", lambda: linear_args(chunk_size=2.5),
        Raises(TypeError, r"chunk_size must be an integer, got 2.5"))
    for cs in (1, 2, 5, 10 ** 9):
        add(f"args/chunk_size_{cs}", lambda cs=cs: linear_args(
            chunk_size=cs, label_smoothing=0.1, bias=np.linspace(-1, 1, 5),
            t=np.array([0, -100, 4, 2, 3, 4])), REF)
    add("args/everything_tiled", lambda: linear_args(
        chunk_size=2, label_smoothing=0.2, z_loss=1e-2, softcap=1.5,
        bias=np.linspace(-1, 1, 5), t=np.array([0, -100, 4, 2, 3, 4]), reduction="mean"), REF)
    add("args/everything_whole", lambda: linear_args(
        label_smoothing=0.2, z_loss=1e-2, softcap=1.5, bias=np.linspace(-1, 1, 5),
        t=np.array([0, -100, 4, 2, 3, 4]), reduction="none"), REF)
    return cases


CASES = table_of(FUNCTIONS, linear_cases, sample_weight_cases)
