import os
import sys

import pytest

# The test modules import their shared helpers as ``from _helpers import ...``;
# make that work under any --import-mode, not only the default "prepend".
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import fastsoftmax  # noqa: E402


def pytest_report_header(config):
    from fastsoftmax import _core
    return (f"fastsoftmax {fastsoftmax.__version__}: openmp={fastsoftmax.openmp_enabled()}, "
            f"threads={fastsoftmax.get_num_threads()}, isa={_core.isa_selected()}")


@pytest.fixture(autouse=True)
def _restore_default_threads():
    """No test may leak a set_num_threads() setting into the next one."""
    yield
    fastsoftmax.set_num_threads(None)


@pytest.fixture(autouse=True)
def _no_load_estimate(monkeypatch):
    """The default thread count leaves out the CPUs other processes keep busy
    (fastsoftmax._cpuload): on a shared test machine it would change from
    call to call.  The tests of the default expect the quiet-machine value;
    tests/test_cpuload.py tests the estimate itself."""
    from fastsoftmax import _threads
    monkeypatch.setattr(_threads, "_LOAD", None)
