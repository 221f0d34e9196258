"""The bad-input matrix: never crash, never lie.

Every public computing function meets every kind of bad or unusual input:
odd labels, special and degenerate values, unusual memory layouts, bad
``out=`` / ``grad_out=`` buffers, bad arguments and thread counts.  Each case
must end in either a clear exception (the right class, and a message that
names the argument and what was expected: asserted with a regex) or the
reference answer (``fastsoftmax.slow`` with the same arguments), and no case
may write to an input.

* ``_cases``: the case language (Case, Ref, Raises), input builders and the
  case groups several families share;
* ``_checks``: how an outcome is judged;
* ``_runner``: runs a module's table in a child interpreter, so that a crash
  is a failure naming its case;
* ``test_<family>.py``: the table of one op family (``_cases.FAMILIES``),
  ``test_thread_counts.py`` the thread counts, ``test_coverage.py`` that
  every public function has its table.

(A package, so that its module names cannot clash with those of tests/.)
"""
