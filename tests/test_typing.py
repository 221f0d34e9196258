"""Type annotations: inline in the Python modules, stubs for the compiled ones.

* ``mypy --strict`` (configured in pyproject.toml) accepts the package itself
  and tests/typing_usage.py (typical uses, with ``assert_type`` on the
  inferred public return types), and rejects a file of misuses at exactly
  the lines marked as errors.  One mypy run, in a subprocess; skipped if mypy
  is not installed (it is in the ``test`` extra).  Optional peers (Dask,
  torch, SciPy) need not be installed: mypy does not follow them.
* The stubs of the compiled modules (``_core.pyi``, ``_testing.pyi``) name
  exactly the compiled modules' public objects, with Cython's parameter
  names, kinds and order; ``__all__`` lists the package's public names.
  These run without mypy.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import runpy
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import fastsoftmax

PKG_DIR = Path(fastsoftmax.__file__).parent
HERE = Path(__file__).parent
ROOT = HERE.parent
COMPILED = ["_core", "_testing"]

# ------------------------------------------------------------------ runtime checks


def test_py_typed_and_compiled_stubs_are_shipped():
    assert (PKG_DIR / "py.typed").is_file()
    for name in COMPILED:
        assert (PKG_DIR / f"{name}.pyi").is_file(), f"{name}.pyi is missing"
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source tree")
    text = pyproject.read_text()
    # [tool.setuptools.package-data] must ship them in wheels
    assert '"py.typed"' in text and '"*.pyi"' in text


def test_python_modules_have_no_stubs():
    """Annotations live in the code: a stub next to a .py file would shadow it."""
    shadowing = sorted(p.name for p in PKG_DIR.glob("*.pyi")
                       if (PKG_DIR / f"{p.stem}.py").exists())
    assert not shadowing, f"stubs shadowing Python modules: {shadowing}"


def test_all_lists_the_public_names():
    # the package's own objects (not what it imports from elsewhere)
    public = {name for name, obj in vars(fastsoftmax).items()
              if not name.startswith("_") and not isinstance(obj, types.ModuleType)
              and getattr(obj, "__module__", "").startswith("fastsoftmax.")}
    assert sorted(fastsoftmax.__all__) == sorted(public | {"__version__"})
    for name in fastsoftmax.__all__:
        assert hasattr(fastsoftmax, name), name


def _stub_defs(name: str) -> tuple[dict[str, ast.FunctionDef], set[str]]:
    """(functions, annotated variables) of a compiled module's stub."""
    tree = ast.parse((PKG_DIR / f"{name}.pyi").read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    variables = {n.target.id for n in tree.body
                 if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    return functions, variables


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, inspect._ParameterKind]]:
    a, kinds = fn.args, inspect.Parameter
    params = [(arg.arg, kinds.POSITIONAL_ONLY) for arg in a.posonlyargs]
    params += [(arg.arg, kinds.POSITIONAL_OR_KEYWORD) for arg in a.args]
    if a.vararg:
        params.append((a.vararg.arg, kinds.VAR_POSITIONAL))
    params += [(arg.arg, kinds.KEYWORD_ONLY) for arg in a.kwonlyargs]
    if a.kwarg:
        params.append((a.kwarg.arg, kinds.VAR_KEYWORD))
    return params


def _compiled_names(module: types.ModuleType) -> set[str]:
    """The compiled module's own objects (not the modules it imports, nor
    Cython's ``__pyx_*`` helpers)."""
    return {name for name, obj in vars(module).items()
            if not (name.startswith("__") and name.endswith("__"))
            and not name.startswith("__pyx_") and not isinstance(obj, types.ModuleType)}


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_stub_matches_module(name):
    """The stub names every object of the compiled module (functions and
    constants, private ones included) and nothing else; each function has
    the compiled signature's parameter names and kinds, in order, where
    Cython exposes one (``binding=True``, Cython 3's default)."""
    mod = importlib.import_module(f"fastsoftmax.{name}")
    functions, variables = _stub_defs(name)
    assert sorted(set(functions) | variables) == sorted(_compiled_names(mod))
    problems = []
    for fname, fn in functions.items():
        obj = getattr(mod, fname)
        assert callable(obj), f"{name}.{fname} is not callable"
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):  # no signature exposed: names only
            continue
        compiled = [(p.name, p.kind) for p in sig.parameters.values()]
        if _stub_params(fn) != compiled:
            problems.append(f"{name}.{fname}: stub {_stub_params(fn)} != compiled {compiled}")
    for vname in variables:
        assert not callable(getattr(mod, vname)), f"{name}.{vname} is callable"
    assert not problems, "\n".join(problems)


