"""Kernel-only A/B timing (preallocated out): run once per build, same shapes.
PYTHONPATH=<build>/src python tools/ab.py [threads] [reps] [dtype]"""
import sys
import time
import numpy as np
import fastsoftmax as fs
nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 9
dt = np.dtype(sys.argv[3] if len(sys.argv) > 3 else "float32")
shapes = [(1_000_000, 10), (200_000, 100), (20_000, 1000), (2048, 32000), (32, 256000)]
rng = np.random.default_rng(0)
print(fs.__file__, "threads", nt, dt)
for shape in shapes:
    x = (rng.standard_normal(shape) * 3).astype(dt)
    for op in ("softmax", "log_softmax", "logsumexp"):
        out = np.empty(shape[0] if op == "logsumexp" else shape, dt)
        f = getattr(fs, op)
        f(x, out=out, num_threads=nt)
        ts, cs = [], []
        for _ in range(reps):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            f(x, out=out, num_threads=nt)
            ts.append(time.perf_counter() - t0)
            cs.append(time.thread_time() - c0)
        t = np.median(ts)
        gb = (x.nbytes + out.nbytes) / t / 1e9
        print(f"{op:12s} {str(shape):>16s} wall med {t*1e3:8.2f} min {min(ts)*1e3:8.2f} ms "
              f"{gb:6.1f} GB/s  cpu(1t) min {min(cs)*1e3:8.2f} ms", flush=True)
