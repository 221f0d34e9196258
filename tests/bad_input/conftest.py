"""The bad-input tables run once per module, in a child interpreter."""
import pytest

from bad_input._runner import run_cases


@pytest.fixture(scope="module")
def outcomes(request):
    """{case id: outcome} for the whole ``CASES`` table of the requesting module."""
    return run_cases(request.module.__file__, len(request.module.CASES))
