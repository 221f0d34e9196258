"""What the idle-thread spin setting costs: per-call time of small and mid-size
calls on two threads (and one), back to back and after a pause of busy work,
for several ``GOMP_SPINCOUNT`` values (0 = sleep at once, like
``OMP_WAIT_POLICY=PASSIVE``).

    python tools/spin_cost.py [--spins 300000,100000,10000,0] [--repeat 3]
        [--shapes 64x1024,256x1024,1000x1000] [--gaps 0,500,2000] [--calls 300]

libgomp reads the setting once, when it is loaded, so every value runs in its
own interpreter; the interpreters alternate (``--repeat`` times each) and the
table shows, per case, the 10th percentile and the median of the per-call
times (medians over the repeats).  Also prints how much CPU one idle thread
burns after a call.  Run it on a quiet machine: under contention the numbers
measure the scheduler, not the setting.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import fastsoftmax as fs
shapes, gaps, calls = json.loads(sys.argv[1])

def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

out = {}
rng = np.random.default_rng(0)
for shape in shapes:
    x = rng.standard_normal(shape, dtype=np.float32)
    o = np.empty_like(x)
    for gap in gaps:
        for nt in (2, 1):
            ts = []
            for _ in range(calls):
                if gap:
                    busy(gap * 1e-6)
                t0 = time.perf_counter()
                fs.softmax(x, out=o, num_threads=nt)
                ts.append(time.perf_counter() - t0)
            p10, p50 = np.percentile(ts, [10, 50])
            out[f"{shape[0]}x{shape[1]} gap {gap:>5d} us, {nt} thr"] = (p10, p50)
# CPU an idle thread burns after a call: process CPU time during a sleep
x = rng.standard_normal((2048, 3200), dtype=np.float32)
burnt = []
for _ in range(5):
    fs.softmax(x, num_threads=2)
    c0 = time.process_time()
    time.sleep(0.1)
    burnt.append(time.process_time() - c0)
out["CPU burnt after a call (ms)"] = (float(np.median(burnt)) * 1e3, float(max(burnt)) * 1e3)
print(json.dumps(out))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spins", default="300000,100000,10000,0")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--shapes", default="64x1024,256x1024,1000x1000")
    p.add_argument("--gaps", default="0,500,2000",
                   help="microseconds of busy work before each call")
    p.add_argument("--calls", type=int, default=300)
    a = p.parse_args(argv)
    spins = a.spins.split(",")
    shapes = [[int(v) for v in s.split("x")] for s in a.shapes.split(",")]
    gaps = [int(g) for g in a.gaps.split(",")]
    arg = json.dumps([shapes, gaps, a.calls])
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))}
    runs: dict[str, list[dict]] = {s: [] for s in spins}
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for _ in range(a.repeat):
        for s in spins:
            proc = subprocess.run([sys.executable, "-c", CHILD, arg], capture_output=True,
                                  text=True, check=True, env=dict(env, GOMP_SPINCOUNT=s))
            runs[s].append(json.loads(proc.stdout))
    cases = list(runs[spins[0]][0])
    print(f"{'case (us per call: p10 / median)':34s} "
          + " ".join(f"{'spin ' + s:>17s}" for s in spins))
    for case in cases:
        scale = 1.0 if case.startswith("CPU") else 1e6
        cells = []
        for s in spins:
            lo = statistics.median(r[case][0] for r in runs[s]) * scale
            mid = statistics.median(r[case][1] for r in runs[s]) * scale
            cells.append(f"{lo:8.1f}/{mid:<8.1f}")
        print(f"{case:34s} " + " ".join(cells))
    print(f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
