"""Shapes and seeded inputs of the benchmark, and the files that share them.

Every probe process times the same inputs.  Drawing them is slow (65M
normals take about a second), so the runner draws each shape's inputs once,
saves them as ``.npy`` files (in ``/dev/shm`` when it has room) and the
probes load them, which is ten times faster.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from typing import Callable

import numpy as np

#: The default shape matrix: many short rows, the classic vocabulary sizes,
#: a few very long rows (row-parallel work is scarce) and a tiny call
#: (per-call overhead).
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = (
    (1_000_000, 10), (200_000, 100), (20_000, 1000),
    (2048, 32000), (32, 256000), (8, 10),
)
#: A reduced matrix for quick runs of the pytest-benchmark suite.
QUICK_SHAPES: tuple[tuple[int, ...], ...] = ((20_000, 1000), (256, 32000), (8, 10))

#: (N tokens, D model dim, V vocabulary) of the ``--linear`` table.
LINEAR_SIZE: tuple[int, int, int] = (4096, 1024, 32000)


def format_shape(shape: Sequence[int]) -> str:
    """``(2048, 32000)`` -> ``"2048x32000"``."""
    return "x".join(str(n) for n in shape)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"2048x32000"`` -> ``(2048, 32000)``.

    Raises
    ------
    ValueError
        If ``text`` is not positive integers joined by ``x``.
    """
    try:
        shape = tuple(int(n) for n in text.strip().lower().split("x"))
    except ValueError:
        raise ValueError(f"bad shape {text!r}: expected sizes joined by 'x', "
                         f"e.g. 2048x32000") from None
    if min(shape) < 1:
        raise ValueError(f"bad shape {text!r}: sizes must be positive")
    return shape


@functools.lru_cache(maxsize=1)
def make_logits(shape: tuple[int, ...], dtype: str = "float32", seed: int = 0) -> np.ndarray:
    """Seeded standard-normal logits of the given shape and dtype.

    Parameters
    ----------
    shape : tuple of int
        Array shape; the class (reduction) axis is the last.
    dtype : str, optional
        ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"``.
    seed : int, optional
        Seed of the generator.

    Returns
    -------
    ndarray
        C-contiguous array.  The last result is cached (every op of a shape
        uses the same logits), so callers must treat it as read-only.
    """
    rng = np.random.default_rng(seed)
    dt = numpy_dtype(dtype)
    if dt.itemsize == 2:  # 16-bit: float32 draws rounded (NumPy draws no 16-bit floats)
        return rng.standard_normal(tuple(shape), dtype=np.float32).astype(dt)
    return rng.standard_normal(tuple(shape), dtype=dt.type)


#: The 16-bit input dtypes of ``--dtype`` (the kernels read them directly for
#: the ops of :data:`registry.HALF_OPS`).
HALF_DTYPES = ("float16", "bfloat16")


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a ``--dtype`` name; bfloat16 is ml_dtypes' (imported
    here only, with a clear error when it is not installed)."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise SystemExit("--dtype bfloat16 needs ml_dtypes for its NumPy inputs "
                             "(pip install ml_dtypes)") from None
        bf16: np.dtype = np.dtype(ml_dtypes.bfloat16)
        return bf16
    return np.dtype(name)


def make_logits_only(shape: tuple[int, ...], dtype: str = "float32",
                     seed: int = 0) -> tuple[np.ndarray]:
    """``(logits,)``, see :func:`make_logits`."""
    return (make_logits(shape, dtype, seed),)


