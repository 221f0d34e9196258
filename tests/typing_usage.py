"""Typical uses of fastsoftmax's public API, type-checked by ``mypy --strict``
in tests/test_typing.py (and run, so that the file itself stays valid code).

``assert_type`` makes mypy check the inferred types exactly; at run time it
returns its argument unchanged.  Not collected by pytest (no test_ prefix).
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import fastsoftmax as fs
from fastsoftmax import scipy as special, slow

x32: npt.NDArray[np.float32] = np.ones((4, 10), dtype=np.float32)
x64: npt.NDArray[np.float64] = np.ones((4, 10))
labels: npt.NDArray[np.int64] = np.zeros(4, dtype=np.int64)
ints: npt.NDArray[np.int32] = np.arange(10, dtype=np.int32)

# ------------------------------------------------------------------ softmax family
p32 = fs.softmax(x32)
assert_type(p32, npt.NDArray[np.float32])
assert_type(fs.softmax(x64, axis=0, num_threads=1), npt.NDArray[np.float64])
assert_type(fs.log_softmax(x64, where=x64 > 0, temperature=2.0), npt.NDArray[np.float64])
assert_type(fs.softmax(ints), npt.NDArray[np.float64])
buf = np.empty_like(x32)
assert_type(fs.log_softmax(x32, out=buf), npt.NDArray[np.float32])
assert_type(fs.logsumexp(x32, None), np.float32)
assert_type(fs.logsumexp(ints, None), np.float64)
lse: Any = fs.logsumexp(x64, axis=1, keepdims=True)
row_sums: float = float(fs.softmax([1.0, 2.0, 3.0]).sum())

# ------------------------------------------------------------------ losses
loss = fs.cross_entropy(x32, labels, label_smoothing=0.1, z_loss=1e-4)
assert_type(loss, np.floating[Any])
per_sample = fs.cross_entropy(x32, labels, reduction="none")
assert_type(per_sample, npt.NDArray[np.floating[Any]])
loss2, grad = fs.cross_entropy_and_grad(x64, labels, weight=np.ones(10), softcap=30.0)
assert_type(grad, npt.NDArray[np.floating[Any]])
value: float = float(loss2) + float(fs.nll_loss(fs.log_softmax(x64), labels))
value += float(fs.categorical_cross_entropy(fs.softmax(x64), labels, eps=1e-6))
probs = fs.sigmoid(x64)
assert_type(probs, npt.NDArray[np.float64])
targets = (probs > 0.5).astype(np.float64)
bce, bce_grad = fs.binary_cross_entropy_and_grad(probs, targets, reduction="sum")
assert_type(bce, np.floating[Any])
value += float(fs.binary_cross_entropy_with_logits(x64, targets, pos_weight=np.ones(10)))
assert_type(fs.log_sigmoid(x32), npt.NDArray[np.float32])

hidden = np.ones((4, 8), dtype=np.float32)
weight = np.ones((10, 8), dtype=np.float32)
assert_type(fs.linear_cross_entropy(hidden, weight, labels), np.floating[Any])
g3 = fs.linear_cross_entropy_and_grad(hidden, weight, labels)
assert_type(g3, tuple[np.floating[Any], npt.NDArray[np.floating[Any]],
                      npt.NDArray[np.floating[Any]]])
_, gh, gw, gb = fs.linear_cross_entropy_and_grad(hidden, weight, labels, bias=np.zeros(10),
                                                 reduction="none")
assert_type(gb, npt.NDArray[np.floating[Any]])
assert_type(fs.nll_loss(fs.log_softmax(x64), labels, reduction="none"),
            npt.NDArray[np.floating[Any]])
assert_type(fs.cross_entropy_and_grad(x32, labels, reduction="none"),
            tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]])
assert_type(fs.binary_cross_entropy_with_logits_and_grad(x64, targets),
            tuple[np.floating[Any], npt.NDArray[np.floating[Any]]])
assert_type(fs.categorical_cross_entropy(fs.softmax(x64), labels, reduction="sum"),
            np.floating[Any])
reduction: str = "mean"
loss_any: Any = fs.cross_entropy(x32, labels, reduction=reduction)  # decided at run time
# per-sample weights: any array-like of the batch shape
assert_type(fs.cross_entropy(x32, labels, sample_weight=np.ones(labels.shape)), np.floating[Any])
assert_type(fs.cross_entropy_and_grad(x32, labels, sample_weight=[1.0] * labels.size,
                                      reduction="none"),
            tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]])
assert_type(fs.binary_cross_entropy(probs, targets, sample_weight=np.ones(probs.shape)),
            np.floating[Any])
assert_type(fs.linear_cross_entropy(hidden, weight, labels, sample_weight=np.ones(labels.shape)),
            np.floating[Any])

# ------------------------------------------------------------------ the references
assert_type(slow.softmax(x32), npt.NDArray[np.float32])
assert_type(slow.logsumexp(x64, None), np.float64)
assert_type(slow.cross_entropy(x64, labels), np.floating[Any])
assert_type(slow.linear_cross_entropy_and_grad(hidden, weight, labels, bias=np.zeros(10)),
            tuple[np.floating[Any], npt.NDArray[np.floating[Any]],
                  npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]])

# ------------------------------------------------------------------ threads, config
n: int = fs.get_num_threads()
fs.set_num_threads(2)
fs.set_num_threads(None)
with fs.num_threads(1) as ctx:
    assert_type(ctx, fs.num_threads)
    assert fs.get_num_threads() == 1
enabled: bool = fs.openmp_enabled()
assert_type(fs.show_config(file=io.StringIO()), None)
config = fs.show_config(mode="dicts")
assert_type(config, dict[str, dict[str, Any]])
version: str = fs.__version__

# ------------------------------------------------------------------ the SciPy drop-in
assert_type(special.softmax(x64), npt.NDArray[np.float64])
assert_type(special.log_softmax(x32, axis=(0, 1)), npt.NDArray[np.float32])
assert_type(special.logsumexp(x64), np.float64)
assert_type(special.logsumexp(ints), np.float64)
res, sgn = special.logsumexp(x64, axis=1, return_sign=True)
assert_type(special.logsumexp(x64, axis=1, return_sign=True), tuple[Any, Any])
weighted: Any = special.logsumexp(x64, b=x64, keepdims=True)
assert_type(special.expit(x32), npt.NDArray[np.float32])
assert_type(special.expit(ints), npt.NDArray[np.float64])
assert_type(special.expit(np.ones(3, dtype=np.float16)), npt.NDArray[np.float64])
out: npt.NDArray[np.float64] = np.empty((4, 10))
assert_type(special.expit(x64, out=out), npt.NDArray[np.float64])
assert_type(special.log_expit(x64, out), npt.NDArray[np.float64])
scalar: float = float(special.expit(0.5))
