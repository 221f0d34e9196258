"""Smoke test of an installed wheel, run by .ci/wheel_check.sh outside the source tree.

    python -I wheel_smoke.py          check this installation, every ISA level the CPU has
    python -I wheel_smoke.py --one    check the level FASTSOFTMAX_ISA names (a child run)
    python -I wheel_smoke.py --save FILE.npz      save a set of answers
    python -I wheel_smoke.py --compare FILE.npz   compare them bitwise with this installation's

Checks that ``fastsoftmax`` is the installed copy (not a checkout), that OpenMP
is enabled and its runtime is the libgomp bundled in the wheel, and, in one
subprocess per ISA level the CPU supports (``FASTSOFTMAX_ISA=avx512``,
``avx2``, ``baseline``), that the level is the one selected and that softmax,
log_softmax, logsumexp and cross_entropy (+ gradient) agree with a NumPy
float64 formula on a few shapes (float32: 1e-6 relative, float64: 1e-12),
and that 2 threads give bitwise the answers of 1.
"""
import os
import platform
import shutil
import subprocess
import sys

import numpy as np

import fastsoftmax as fs

# FASTSOFTMAX_ISA value -> (CPU flags it needs, text of the selected level's name)
LEVELS = {
    "avx512": ({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma",
                "bmi1", "bmi2", "f16c", "movbe"}, "x86-64-v4"),
    "avx2": ({"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"}, "x86-64-v3"),
    "baseline": (set(), "baseline"),
}
SHAPES = [(3, 5), (1000, 37), (64, 1000), (2048, 33), (1, 100_003)]
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def config():
    """show_config()'s values (``mode="dicts"``: returned, not printed)."""
    return fs.show_config(mode="dicts")


def cpu_levels():
    """The FASTSOFTMAX_ISA levels this CPU supports, best first."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return ["baseline"]
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    return [name for name, (need, _) in LEVELS.items() if need <= flags]


def close(got, want, rtol, what, atol=0.0):
    got = np.asarray(got, dtype=np.float64)
    err = np.abs(got - want) - rtol * np.abs(want) - atol
    if not np.all(err <= 0):
        i = np.unravel_index(np.argmax(err), np.shape(err)) if np.ndim(err) else ()
        raise AssertionError(f"{what}: got {got[i]!r}, want {np.asarray(want)[i]!r}")


def check_answers(dtype):
    rng = np.random.default_rng(0)
    rtol = RTOL[dtype]
    for n, c in SHAPES:
        x = (5 * rng.standard_normal((n, c))).astype(dtype)
        y = rng.integers(0, c, n)
        x64 = x.astype(np.float64)
        m = x64.max(axis=1, keepdims=True)
        e = np.exp(x64 - m)
        # log(sum) = log1p(sum of the others): log(1 + tiny) would lose the
        # precision the kernels keep (float64 log_softmax near 0)
        e[np.arange(n), x64.argmax(axis=1)] = 0.0
        others = e.sum(axis=1, keepdims=True)
        e[np.arange(n), x64.argmax(axis=1)] = 1.0
        lse = m + np.log1p(others)
        p = e / (1.0 + others)
        what = f"{np.dtype(dtype).name} {n}x{c}"
        close(fs.softmax(x), p, rtol, "softmax " + what)
        close(fs.log_softmax(x), (x64 - m) - np.log1p(others), rtol, "log_softmax " + what)
        close(fs.logsumexp(x), lse[:, 0], rtol, "logsumexp " + what)
        loss = np.mean(lse[:, 0] - x64[np.arange(n), y])
        close(fs.cross_entropy(x, y), loss, rtol, "cross_entropy " + what)
        onehot = np.zeros_like(p)
        onehot[np.arange(n), y] = 1.0
        got_loss, grad = fs.cross_entropy_and_grad(x, y)
        close(got_loss, loss, rtol, "cross_entropy_and_grad loss " + what)
        # the target class's p - 1 cancels: its error is relative to p, not to p - 1
        close(grad, (p - onehot) / n, rtol, "cross_entropy_and_grad grad " + what,
              atol=rtol * p / n)
        assert grad.dtype == dtype and fs.softmax(x).dtype == dtype


def check_threads():
    """2 threads give bitwise the answers of 1 (arrays large enough to split)."""
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((4000, 97)).astype(dtype)
        y = rng.integers(0, 97, 4000)
        runs = []
        for threads in (1, 2):
            with fs.num_threads(threads):
                loss, grad = fs.cross_entropy_and_grad(x, y)
                runs.append([fs.softmax(x), fs.log_softmax(x), fs.logsumexp(x),
                             np.asarray(fs.cross_entropy(x, y)), np.asarray(loss), grad])
        for a, b in zip(*runs):
            assert a.tobytes() == b.tobytes(), "2 threads differ from 1"


def check_one():
    """The child run: FASTSOFTMAX_ISA's level is selected and computes right."""
    request = os.environ["FASTSOFTMAX_ISA"]
    selected = config()["runtime"]["isa_selected"]
    assert LEVELS[request][1] in selected, f"FASTSOFTMAX_ISA={request} selected {selected!r}"
    for dtype in (np.float32, np.float64):
        check_answers(dtype)
    check_threads()
    print(f"  FASTSOFTMAX_ISA={request:8s} -> {selected}: answers and threads OK", flush=True)


