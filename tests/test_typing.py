"""Type stubs (src/fastsoftmax/*.pyi): they must match the code and type-check.

* The stubs cannot drift: every function in every stub is compared with the
  implementation's ``inspect.signature`` (parameter names, kinds, defaults;
  overloads may narrow a kind or drop a default, never add or rename), every
  stub's ``__all__`` with the module's, and ``__init__.pyi`` with
  ``fastsoftmax.__all__``.  Runs without mypy.
* ``mypy --strict`` accepts tests/typing_usage.py (typical uses, with
  ``assert_type`` on the inferred types) and rejects a file of misuses at
  exactly the lines marked as errors (skipped if mypy is not installed).
"""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastsoftmax
from _helpers import import_or_skip

PKG_DIR = Path(fastsoftmax.__file__).parent
HERE = Path(__file__).parent
STUBS = sorted(PKG_DIR.glob("*.pyi"))
STUB_MODULES = sorted(p.stem for p in STUBS if p.stem != "__init__")

# Public modules that have no stub yet.  A new public module must come with a
# stub, or be listed here until it has one.
STUBS_PENDING: set[str] = set()

_NO_DEFAULT = object()
_KINDS = inspect.Parameter


# ------------------------------------------------------------------ parsing the stubs

def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _literal(node: ast.expr, where: str):
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise AssertionError(f"{where}: default {ast.unparse(node)!r} is not a literal") from None
    if value is Ellipsis:
        raise AssertionError(f"{where}: write the default's value, not '...'")
    return value


def _stub_params(fn: ast.FunctionDef, where: str, method: bool = False):
    """[(name, kind, default)] of a stub function, defaults evaluated."""
    a = fn.args
    positional = [(arg, _KINDS.POSITIONAL_ONLY) for arg in a.posonlyargs]
    positional += [(arg, _KINDS.POSITIONAL_OR_KEYWORD) for arg in a.args]
    defaults = [_NO_DEFAULT] * (len(positional) - len(a.defaults)) + [
        _literal(d, where) for d in a.defaults]
    params = [(arg.arg, kind, d) for (arg, kind), d in zip(positional, defaults)]
    if a.vararg:
        params.append((a.vararg.arg, _KINDS.VAR_POSITIONAL, _NO_DEFAULT))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append((arg.arg, _KINDS.KEYWORD_ONLY,
                       _NO_DEFAULT if d is None else _literal(d, where)))
    if a.kwarg:
        params.append((a.kwarg.arg, _KINDS.VAR_KEYWORD, _NO_DEFAULT))
    return params[1:] if method else params


def _is_overload(fn: ast.FunctionDef) -> bool:
    return any((isinstance(d, ast.Name) and d.id == "overload")
               or (isinstance(d, ast.Attribute) and d.attr == "overload")
               for d in fn.decorator_list)


def _stub_contents(tree: ast.Module):
    """(functions: name -> [FunctionDef], classes: name -> ClassDef, other
    names (annotated variables and re-exports): set, __all__ or None)."""
    functions: dict[str, list[ast.FunctionDef]] = {}
    classes: dict[str, ast.ClassDef] = {}
    names: set[str] = set()
    all_ = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            # __all__; otherwise a stub-only type alias or TypeVar: not checked
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id == "__all__":
                    all_ = ast.literal_eval(node.value)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                # only "import x as x" re-exports (PEP 484)
                if alias.asname is not None and alias.asname == alias.name:
                    names.add(alias.asname)
    return functions, classes, names, all_


def _runtime_params(obj, method: bool = False):
    sig = inspect.signature(obj)
    params = [(p.name, p.kind, _NO_DEFAULT if p.default is p.empty else p.default)
              for p in sig.parameters.values()]
    return params[1:] if method else params


def _same_default(a, b) -> bool:
    return a is b or (type(a) is type(b) and a == b)


