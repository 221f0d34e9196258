# Type stubs for fastsoftmax._config (checked by tests/test_typing.py).
from typing import Any, TextIO

__all__ = ["show_config"]

def show_config(file: TextIO | None = None) -> dict[str, dict[str, Any]]: ...
