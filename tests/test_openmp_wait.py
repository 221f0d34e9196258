"""The spin setting of the OpenMP runtime (fastsoftmax._openmp_wait): applied
only while the extensions load, never over a user's setting, never left in
the environment, and really read by libgomp.  Policy only: no timing."""
import os
import subprocess
import sys
import textwrap

import pytest

import fastsoftmax as fs
from fastsoftmax import _openmp_wait
from fastsoftmax._openmp_wait import SPINCOUNT, loading, mapped_libgomp, user_setting

MAPS_LINE = ("7f6769563000-7f676956c000 r--p 00000000 08:01 1234   {}\n")
NO_GOMP = (MAPS_LINE.format("/usr/lib/x86_64-linux-gnu/libc.so.6")
           + "7ffd2a1e5000-7ffd2a206000 rw-p 00000000 00:00 0      [stack]\n"
           + "7f67695f0000-7f67695f2000 rw-p 00000000 00:00 0 \n")


@pytest.fixture(autouse=True)
def _keep_state():
    saved = dict(_openmp_wait._state)
    yield
    _openmp_wait._state.update(saved)


def _maps(tmp_path, *libs):
    path = tmp_path / "maps"
    path.write_text(NO_GOMP + "".join(MAPS_LINE.format(lib) for lib in libs))
    return str(path)


def test_mapped_libgomp(tmp_path):
    assert mapped_libgomp(_maps(tmp_path)) == frozenset()
    libs = ["/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0",
            "/site-packages/torch/lib/libgomp.so.1",
            "/site-packages/scikit_learn.libs/libgomp-a34b3233.so.1.0.0"]
    assert mapped_libgomp(_maps(tmp_path, *libs, libs[0])) == frozenset(libs)
    assert mapped_libgomp(str(tmp_path / "missing")) is None


def test_user_setting():
    assert user_setting({"PATH": "/bin", "OMP_NUM_THREADS": "2"}) == {}
    for env in ({"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "0"},
                {"OMP_WAIT_POLICY_ALL": "PASSIVE"}, {"GOMP_SPINCOUNT": ""}):
        assert user_setting(dict(env, PATH="/bin")) == env
    assert user_setting({"OMP_WAIT_POLICYX": "1"}) == {}


def test_set_while_loading_then_removed(tmp_path):
    maps = _maps(tmp_path)
    env = {"PATH": "/bin"}
    with loading(env, maps):
        assert env["GOMP_SPINCOUNT"] == SPINCOUNT
        # the block loads a libgomp: it read the setting
        maps = _maps(tmp_path, "/usr/lib/libgomp.so.1")
    assert env == {"PATH": "/bin"}
    assert _openmp_wait.describe() == (f"GOMP_SPINCOUNT={SPINCOUNT} (set by fastsoftmax "
                                       "when libgomp was loaded)")


def test_not_applied_when_the_runtime_was_already_loaded(tmp_path):
    maps = _maps(tmp_path, "/site-packages/torch/lib/libgomp.so.1")
    env = {}
    with loading(env, maps):
        pass                               # the kernels share the loaded runtime
    assert env == {}
    assert not _openmp_wait._state["applied"]
    assert _openmp_wait.describe() == "runtime default (libgomp was loaded before fastsoftmax)"


def test_user_settings_are_left_alone(tmp_path):
    for user in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"},
                 {"OMP_WAIT_POLICY_ALL": "passive"}):
        env = dict(user)
        with loading(env, _maps(tmp_path)):
            assert env == user
        assert env == user
        assert _openmp_wait.describe().startswith("set by the user: ")


def test_nothing_without_proc(tmp_path):
    env = {}
    with loading(env, str(tmp_path / "missing")):
        assert env == {}
    assert _openmp_wait.describe() == "runtime default"


def test_restored_when_the_import_fails(tmp_path):
    env = {}
    with pytest.raises(ImportError):
        with loading(env, _maps(tmp_path)):
            raise ImportError("no kernels")
    assert env == {}


def test_a_value_changed_inside_the_block_is_kept(tmp_path):
    env = {}
    with loading(env, _maps(tmp_path)):
        env["GOMP_SPINCOUNT"] = "7"        # someone else's: not ours to remove
    assert env == {"GOMP_SPINCOUNT": "7"}


# ------------------------------------------------------------ in a real process

def _run(code, **env):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DISPLAY_ENV"))}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


needs_libgomp = pytest.mark.skipif(
    not fs.openmp_enabled() or not os.path.exists("/proc/self/maps"),
    reason="needs OpenMP and Linux /proc")


@needs_libgomp
def test_libgomp_reads_the_setting():
    # OMP_DISPLAY_ENV=verbose makes libgomp print the values it read at load
    proc = _run("""
        import os, fastsoftmax
        from fastsoftmax import _openmp_wait
        print("GOMP_SPINCOUNT" in os.environ, _openmp_wait.describe())
    """, OMP_DISPLAY_ENV="verbose")
    if "GOMP_SPINCOUNT = " not in proc.stderr:
        pytest.skip("the OpenMP runtime is not GNU libgomp")
    if "loaded before" in proc.stdout:
        pytest.skip("a libgomp is loaded before fastsoftmax in a bare interpreter")
    assert f"GOMP_SPINCOUNT = '{SPINCOUNT}'" in proc.stderr
    assert proc.stdout.split()[0] == "False"          # not left in the environment
    assert "set by fastsoftmax" in proc.stdout


@needs_libgomp
def test_libgomp_keeps_the_users_setting():
    proc = _run("""
        import os, fastsoftmax
        from fastsoftmax import _openmp_wait
        print(os.environ["GOMP_SPINCOUNT"], _openmp_wait.describe())
    """, OMP_DISPLAY_ENV="verbose", GOMP_SPINCOUNT="123")
    if "GOMP_SPINCOUNT = " not in proc.stderr:
        pytest.skip("the OpenMP runtime is not GNU libgomp")
    assert "GOMP_SPINCOUNT = '123'" in proc.stderr
    assert proc.stdout.strip() == "123 set by the user: GOMP_SPINCOUNT=123"


@needs_libgomp
def test_a_runtime_loaded_first_keeps_its_settings():
    torch_check = _run("import importlib.util as u; print(u.find_spec('torch') is not None)")
    if torch_check.stdout.strip() != "True":
        pytest.skip("torch is not installed")
    proc = _run("""
        import torch, os, fastsoftmax
        from fastsoftmax import _openmp_wait
        print("GOMP_SPINCOUNT" in os.environ, _openmp_wait.describe())
    """, OMP_DISPLAY_ENV="verbose")
    in_env, described = proc.stdout.split(None, 1)
    assert in_env == "False"
    if "loaded before" in described:
        # the kernels share torch's libgomp, which read its environment when
        # torch loaded it: the default spin
        assert described.strip() == "runtime default (libgomp was loaded before fastsoftmax)"
        assert f"GOMP_SPINCOUNT = '{SPINCOUNT}'" not in proc.stderr
    else:
        # torch has a copy of its own (or another OpenMP): the kernels' is new
        assert "set by fastsoftmax" in described


def test_show_config_reports_it():
    cfg = fs.show_config(mode="dicts")
    assert cfg["runtime"]["openmp_wait"] == _openmp_wait.describe()
