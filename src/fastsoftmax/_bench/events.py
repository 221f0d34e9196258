"""The line protocol between a probe process and the runner: each line a
probe prints on stdout that starts with :data:`PREFIX` is one JSON event;
other output (a library's chatter) is ignored."""
from __future__ import annotations

import json
from typing import Any

from . import JSONDict

PREFIX = '{"event": '


def emit(event: str, **fields: Any) -> None:
    """Print one event line, flushed, so that the runner can show progress."""
    print(json.dumps({"event": event, **fields}), flush=True)


def parse(line: str) -> JSONDict | None:
    """The event of a line of probe output, or None if it is not one."""
    return json.loads(line) if line.startswith(PREFIX) else None