def test_compiled_signatures_are_exposed():
    """The name-and-kind check above is not vacuous: Cython exposes them."""
    sig = inspect.signature(fastsoftmax._core.cross_entropy_index)
    assert list(sig.parameters)[:2] == ["x", "target"]
    assert sig.parameters["n_threads"].kind is inspect.Parameter.KEYWORD_ONLY


# ------------------------------------------------------------------ mypy

MISUSES = """\
    import numpy as np
    import numpy.typing as npt

    import fastsoftmax as fs
    from fastsoftmax import scipy as special

    x = np.ones((2, 3))
    fs.softmax(x, axs=1)  # E
    y: npt.NDArray[np.int64] = fs.softmax(x)  # E
    fs.cross_entropy(x, np.zeros(2, dtype=np.int64), reduction=3)  # E
    fs.set_num_threads("2")  # E
    fs.show_config(file=3)  # E
    fs.no_such_function(x)  # E
    special.logsumexp(x, return_sign=True)[2]  # E
    special.expit(x, x, x)  # E
    special.softmax(x, axis=[0, 1])  # E
    fs.num_threads(1.5)  # E
    fs.log_sigmoid(x, out=[0.0])  # E
    fs.linear_cross_entropy_and_grad(x, x, x, chunk="1")  # E
"""


@pytest.fixture(scope="module")
def mypy_results(request, tmp_path_factory):
    """{file name: [(line, message)]} from one ``mypy --strict`` run over the
    package, the usage file and the misuse file, with the project's
    configuration (pyproject.toml)."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install '.[test]')")
    config = ROOT / "pyproject.toml"
    if not config.is_file() or not (ROOT / "src" / "fastsoftmax").is_dir():
        pytest.skip("not run from a source tree")
    work = tmp_path_factory.mktemp("typing")
    (work / "misuse.py").write_text(textwrap.dedent(MISUSES))
    usage = work / "typing_usage.py"
    usage.write_text((HERE / "typing_usage.py").read_text())
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir("mypy") if cache is not None else work / ".mypy_cache"
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "MYPY_FORCE_COLOR")}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config),
         "--no-error-summary", "--show-error-codes", "--no-pretty",
         "--cache-dir", str(cache_dir),
         str(ROOT / "src" / "fastsoftmax"), str(usage), str(work / "misuse.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        pytest.fail(f"mypy did not run: rc={proc.returncode}\n{proc.stderr}\n{proc.stdout}")
    results: dict[str, list[tuple[int, str]]] = {
        "package": [], "typing_usage.py": [], "misuse.py": []}
    for line in proc.stdout.splitlines():
        path, sep, rest = line.partition(".py:")
        if not sep:
            continue
        lineno, _, message = rest.partition(":")
        if " error:" not in f" {message}" and not message.strip().startswith("error"):
            continue
        name = Path(path + ".py").name
        key = name if name in ("typing_usage.py", "misuse.py") else "package"
        results[key].append((int(lineno), line))
    return results


def test_mypy_strict_accepts_the_package(mypy_results):
    assert mypy_results["package"] == [], "\n".join(m for _, m in mypy_results["package"])


def test_no_module_of_the_package_is_exempt():
    """The acceptance above covers every module: no mypy override silences
    one (the optional peers are skipped as imports, not exempted)."""
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source tree")
    text = pyproject.read_text()
    assert "ignore_errors" not in text and "ignore-errors" not in text


def test_mypy_strict_accepts_typical_use(mypy_results):
    assert mypy_results["typing_usage.py"] == [], "\n".join(
        m for _, m in mypy_results["typing_usage.py"])


def test_mypy_strict_rejects_misuse(mypy_results):
    lines = textwrap.dedent(MISUSES).splitlines()
    expected = {i for i, text in enumerate(lines, start=1) if text.endswith("# E")}
    found = {lineno for lineno, _ in mypy_results["misuse.py"]}
    assert found == expected, (
        f"errors expected on lines {sorted(expected)}, mypy reported:\n"
        + "\n".join(m for _, m in mypy_results["misuse.py"]))


def test_usage_file_runs():
    """The usage file is real code: it runs (assert_type is a no-op at run time)."""
    pytest.importorskip("typing_extensions")
    runpy.run_path(str(HERE / "typing_usage.py"), run_name="typing_usage")
