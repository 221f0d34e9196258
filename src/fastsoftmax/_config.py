"""``fastsoftmax.show_config()``: how this build was compiled and how it will run.

Everything is found at run time: the compiler from the compiled module's own
ELF ``.comment`` section (what GCC and clang record there), the build
settings from the kernels, the thread policy from :mod:`fastsoftmax._threads`.
Versions of optional packages are read from their metadata without importing
them.
"""
from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig
from importlib import metadata
from typing import Any, Literal, TextIO, overload

import numpy as np

from . import _core, _openmp_wait, _threads

__all__ = ["show_config"]

_COMPILER_RE = re.compile(
    rb"(GCC: \([^)\x00]*\) [0-9][0-9.]*|[A-Za-z ]*clang version [0-9][^\x00]*)")


def _build_compiler(path: str | None) -> str | None:
    """The compiler recorded in a shared object's ELF ``.comment``, if any."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    found: list[str] = [m.decode("ascii", "replace").strip() for m in _COMPILER_RE.findall(data)]
    if not found:
        return None
    # the toolchain's own crt objects may be listed too: the last one is the
    # compiler that built the module's code, which is the one that matters
    name = found[-1]
    return "GCC " + name[len("GCC: "):] if name.startswith("GCC: ") else name


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _config() -> dict[str, Any]:
    from . import __version__

    return {
        "fastsoftmax": {
            "version": __version__,
            "path": os.path.dirname(os.path.abspath(__file__)),
        },
        "build": {
            "compiler": _build_compiler(getattr(_core, "__file__", None)),
            "openmp": _core.openmp_enabled(),
            "isa_compiled": _core.isa_compiled(),
        },
        "runtime": {
            "isa_selected": _core.isa_selected(),
            "num_threads": _threads.get_num_threads(),
            "set_num_threads": getattr(_threads, "_user_threads", None),
            "omp_max_threads": _core.omp_max_threads(),
            "available_cpus": _threads._available_cpus(),
            "os_cpu_count": os.cpu_count(),
            "cgroup_cpu_limit": getattr(_threads, "_CGROUP_LIMIT", None),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "openmp_wait": _openmp_wait.describe(),
            "parallel_min_elements": _threads.PARALLEL_MIN_ELEMENTS,
        },
        "platform": {
            "system": platform.system(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "python_compiler": platform.python_compiler(),
            "sysconfig_cc": sysconfig.get_config_var("CC"),
        },
        "dependencies": {
            "numpy": np.__version__,
            "scipy": _dist_version("scipy"),
            "torch": _dist_version("torch"),
        },
    }


@overload
def show_config(file: TextIO | None = None, *, mode: Literal["stdout"] = "stdout") -> None: ...
@overload
def show_config(file: TextIO | None = None, *, mode: Literal["dicts"]
                ) -> dict[str, dict[str, Any]]: ...
def show_config(file: TextIO | None = None, *, mode: str = "stdout"
                ) -> dict[str, dict[str, Any]] | None:
    """Print the build and run-time configuration, or return it as a dict.

    Reports the version, the compiler that built the kernels, whether OpenMP
    is enabled, the SIMD instruction sets compiled and the one selected on
    this CPU, the thread count a large call will use (and what it is derived
    from: ``set_num_threads``, ``omp_get_max_threads()``, the CPUs available
    to the process, ``OMP_NUM_THREADS``), how idle OpenMP threads wait
    (``openmp_wait``: the spin setting, see ``OMP_WAIT_POLICY`` and
    ``GOMP_SPINCOUNT``), the platform, and the versions of
    NumPy and, if installed, SciPy and PyTorch.  Include it in bug reports.
    As ``numpy.show_config``: it prints and returns None, or (``mode="dicts"``)
    returns the values without printing, so that an interactive shell does
    not show them twice.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default: ``sys.stdout``).  Ignored with
        ``mode="dicts"``.
    mode : {"stdout", "dicts"}, optional
        Print (the default), or return the dict.

    Returns
    -------
    dict or None
        With ``mode="dicts"``: sections ``fastsoftmax``, ``build``,
        ``runtime``, ``platform`` and ``dependencies``, each a dict of the
        printed values (None where a value is unknown or not set).

    Raises
    ------
    ValueError
        If ``mode`` is neither ``"stdout"`` nor ``"dicts"``.

    Examples
    --------
    >>> import fastsoftmax
    >>> fastsoftmax.show_config()  # doctest: +ELLIPSIS
    fastsoftmax:
      version: ...
    build:
      compiler: ...
      openmp: ...
    >>> cfg = fastsoftmax.show_config(mode="dicts")
    >>> cfg["runtime"]["num_threads"] == fastsoftmax.get_num_threads()
    True
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f'mode must be "stdout" or "dicts", got {mode!r}')
    cfg = _config()
    if mode == "dicts":
        return cfg
    out = sys.stdout if file is None else file
    for section, values in cfg.items():
        print(f"{section}:", file=out)
        for key, value in values.items():
            print(f"  {key}: {value}", file=out)
    return None
