"""Every op of the shape matrix with every implementation that has it.

The (op, implementation) pairs come from the registry of
``fastsoftmax._bench``, so an op or a library added there appears here.  Each
test benchmarks one implementation of one op on one shape; tests of the same
op and shape share a pytest-benchmark group (see ``conftest.run_op``).
"""
import pytest

from fastsoftmax._bench import registry

PAIRS = [(op, impl) for op in registry.matrix_ops()
         for impl, entry in registry.IMPLEMENTATIONS.items() if op in entry.bindings]


@pytest.mark.parametrize(("op_name", "impl"), PAIRS, ids=[f"{o}-{i}" for o, i in PAIRS])
def test_op(run_op, op_name, impl, shape):
    run_op(op_name, impl, shape)
