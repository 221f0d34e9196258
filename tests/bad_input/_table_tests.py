"""The two tests of every table module of this directory.

A module defines ``FUNCTIONS`` (its op family) and ``CASES`` (its table) and
imports these two; ``conftest.pytest_generate_tests`` gives ``test_bad_input``
one parameter per case of the importing module's table.
"""
from bad_input._checks import check_family_covered, check_outcome


def test_bad_input(outcomes, case):
    """The case's outcome in the child interpreter is the one the table says:
    the reference answer, the exception and message, or bitwise the answer of
    a clean copy of the input."""
    check_outcome(case, outcomes)


def test_every_function_of_the_family_has_cases(request):
    check_family_covered(request.module.CASES, request.module.FUNCTIONS)
