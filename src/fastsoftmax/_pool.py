"""A bounded pool of output buffers whose pages are already mapped.

A fresh large NumPy array is fresh memory from the operating system: the
kernel that fills it first takes a page fault (and a page of zeros) for
every page it writes, which costs a softmax of a (2048, 32000) float32 array
more than half again its time with a preallocated ``out=``.  Outputs of
``MIN_BYTES`` or more are therefore views of blocks that this pool keeps,
reused once no array uses them any more.

A block is reused only when the pool holds the one reference to it: every
array that uses a block's memory -- the output, its views, anything holding
those (``torch.from_numpy``, a ``memoryview``) -- keeps the block alive
through its ``base``, so memory a live array still uses is never handed
out again.  The pool keeps at most ``max_bytes`` of blocks (free or in
use); past that an output is a plain ``np.empty`` array, and blocks no
array uses are dropped oldest first to make room.  ``release`` drops every
unused block.  The pool is guarded by a lock (calls from several threads);
a forked child starts with a new lock.

Reference counts are exact under CPython's GIL; a free-threaded build
would need a different test of "unused".
"""
from __future__ import annotations

import math
import os
import re
import sys
import threading
from typing import Any

import numpy as np

from ._typing import Array

__all__ = ["empty", "set_output_pool", "get_output_pool", "release_output_pool",
           "MIN_BYTES", "DEFAULT_MAX_BYTES", "ENV"]

#: Outputs smaller than this come from np.empty: malloc reuses small blocks
#: already, and a page-fault costs little next to the call.
MIN_BYTES = 1 << 20
#: The pool's default bound.
DEFAULT_MAX_BYTES = 1 << 30
#: The environment variable read at import: a size ("512M", "2G", "0" or
#: "off" to disable).
ENV = "FASTSOFTMAX_OUTPUT_POOL"

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``"512M"``, ``"2g"``, ``"1048576"``, ``"off"``."""
    t = text.strip().lower()
    if t in ("off", "no", "false", "none"):
        return 0
    m = re.fullmatch(r"(\d+)\s*([kmgt]?)(?:i?b)?", t)
    if m is None:
        raise ValueError(f"{ENV}={text!r}: expected a size such as 512M, 2G, 0 or off")
    return int(m.group(1)) * _UNITS[m.group(2)]


class _Pool:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # Every block kept, least recently handed out first.  Nothing else
        # in the pool refers to a block, so a block whose reference count
        # is the list's alone is unused.
        self.blocks: list[Array] = []
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def _unused(self, i: int) -> bool:
        # the list's reference and getrefcount's argument
        return sys.getrefcount(self.blocks[i]) == 2

    def _drop_unused(self, need: int) -> int:
        """Drop unused blocks, oldest first, until ``need`` more bytes fit
        (need < 0: all of them); the bytes dropped."""
        held = sum(b.nbytes for b in self.blocks)
        dropped = i = 0
        while i < len(self.blocks) and (need < 0 or held + need > self.max_bytes):
            if self._unused(i):
                n = self.blocks.pop(i).nbytes
                held -= n
                dropped += n
            else:
                i += 1
        return dropped

    def block(self, nbytes: int) -> Array | None:
        """A block of ``nbytes`` no array uses, or None (the pool is full)."""
        with self.lock:
            for i in range(len(self.blocks)):
                if self.blocks[i].nbytes == nbytes and self._unused(i):
                    b = self.blocks.pop(i)
                    self.blocks.append(b)
                    self.hits += 1
                    return b
            self.misses += 1
            self._drop_unused(nbytes)
            if sum(b.nbytes for b in self.blocks) + nbytes > self.max_bytes:
                return None
            b = np.empty(nbytes, dtype=np.uint8)
            self.blocks.append(b)
            return b


_POOL = _Pool(DEFAULT_MAX_BYTES)


def _init_from_environment() -> None:
    text = os.environ.get(ENV)
    if text is not None and text.strip():
        try:
            _POOL.max_bytes = parse_size(text)
        except ValueError as exc:
            import warnings
            warnings.warn(f"{exc}; using the default ({DEFAULT_MAX_BYTES >> 20} MiB)",
                          RuntimeWarning, stacklevel=3)


_init_from_environment()


def _new_lock_in_child() -> None:
    _POOL.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def empty(shape: tuple[int, ...], dtype: Any) -> Array:
    """An uninitialised C-contiguous array, from the pool when it is large."""
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes < MIN_BYTES or nbytes > _POOL.max_bytes:
        return np.empty(shape, dtype=dt)
    b = _POOL.block(nbytes)
    if b is None:
        return np.empty(shape, dtype=dt)
    # b's base is None, so every view's base is b itself
    out: Array = b.view(dt).reshape(shape)
    return out


def set_output_pool(max_bytes: int | None) -> None:
    """Bound the pool of reused output buffers (0: no pool).

    Large outputs (1 MiB or more) that fastsoftmax allocates -- a softmax
    without ``out=``, a gradient -- are views of blocks that it keeps and
    reuses once no array uses them, so that a call does not pay for mapping
    fresh pages.  The pool keeps at most ``max_bytes`` of blocks; unused
    blocks beyond a smaller bound are dropped at once.

    Parameters
    ----------
    max_bytes : int or None
        The bound in bytes; None restores the default (1 GiB, or
        ``FASTSOFTMAX_OUTPUT_POOL`` as read at import); 0 disables the pool.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.set_output_pool(256 << 20)
    >>> fastsoftmax.get_output_pool()["max_bytes"]
    268435456
    >>> fastsoftmax.set_output_pool(None)
    """
    if max_bytes is None:
        value = DEFAULT_MAX_BYTES
        text = os.environ.get(ENV)
        if text is not None and text.strip():
            try:
                value = parse_size(text)
            except ValueError:
                pass
    else:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be an int or None, got {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        value = max_bytes
    with _POOL.lock:
        _POOL.max_bytes = value
        _POOL._drop_unused(0)


def get_output_pool() -> dict[str, int]:
    """The pool's bound and state.

    Returns
    -------
    dict
        ``max_bytes`` (the bound), ``held_bytes`` (blocks kept, free or in
        use), ``in_use_bytes`` (blocks some array uses), ``blocks``, and
        ``hits`` / ``misses`` (outputs served by a kept block / by a new one).

    Examples
    --------
    >>> import fastsoftmax
    >>> sorted(fastsoftmax.get_output_pool())
    ['blocks', 'held_bytes', 'hits', 'in_use_bytes', 'max_bytes', 'misses']
    """
    with _POOL.lock:
        held = sum(b.nbytes for b in _POOL.blocks)
        free = sum(_POOL.blocks[i].nbytes for i in range(len(_POOL.blocks))
                   if _POOL._unused(i))
        return {"max_bytes": _POOL.max_bytes, "held_bytes": held, "in_use_bytes": held - free,
                "blocks": len(_POOL.blocks), "hits": _POOL.hits, "misses": _POOL.misses}


def release_output_pool() -> int:
    """Return the memory of every block no array uses; the bytes released.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.release_output_pool() >= 0
    True
    """
    with _POOL.lock:
        return _POOL._drop_unused(-1)