def answers():
    """A set of answers, special values included, to compare bitwise between builds."""
    rng = np.random.default_rng(7)
    out = {}
    for dtype in (np.float32, np.float64):
        x = (10 * rng.standard_normal((3000, 37))).astype(dtype)
        x[0, 3], x[1, :], x[2, 5] = np.inf, -np.inf, np.nan
        y = rng.integers(0, 37, 3000)
        y[::7] = -100
        w = rng.random(37).astype(dtype)
        name = np.dtype(dtype).name
        out[f"softmax_{name}"] = fs.softmax(x)
        out[f"log_softmax_{name}"] = fs.log_softmax(x, axis=0)
        out[f"logsumexp_{name}"] = fs.logsumexp(x)
        out[f"sigmoid_{name}"] = fs.sigmoid(x)
        loss, grad = fs.cross_entropy_and_grad(x[3:], y[3:], weight=w, label_smoothing=0.1)
        out[f"ce_{name}"], out[f"ce_grad_{name}"] = np.asarray(loss), grad
        out[f"ce_none_{name}"] = fs.cross_entropy(x[3:], y[3:], reduction="none", z_loss=1e-4)
    return out


def compare(path):
    saved = np.load(path)
    mine = answers()
    assert sorted(saved.files) == sorted(mine), "different sets of answers"
    differ = [k for k in mine if saved[k].dtype != mine[k].dtype
              or saved[k].tobytes() != mine[k].tobytes()]
    assert not differ, f"answers differ from the other build: {differ}"
    print(f"{len(mine)} answers bitwise equal to the other build's")


def bundled_gomp():
    """The path of the OpenMP runtime loaded into this process."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libgomp" in line}
    assert len(paths) == 1, f"libgomp loaded: {sorted(paths) or 'none'}"
    return paths.pop()


def main():
    sys.stdout.reconfigure(line_buffering=True)   # in order with the children's output
    where = os.path.dirname(os.path.abspath(fs.__file__))
    print(f"fastsoftmax {fs.__version__} from {where}")
    assert where.startswith(os.path.realpath(sys.prefix)) or where.startswith(sys.prefix), \
        "fastsoftmax is not the copy installed in this environment"
    assert not os.path.exists(os.path.join(where, "..", "..", "setup.py")), "a source tree"
    for tool in ("cc", "gcc", "c++", "g++", "clang"):
        assert shutil.which(tool) is None, f"a compiler is on PATH: {shutil.which(tool)}"
    fs.show_config()
    from fastsoftmax import _core, _testing  # noqa: F401  (the production and the test-only module)
    cfg = config()
    assert fs.openmp_enabled(), "the wheel was built without OpenMP"
    assert cfg["build"].get("compiler"), "no compiler recorded in the extension modules"
    gomp = bundled_gomp()
    assert os.path.realpath(gomp).startswith(os.path.realpath(os.path.dirname(where))) and \
        "fastsoftmax.libs" in gomp, f"libgomp is not the bundled one: {gomp}"
    print(f"OpenMP runtime: {gomp}")
    levels = cpu_levels()
    compiled = cfg["build"]["isa_compiled"]
    for name in levels:
        if LEVELS[name][1] not in compiled:
            raise AssertionError(f"the CPU has {name} but the wheel has only {compiled!r}")
    print(f"ISA levels of this CPU: {', '.join(levels)}")
    for name in levels:
        env = dict(os.environ, FASTSOFTMAX_ISA=name)
        subprocess.run([sys.executable, "-I", os.path.abspath(__file__), "--one"], env=env,
                       check=True)
    print("wheel smoke test passed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--one"]:
        check_one()
    elif sys.argv[1:2] == ["--save"]:
        np.savez(sys.argv[2], **answers())
    elif sys.argv[1:2] == ["--compare"]:
        compare(sys.argv[2])
    else:
        main()
