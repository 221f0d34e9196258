"""Cross-entropy (int64 labels, mean): fastsoftmax vs NumPy and torch.

Skipped as a whole on builds without ``fastsoftmax.cross_entropy``.
"""
import pytest

import fastsoftmax
from fastsoftmax import _bench

if not hasattr(fastsoftmax, "cross_entropy"):
    pytest.skip("fastsoftmax.cross_entropy is not implemented in this build",
                allow_module_level=True)

# _bench registers each loss only if the library has it.
OPS = [name for name in ("cross_entropy", "cross_entropy_and_grad") if name in _bench.OPS]


@pytest.mark.parametrize("impl", ["fastsoftmax", "numpy"])
@pytest.mark.parametrize("op_name", OPS)
def test_cross_entropy(run_op, op_name, impl, shape):
    run_op(op_name, impl, shape)


@pytest.mark.parametrize("op_name", OPS)
def test_cross_entropy_torch(run_op, op_name, shape):
    pytest.importorskip("torch")
    run_op(op_name, "torch", shape)
