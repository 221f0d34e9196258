"""The Examples sections of the docstrings are doctests: run them all.

One test per module: the package and every submodule (new ones are picked up
automatically), with NORMALIZE_WHITESPACE | ELLIPSIS, NumPy's default print
options, and modules whose optional dependency is missing skipped.
"""
from __future__ import annotations

import doctest
import io
import pkgutil

import numpy as np
import pytest

import fastsoftmax
from _helpers import import_or_skip

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
# not library modules: the command line and the compiled extensions
SKIP = {"__main__", "_core", "_testing"}
MODULES = ["fastsoftmax"] + [
    f"fastsoftmax.{m.name}" for m in pkgutil.iter_modules(fastsoftmax.__path__)
    if m.name not in SKIP]
# modules whose public functions must show at least one example
PUBLIC_API_MODULES = sorted({getattr(fastsoftmax, name).__module__
                             for name in fastsoftmax.__all__
                             if callable(getattr(fastsoftmax, name))}
                            | {"fastsoftmax.scipy"})


def _run_doctests(module):
    """(attempted, failed, report) for the docstrings defined in ``module``."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    with np.printoptions(precision=8, threshold=1000, edgeitems=3, linewidth=75,
                         suppress=False, nanstr="nan", infstr="inf", sign="-",
                         floatmode="maxprec", legacy=False):
        for test in finder.find(module, module.__name__):
            runner.run(test, out=report.write)
    return runner.tries, runner.failures, report.getvalue()


@pytest.mark.parametrize("modname", MODULES)
def test_docstring_examples(modname):
    module = import_or_skip(modname)   # skips if an optional peer is missing
    attempted, failed, report = _run_doctests(module)
    assert failed == 0, f"{failed} of {attempted} examples failed in {modname}:\n{report}"
    if modname in PUBLIC_API_MODULES:
        assert attempted > 0, f"{modname} has public functions but no examples"


def test_every_module_is_covered():
    """The package's modules all appear above (guards against a rename of the
    discovery, e.g. a namespace change, silently running nothing)."""
    assert "fastsoftmax.softmax" in MODULES and "fastsoftmax.scipy" in MODULES
    assert set(PUBLIC_API_MODULES) <= set(MODULES)
