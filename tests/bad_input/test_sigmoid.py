"""Bad and unusual input for sigmoid and log_sigmoid.

Special and degenerate values, every dtype and memory layout, and out=
buffers: each call raises a clear exception or returns the reference answer
(``fastsoftmax.slow``) and never writes to its input.  The table runs in a
child interpreter (``_runner``).
"""
from __future__ import annotations

from bad_input._cases import (FAMILIES, layout_cases, out_cases, table_of, value_cases)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_sigmoid"]


CASES = table_of(FUNCTIONS, value_cases, layout_cases, out_cases)
