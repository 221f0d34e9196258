"""The bad-input tables run once per module, in a child interpreter."""
import pytest

from bad_input._checks import case_params
from bad_input._runner import run_cases


@pytest.fixture(scope="module")
def outcomes(request):
    """{case id: outcome} for the whole ``CASES`` table of the requesting module."""
    return run_cases(request.module.__file__, len(request.module.CASES))


def pytest_generate_tests(metafunc):
    # test_bad_input (bad_input._table_tests): one run per case of the table
    # of the module it is collected in
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", case_params(metafunc.module.CASES))
