"""Default thread count against one thread (and NumPy) while another process
keeps one CPU busy.

    python tools/under_load.py [--quiet] [--rounds 9] [--shapes 2048x32000,...]
        [--ops softmax,...] [--no-numpy] [--busy-cpu N] [--json out.json]

Starts a busy loop pinned to one CPU (the last one this process may use,
or ``--busy-cpu``), in a child process that stops by itself after
``--busy-timeout`` seconds and is killed when the measurement ends, then
times every op and shape three ways: the default thread count
(``num_threads=None``), ``num_threads=1`` and the NumPy formula a user would
write.  They are timed in rounds: each round times the default and one
thread back to back (in alternating order), then NumPy.  The table shows the
median times and the median over rounds of each round's ratio default /
1 thread (paired, so that load changing between rounds cancels out).  The
bar: with one CPU busy, no ratio above 1.10.

``--quiet`` skips the busy process: the quiet-machine comparison of the
default against one thread (run it on two builds, e.g. with PYTHONPATH
pointing at each, to compare the default of both).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np

import fastsoftmax
from fastsoftmax._bench import inputs, registry

OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_and_grad")
BAR = 1.10

# The busy loop: pure user-space work on one CPU, ending by itself so that a
# killed parent never leaves it running.
BUSY_LOOP = r"""
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
end = time.monotonic() + float(sys.argv[2])
print("ready", flush=True)
while time.monotonic() < end:
    pass
"""


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.lower().split("x"))


@contextlib.contextmanager
def busy_cpu(cpu: int | None, timeout: float):
    """Keep ``cpu`` busy in a child process for the duration of the block."""
    if cpu is None:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(cpu), str(timeout)],
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the busy process did not start")
        time.sleep(0.5)          # let the scheduler settle
        yield proc
    finally:
        proc.kill()
        proc.wait()


def sample(fn, min_seconds: float) -> float:
    """Seconds per call of fn, over back-to-back calls lasting min_seconds."""
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return elapsed / calls


def _one_thread(fn):
    def call():
        with fastsoftmax.num_threads(1):
            return fn()
    return call


def measure(op: registry.Op, shape, dtype: str, rounds: int, min_seconds: float,
            with_numpy: bool) -> dict:
    args = op.make_inputs(shape, dtype)
    fast = registry.bind(op.name, "fastsoftmax", args)
    variants = {"default": fast, "1 thread": _one_thread(fast)}
    if with_numpy:
        variants["numpy"] = registry.bind(op.name, "numpy", args)
    names = list(variants)
    for fn in variants.values():       # warm up: first touches of the outputs
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in names}
    threads_seen = set()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            # default and 1 thread back to back, in alternating order, so that
            # each round's ratio compares them under the same load
            pair = ["default", "1 thread"] if r % 2 == 0 else ["1 thread", "default"]
            for k in pair + names[2:]:
                times[k].append(sample(variants[k], min_seconds))
                if k == "default":
                    threads_seen.add(fastsoftmax.get_num_threads())
    finally:
        if gc_was_enabled:
            gc.enable()
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = np.array(times["default"]) / np.array(times["1 thread"])
    return {"op": op.name, "shape": list(shape), "threads": sorted(threads_seen),
            "median_s": med, "samples_s": times, "ratio": float(np.median(ratios))}


def fmt_ms(t: float) -> str:
    return f"{t * 1e3:10.3f}" if t >= 1e-3 else f"{t * 1e3:10.4f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quiet", action="store_true", help="no busy process")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--min-sample", type=float, default=0.02,
                   help="seconds of back-to-back calls per sample (default 0.02)")
    p.add_argument("--shapes", default=None,
                   help="comma-separated, e.g. 8x10,2048x32000 (default: the bench matrix)")
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--dtype", default="float32")
    p.add_argument("--no-numpy", action="store_true")
    p.add_argument("--busy-cpu", type=int, default=None,
                   help="CPU to keep busy (default: the last one this process may use)")
    p.add_argument("--busy-timeout", type=float, default=1800.0,
                   help="the busy process stops by itself after this many seconds")
    p.add_argument("--json", default=None, help="also write the results to this file")
    a = p.parse_args(argv)

    shapes = (list(inputs.DEFAULT_SHAPES) if a.shapes is None
              else [parse_shape(s) for s in a.shapes.split(",")])
    shapes.sort(key=lambda s: int(np.prod(s)))
    ops = [registry.OPS[name] for name in a.ops.split(",")]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    busy = None if a.quiet else (a.busy_cpu if a.busy_cpu is not None else cpus[-1])
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
           if k in os.environ}
    print(f"fastsoftmax {fastsoftmax.__version__} from {os.path.dirname(fastsoftmax.__file__)}")
    print(f"CPUs {cpus}, busy CPU: {busy if busy is not None else 'none (--quiet)'}, "
          f"load average {os.getloadavg()[0]:.2f}, environment {env or '{}'}, "
          f"default threads {fastsoftmax.get_num_threads()}, dtype {a.dtype}, "
          f"{a.rounds} rounds")
    head = (f"{'op':24s} {'shape':>14s} {'thr':>5s} {'default ms':>10s} "
            f"{'1 thread ms':>11s} {'numpy ms':>10s} {'def/1t':>7s}")
    results = []
    with busy_cpu(busy, a.busy_timeout):
        print(head)
        for shape in shapes:
            for op in ops:
                res = measure(op, shape, a.dtype, a.rounds, a.min_sample, not a.no_numpy)
                results.append(res)
                m = res["median_s"]
                flag = "  <-- over the bar" if res["ratio"] > BAR else ""
                numpy_ms = fmt_ms(m["numpy"]) if "numpy" in m else f"{'-':>10s}"
                print(f"{op.name:24s} {inputs.format_shape(shape):>14s} "
                      f"{'/'.join(map(str, res['threads'])):>5s} {fmt_ms(m['default'])} "
                      f"{fmt_ms(m['1 thread']):>11s} {numpy_ms} {res['ratio']:7.2f}{flag}",
                      flush=True)
            inputs.make_logits.cache_clear()
    worst = max(results, key=lambda r: r["ratio"])
    over = sum(r["ratio"] > BAR for r in results)
    print(f"worst default/1-thread ratio {worst['ratio']:.2f} ({worst['op']} "
          f"{inputs.format_shape(worst['shape'])}); {over} of {len(results)} over {BAR:.2f}; "
          f"load average now {os.getloadavg()[0]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"busy_cpu": busy, "cpus": cpus, "environment": env,
                       "rounds": a.rounds, "dtype": a.dtype, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
