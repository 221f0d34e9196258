"""Run code in a child interpreter, so that a crash is a test failure, not the
end of the test session.

* ``run_python(code, timeout)``: run a snippet in a fresh interpreter, return
  the CompletedProcess (used by the concurrency, memory and ISA tests).
* ``run_file(path, args)``: the same for a script file.

(The bad-input tables have their own runner: tests/bad_input/_runner.py.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

def _child_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONFAULTHANDLER", "1")
    env.update(extra or {})
    return env


def run_python(code: str, timeout: float = 120, env: dict | None = None,
               args=()) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter (tests/ on sys.path); never raises for
    a non-zero exit, but a timeout raises subprocess.TimeoutExpired."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=timeout, env=_child_env(env), cwd=HERE)


def run_file(path, args=(), timeout: float = 120, env: dict | None = None
             ) -> subprocess.CompletedProcess:
    """Run a script file (``python path *args``) like run_python."""
    return subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=_child_env(env), cwd=HERE)


def describe_returncode(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name} ({rc})"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"
