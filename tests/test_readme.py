"""Every Python code block of README.md runs as written.

Each ```python block is run on its own, in a fresh interpreter whose working
directory is an empty temporary one (a block may write files), exactly as
shown: nothing is replaced or shortened.  A block that imports an optional
package that is not installed (Dask, torch, ...) is skipped, as the tests of
those front ends are.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

#: Optional packages a block may need; without one the block is skipped.
OPTIONAL = ("dask", "distributed", "torch", "scipy", "sklearn", "xgboost", "lightgbm",
            "matplotlib")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, code)`` of each fenced ```python block."""
    blocks, code, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if code is None:
            if re.match(r"^```python\s*$", line):
                code, start = [], number + 1
        elif line.startswith("```"):
            blocks.append((start, "\n".join(code) + "\n"))
            code = None
        else:
            code.append(line)
    assert code is None, f"README.md: the block at line {start} is not closed"
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_blocks():
    assert len(BLOCKS) >= 3


def _missing_optional(code: str) -> str | None:
    """The first optional package ``code`` uses that is not installed."""
    for name in OPTIONAL:
        uses = (re.search(rf"^\s*(?:import|from)\s+{name}\b", code, re.M)
                or re.search(rf"from fastsoftmax import {name}\b|fastsoftmax\.{name}\b", code))
        if uses and importlib.util.find_spec(name) is None:
            return name
    return None


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_block_runs(line, code, tmp_path):
    missing = _missing_optional(code)
    if missing:
        pytest.skip(f"needs {missing}")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (
        f"README.md block at line {line} failed:\n{code}\n--- stderr ---\n{proc.stderr}")


def test_python_blocks_parser():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = 2\nz = 3\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = 2\nz = 3\n")]
