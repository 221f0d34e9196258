"""softmax, log_softmax and logsumexp: fastsoftmax vs NumPy, torch and SciPy.

Each test benchmarks one implementation of one op on one shape; tests of the
same op and shape share a pytest-benchmark group (see ``conftest.run_op``).
"""
import pytest

OPS = ("softmax", "log_softmax", "logsumexp")


@pytest.mark.parametrize("impl", ["fastsoftmax", "numpy"])
@pytest.mark.parametrize("op_name", OPS)
def test_softmax_family(run_op, op_name, impl, shape):
    run_op(op_name, impl, shape)


@pytest.mark.parametrize("op_name", OPS)
def test_softmax_family_torch(run_op, op_name, shape):
    pytest.importorskip("torch")
    run_op(op_name, "torch", shape)


@pytest.mark.parametrize("op_name", OPS)
def test_softmax_family_scipy(run_op, op_name, shape):
    pytest.importorskip("scipy.special")
    run_op(op_name, "scipy", shape)
