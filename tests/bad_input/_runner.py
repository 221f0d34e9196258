"""Run a table of cases in a child interpreter, so that a crash is a test
failure naming the case, not the end of the test session.

``run_cases(module_file, n_cases)`` imports ``module_file`` in a child,
takes its ``CASES`` (objects with ``id``, ``fn``, ``build()`` and optionally
``limit_as``) and runs them one after the other.  Before each case the
child prints ``START <index> <id>`` (flushed); after it ``RESULT <base64
pickle>`` with the outcome: what the call returned or raised, copies of the
inputs taken before the call, and the names of the inputs the call
modified.  If the child dies (segfault, abort, libgomp's exit, a hang
stopped by faulthandler) the parent records the case that was running as
``crashed`` (with the return code, the signal name and the tail of stderr)
and starts a new child at the next case, so that one crash neither hides the
other outcomes nor passes unnoticed.

The child only calls fastsoftmax: the references are computed by the parent
from the input copies the child sends back.
"""
from __future__ import annotations

import base64
import copy
import importlib.util
import os
import pickle
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:      # when run as the child script
    sys.path.insert(0, TESTS)

from _subproc import _child_env, describe_returncode  # noqa: E402

# A case that runs longer than this is a hang: faulthandler dumps the stacks
# and ends the child, which the parent reports as a crash of that case.
CASE_TIMEOUT = 60.0


# --------------------------------------------------------------- child side

def _snapshot(value):
    """A copy of an input to compare with after the call (arrays: exact
    contents, memmaps and broadcast views as plain arrays)."""
    import numpy as np
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True, subok=False)
    if isinstance(value, (list, tuple, dict)):
        return copy.deepcopy(value)
    return value


def _same(before, after) -> bool:
    import numpy as np
    if isinstance(after, np.ma.MaskedArray):     # its data, not the filled view
        after = np.ma.getdata(after)
    if isinstance(before, np.ndarray):
        after = np.asarray(after)
        if before.shape != after.shape or before.dtype != after.dtype:
            return False
        if before.dtype.kind == "O":
            return repr(before.tolist()) == repr(after.tolist())
        return before.tobytes() == np.ascontiguousarray(after).tobytes()
    return repr(before) == repr(after)


def _plain(value):
    """Something picklable in a bare interpreter (no test-module classes)."""
    import numpy as np
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True, subok=False)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (list, dict, str, int, float, complex, bool, type(None), np.generic)):
        return value
    return repr(value)


def _identities(result, named) -> dict:
    """{"": name} if the result is the argument ``name`` itself (out=), and
    {"0": .., "1": ..} for the items of a returned tuple (grad_out=)."""
    import numpy as np
    items = [("", result)]
    if isinstance(result, tuple):
        items += [(str(i), r) for i, r in enumerate(result)]
    found = {}
    for path, obj in items:
        for k, v in named.items():
            if isinstance(v, np.ndarray) and v is obj:
                found[path] = k
    return found


def _limit_address_space(extra_bytes: int):
    """Cap this process's address space at its current size + extra_bytes
    (a thread storm then fails fast instead of taking the machine)."""
    import resource
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    old = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, old[1]))
    return old


def _run_one(case) -> dict:
    import faulthandler
    import resource
    args, kwargs = case.build()
    named = {f"arg{i}": a for i, a in enumerate(args)}
    named.update(kwargs)
    snaps = {k: _snapshot(v) for k, v in named.items()}
    old_limit = None
    if getattr(case, "limit_as", False):
        old_limit = _limit_address_space(2 << 30)
    faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
    try:
        result = case.fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - everything is an outcome
        rec = {"status": "raised", "type": type(exc).__name__,
               "mro": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}
    else:
        rec = {"status": "returned", "result": _plain(result),
               "result_type": type(result).__name__,
               "identity": _identities(result, named)}
    finally:
        faulthandler.cancel_dump_traceback_later()
        if old_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, old_limit)
    rec["modified"] = [k for k in named if not _same(snaps[k], named[k])]
    rec["inputs"] = {k: _plain(v) for k, v in snaps.items()}
    rec["arg_names"] = list(named)
    rec["nargs"] = len(args)
    return rec


def _child_main(module_file: str, start: int) -> None:
    spec = importlib.util.spec_from_file_location("_case_table_module", module_file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    cases = mod.CASES
    out = sys.stdout
    for i in range(start, len(cases)):
        case = cases[i]
        out.write(f"START {i} {case.id}\n")
        out.flush()
        rec = _run_one(case)
        rec["id"] = case.id
        out.write("RESULT " + base64.b64encode(pickle.dumps(rec, protocol=4)).decode() + "\n")
        out.flush()
    out.write("DONE\n")
    out.flush()


# --------------------------------------------------------------- parent side

def run_table(module_file: str, n_cases: int, timeout: float = 900,
              env: dict | None = None) -> dict:
    """{case id: outcome dict} for every case of ``module_file``'s ``CASES``
    (see the module docstring).

    A crashed case has status "crashed" and fields returncode, how, stderr."""
    results: dict = {}
    start = 0
    restarts = 0
    while start < n_cases:
        cmd = [sys.executable, os.path.abspath(__file__), "child", module_file, str(start)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env=_child_env(env), cwd=TESTS)
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            rc = None
        last_start = None
        done = False
        for line in stdout.splitlines():
            if line.startswith("START "):
                _, idx, cid = line.split(" ", 2)
                last_start = (int(idx), cid)
            elif line.startswith("RESULT "):
                rec = pickle.loads(base64.b64decode(line[7:]))
                results[rec["id"]] = rec
                last_start = None
            elif line == "DONE":
                done = True
        if done:
            break
        if last_start is None:
            how = "timed out" if rc is None else describe_returncode(rc)
            raise RuntimeError(
                f"case-table child failed before running a case ({how}):\n{stderr[-4000:]}")
        idx, cid = last_start
        how = "timed out" if rc is None else describe_returncode(rc)
        results[cid] = {"status": "crashed", "id": cid, "returncode": rc, "how": how,
                        "stderr": stderr[-3000:]}
        start = idx + 1
        restarts += 1
        if restarts > 50:
            raise RuntimeError("more than 50 crashed cases; giving up")
    return results


def run_cases(module_file: str, n_cases: int) -> dict:
    """:func:`run_table`, tried again (up to three times) when the child could
    not even start (e.g. while the extension is being rebuilt)."""
    for attempt in range(3):
        try:
            return run_table(os.path.abspath(module_file), n_cases)
        except RuntimeError as exc:
            if attempt == 2 or "before running a case" not in str(exc):
                raise
            time.sleep(10)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        _child_main(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: _runner.py child MODULE_FILE START")