def _signature_problems(stub_defs, runtime_obj, where: str, method: bool = False):
    """Differences between a stub function (its overloads) and the code."""
    runtime = _runtime_params(runtime_obj, method)
    problems = []
    overloaded = len(stub_defs) > 1 or _is_overload(stub_defs[0])
    if len(stub_defs) > 1 and not all(_is_overload(d) for d in stub_defs):
        problems.append(f"{where}: several definitions without @overload")
    for i, fn in enumerate(stub_defs):
        label = f"{where} (overload {i + 1})" if overloaded else where
        stub = _stub_params(fn, label, method)
        if [p[0] for p in stub] != [p[0] for p in runtime]:
            problems.append(f"{label}: parameters {[p[0] for p in stub]} != "
                            f"{[p[0] for p in runtime]} in the code")
            continue
        for (name, skind, sdef), (_, rkind, rdef) in zip(stub, runtime):
            narrowed = (overloaded and rkind is _KINDS.POSITIONAL_OR_KEYWORD
                        and skind in (_KINDS.POSITIONAL_ONLY, _KINDS.KEYWORD_ONLY))
            if skind is not rkind and not narrowed:
                problems.append(f"{label}: {name} is {skind.description} in the stub, "
                                f"{rkind.description} in the code")
            if sdef is _NO_DEFAULT:
                if rdef is not _NO_DEFAULT and not overloaded:
                    problems.append(f"{label}: {name} has no default in the stub, "
                                    f"{rdef!r} in the code")
            elif rdef is _NO_DEFAULT:
                problems.append(f"{label}: {name} has default {sdef!r} in the stub, "
                                "none in the code")
            elif not _same_default(sdef, rdef):
                problems.append(f"{label}: {name} defaults to {sdef!r} in the stub, "
                                f"{rdef!r} in the code")
    return problems


# ------------------------------------------------------------------ drift tests

def test_py_typed_and_stubs_are_shipped():
    assert (PKG_DIR / "py.typed").is_file()
    assert (PKG_DIR / "__init__.pyi").is_file()
    pyproject = HERE.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source tree")
    text = pyproject.read_text()
    # [tool.setuptools.package-data] must ship them in wheels
    assert '"py.typed"' in text and '"*.pyi"' in text


@pytest.mark.parametrize("module", STUB_MODULES)
def test_stub_matches_module(module):
    """Every stub function (private ones too: other modules use them) exists and
    has the code's signature; ``__all__`` agrees; public names are stubbed."""
    mod = import_or_skip(f"fastsoftmax.{module}")   # fastsoftmax.dask needs Dask
    functions, classes, names, stub_all = _stub_contents(_parse(PKG_DIR / f"{module}.pyi"))
    problems = []
    runtime_all = getattr(mod, "__all__", None)
    if stub_all is not None or runtime_all is not None:
        if sorted(stub_all or []) != sorted(runtime_all or []):
            problems.append(f"__all__ differs: stub {stub_all}, code {runtime_all}")
    for name in runtime_all or []:
        if name not in functions and name not in classes and name not in names:
            problems.append(f"{name} is public but missing from the stub")
    for name, defs in functions.items():
        obj = getattr(mod, name, None)
        if obj is None:
            problems.append(f"{name} is in the stub but not in the code")
            continue
        problems += _signature_problems(defs, obj, f"{module}.{name}")
    for name, cls in classes.items():
        obj = getattr(mod, name, None)
        if not isinstance(obj, type):
            problems.append(f"class {name} is in the stub but not a class in the code")
            continue
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                problems += _signature_problems([node], obj.__init__,
                                                f"{module}.{name}.__init__", method=True)
    for name in names:
        if not hasattr(mod, name):
            problems.append(f"{name} is in the stub but not in the code")
    assert not problems, "\n".join(problems)