def make_logits_and_labels(shape: tuple[int, ...], dtype: str = "float32",
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (see :func:`make_logits`) and uniform int64 class labels.

    Returns
    -------
    logits : ndarray
        Shape ``shape``.
    labels : ndarray of int64
        Shape ``shape[:-1]``, values in ``[0, shape[-1])``.
    """
    rng = np.random.default_rng(seed + 1)  # independent of the logits' stream
    labels = rng.integers(0, shape[-1], size=tuple(shape[:-1]), dtype=np.int64)
    return make_logits(shape, dtype, seed), labels


def make_logits_and_binary_targets(shape: tuple[int, ...], dtype: str = "float32",
                                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (see :func:`make_logits`) and 0/1 targets of their shape and
    dtype, one positive in ten (a detection head's sparse positives)."""
    rng = np.random.default_rng(seed + 2)
    targets = (rng.random(tuple(shape)) < 0.1).astype(np.dtype(dtype))
    return make_logits(shape, dtype, seed), targets


def make_linear_inputs(size: tuple[int, int, int], dtype: str = "float32",
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hidden states (N, D), an nn.Linear-style weight (V, D) and labels (N,)
    for ``size = (N, D, V)``."""
    n, d, v = size
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
    w = rng.standard_normal((v, d), dtype=np.dtype(dtype).type)
    w *= 1.0 / np.sqrt(d)  # logits of order 1, as in a trained model
    y = rng.integers(0, v, n)
    return h, w, y


# --------------------------------------------------------------------------
# sharing inputs between processes

#: An op's ``make_inputs``: ``maker(shape, dtype, seed) -> tuple of arrays``
#: (the shape a tuple of int; for the linear ops (N, D, V)).
InputMaker = Callable[..., tuple[np.ndarray, ...]]


def _key(maker: InputMaker, shape: Sequence[int]) -> str:
    return f"{maker.__name__} {format_shape(shape)}"


def input_directory(nbytes: int) -> str:
    """A new temporary directory for ``nbytes`` of input files: in
    ``/dev/shm`` (memory, so loading is a copy) when it has twice that free,
    else in the default temporary directory.  The caller removes it."""
    shm = "/dev/shm"
    try:
        roomy = os.path.isdir(shm) and shutil.disk_usage(shm).free > 2 * nbytes
    except OSError:
        roomy = False
    return tempfile.mkdtemp(prefix="fastsoftmax-bench-", dir=shm if roomy else None)


def write_inputs(directory: str, makers: Iterable[InputMaker], shapes: Iterable[Sequence[int]],
                 dtype: str, seed: int = 0) -> dict[str, list[str]]:
    """Draw every maker's inputs for every shape once and save them.

    Parameters
    ----------
    directory : str
        Where the ``.npy`` files go.
    makers : iterable of callable
        ``maker(shape, dtype, seed) -> tuple of arrays`` (an op's
        ``make_inputs``); an array two makers share (the cached logits) is
        saved once.
    shapes, dtype, seed
        What to draw.

    Returns
    -------
    dict
        The manifest for :func:`load_inputs`: ``"<maker> <shape>"`` -> file paths.
    """
    makers = list(dict.fromkeys(makers))
    manifest: dict[str, list[str]] = {}
    for shape in shapes:
        saved: dict[int, str] = {}  # id(array) -> path, within this shape
        keep = []  # the arrays behind saved's ids stay alive until the shape is done
        for maker in makers:
            paths = []
            for arr in maker(tuple(shape), dtype, seed):
                if id(arr) not in saved:
                    path = os.path.join(directory, f"{len(manifest)}-{len(saved)}.npy")
                    np.save(path, arr)
                    saved[id(arr)] = path
                    keep.append(arr)
                paths.append(saved[id(arr)])
            manifest[_key(maker, shape)] = paths
        del keep
        make_logits.cache_clear()  # free the shape's logits before drawing the next
    return manifest


def load_inputs(manifest: dict[str, list[str]] | None, maker: InputMaker, shape: Sequence[int],
                dtype: str, seed: int = 0,
                cache: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """``maker``'s inputs for ``shape``: from the files of the manifest when
    listed there (each file read once per ``cache`` dict), else drawn here."""
    paths = (manifest or {}).get(_key(maker, shape))
    if paths is None:
        return maker(tuple(shape), dtype, seed)
    cache = {} if cache is None else cache
    for path in paths:
        if path not in cache:
            arr = np.load(path)
            if arr.dtype.kind == "V" and arr.dtype.itemsize == 2:  # bfloat16 saved as void
                arr = arr.view(numpy_dtype("bfloat16"))
            cache[path] = arr
    return tuple(cache[path] for path in paths)
