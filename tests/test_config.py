"""fastsoftmax.show_config(): what it prints and returns."""
from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core, _threads

SECTIONS = ["fastsoftmax", "build", "runtime", "platform", "dependencies"]


def _quiet():
    return fs.show_config(mode="dicts")


def test_returns_the_documented_sections():
    cfg = _quiet()
    assert list(cfg) == SECTIONS
    assert cfg["fastsoftmax"]["version"] == fs.__version__
    assert os.path.samefile(cfg["fastsoftmax"]["path"], os.path.dirname(fs.__file__))
    assert cfg["build"]["openmp"] is fs.openmp_enabled()
    assert cfg["build"]["isa_compiled"] == _core.isa_compiled()
    assert cfg["runtime"]["isa_selected"] == _core.isa_selected()
    assert cfg["runtime"]["num_threads"] == fs.get_num_threads()
    assert cfg["runtime"]["omp_max_threads"] == _core.omp_max_threads()
    assert cfg["runtime"]["available_cpus"] == _threads._available_cpus()
    assert cfg["runtime"]["os_cpu_count"] == os.cpu_count()
    assert cfg["runtime"]["OMP_NUM_THREADS"] == os.environ.get("OMP_NUM_THREADS")
    assert cfg["dependencies"]["numpy"] == np.__version__


def test_selected_isa_is_one_of_the_compiled():
    cfg = _quiet()
    selected = cfg["runtime"]["isa_selected"].split(" (")[0]
    assert selected in cfg["build"]["isa_compiled"]


def test_compiler_is_read_from_the_extension():
    compiler = _quiet()["build"]["compiler"]
    if compiler is None:
        pytest.skip("the extension records no compiler (stripped, or not GCC/clang)")
    assert re.match(r"(GCC \(.*\) \d|.*clang version \d)", compiler), compiler


def test_follows_the_thread_settings():
    fs.set_num_threads(1)
    cfg = _quiet()
    assert cfg["runtime"]["num_threads"] == 1
    assert cfg["runtime"]["set_num_threads"] == 1
    fs.set_num_threads(None)
    assert _quiet()["runtime"]["set_num_threads"] is None
    with fs.num_threads(1):
        assert _quiet()["runtime"]["num_threads"] == 1


def test_prints_every_value_and_returns_none(capsys):
    """Printed or returned, never both: a shell would echo the dict."""
    assert fs.show_config() is None
    printed = capsys.readouterr().out
    cfg = fs.show_config(mode="dicts")
    assert capsys.readouterr().out == ""
    for section, values in cfg.items():
        assert f"{section}:\n" in printed
        for key, value in values.items():
            assert f"  {key}: {value}\n" in printed


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be"):
        fs.show_config(mode="dict")


def test_file_argument(capsys):
    buf = io.StringIO()
    fs.show_config(file=buf)
    assert capsys.readouterr().out == ""
    assert buf.getvalue().startswith("fastsoftmax:\n  version: ")


def test_does_not_import_optional_packages():
    import subprocess
    import sys
    code = ("import io, sys, fastsoftmax; fastsoftmax.show_config(io.StringIO()); "
            "print(any(m.split('.')[0] in ('scipy', 'torch') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_dir_lists_the_public_names_only():
    names = dir(fs)
    assert set(fs.__all__) <= set(names)
    assert {"dask", "scipy", "slow", "torch"} <= set(names)
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    assert not {"PackageNotFoundError", "linear", "losses", "softmax_module"} & set(names)


def test_public_submodules_import_on_access():
    import subprocess
    import sys
    code = ("import sys, fastsoftmax; assert 'fastsoftmax.slow' not in sys.modules; "
            "fastsoftmax.slow.softmax; print(fastsoftmax.slow.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "fastsoftmax.slow"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = fs.nope