def test_init_stub_reexports_exactly_the_public_api():
    tree = _parse(PKG_DIR / "__init__.pyi")
    _, _, names, stub_all = _stub_contents(tree)
    assert sorted(stub_all) == sorted(fastsoftmax.__all__)
    missing = set(fastsoftmax.__all__) - names
    assert not missing, f"not re-exported by __init__.pyi: {sorted(missing)}"
    # each re-export names the module the object really comes from
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            mod = importlib.import_module(f"fastsoftmax.{node.module}")
            for alias in node.names:
                assert getattr(fastsoftmax, alias.asname) is getattr(mod, alias.name), (
                    f"fastsoftmax.{alias.asname} is not fastsoftmax.{node.module}.{alias.name}")
    # ... and every defining module of a public function has a stub
    for name in fastsoftmax.__all__:
        obj = getattr(fastsoftmax, name)
        if callable(obj):
            module = obj.__module__.rpartition(".")[2]
            assert module in STUB_MODULES, f"{name}: fastsoftmax.{module} has no stub"


def test_public_modules_have_stubs():
    public = {m.name for m in pkgutil.iter_modules([str(PKG_DIR)])
              if not m.name.startswith("_")}
    missing = public - set(STUB_MODULES)
    assert missing == STUBS_PENDING, (
        f"public modules without a stub: {sorted(missing)}; expected only "
        f"{sorted(STUBS_PENDING)} (add a stub, or update STUBS_PENDING)")


def test_signature_checker_catches_drift():
    """The checker itself: a renamed, re-kinded or re-defaulted parameter fails."""
    def f(x, axis=-1, *, out=None):
        pass

    def defs(src):
        return _stub_contents(ast.parse(textwrap.dedent(src)))[0]["f"]

    assert not _signature_problems(defs("def f(x, axis: int = -1, *, out=None): ..."), f, "f")
    for bad in ["def f(x, ax=-1, *, out=None): ...",
                "def f(x, axis=-1, out=None): ...",
                "def f(x, axis=1, *, out=None): ...",
                "def f(x, axis=-1.0, *, out=None): ...",
                "def f(x, axis, *, out=None): ...",
                "def f(x, axis=-1, *, out=None, num_threads=None): ..."]:
        assert _signature_problems(defs(bad), f, "f"), bad
    with pytest.raises(AssertionError, match="not '...'"):
        _signature_problems(defs("def f(x, axis=..., *, out=None): ..."), f, "f")
    # overloads may narrow: keyword-only, no default, a literal default
    ok = """
        @overload
        def f(x, axis: None, *, out: None = None): ...
        @overload
        def f(x, axis=-1, *, out=None): ...
    """
    assert not _signature_problems(defs(ok), f, "f")


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
"""


@pytest.fixture(scope="module")
def mypy_results(request, tmp_path_factory):
    """{file name: [(line, message)]} from one ``mypy --strict`` run over the
    usage file and the misuse file."""
    pytest.importorskip("mypy")
    work = tmp_path_factory.mktemp("typing")
    (work / "misuse.py").write_text(textwrap.dedent(MISUSES))
    usage = work / "typing_usage.py"
    usage.write_text((HERE / "typing_usage.py").read_text())
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir("mypy") if cache is not None else work / ".mypy_cache"
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "MYPY_FORCE_COLOR")}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--show-error-codes", "--no-pretty", "--cache-dir", str(cache_dir),
         str(usage), str(work / "misuse.py")],
        cwd=work, capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        pytest.fail(f"mypy did not run: rc={proc.returncode}\n{proc.stderr}\n{proc.stdout}")
    results: dict[str, list[tuple[int, str]]] = {"typing_usage.py": [], "misuse.py": []}
    for line in proc.stdout.splitlines():
        path, sep, rest = line.partition(".py:")
        if not sep:
            continue
        lineno, _, message = rest.partition(":")
        if " error:" in f" {message}" or message.strip().startswith("error"):
            results.setdefault(Path(path + ".py").name, []).append((int(lineno), line))
    return results


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
