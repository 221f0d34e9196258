"""pytest plugin: record a digest of every public-API call the tests make.

Usage (from the project root)::

    PYTHONPATH=tools python -m pytest -p answers_plugin --answers before.json
    ... change the code ...
    PYTHONPATH=tools python -m pytest -p answers_plugin --answers after.json
    python tools/answers.py compare before.json after.json

Each public function of ``fastsoftmax``, ``fastsoftmax.scipy`` and
``fastsoftmax.dask`` (when importable) is wrapped for the session; calls are
keyed by the digest of their arguments (see ``answers.py``), so the
comparison does not depend on test names or order.
"""
from __future__ import annotations

import functools
import importlib
from typing import Any

import answers

_recorder = answers.Recorder()
_patched: list[tuple[Any, str, Any]] = []


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--answers", default=None,
                     help="write a digest of every public-API call to this JSON file")


def _wrap(module: Any, prefix: str) -> None:
    for name in getattr(module, "__all__", ()):
        fn = getattr(module, name, None)
        if not callable(fn) or isinstance(fn, type) or name.startswith(("get_", "set_")):
            continue
        if name in ("show_config", "openmp_enabled", "num_threads"):
            continue

        @functools.wraps(fn)
        def wrapper(*args: Any, __fn: Any = fn, __name: str = prefix + name,
                    **kwargs: Any) -> Any:
            return _recorder.call(__name, __fn, *args, **kwargs)

        _patched.append((module, name, fn))
        setattr(module, name, wrapper)


def pytest_configure(config: Any) -> None:
    if not config.getoption("--answers"):
        return
    for mod, prefix in (("fastsoftmax", ""), ("fastsoftmax.scipy", "scipy."),
                        ("fastsoftmax.dask", "dask.")):
        try:
            _wrap(importlib.import_module(mod), prefix)
        except ImportError:
            pass


def pytest_unconfigure(config: Any) -> None:
    path = config.getoption("--answers")
    if not path:
        return
    for module, name, fn in _patched:
        setattr(module, name, fn)
    _recorder.save(path)
    print(f"\nanswers: {len(_recorder.results)} calls recorded in {path}")
