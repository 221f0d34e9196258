"""Side-by-side timing: fastsoftmax vs the NumPy reference vs torch (CPU).

PYTHONPATH=/work/perf/src python tools/bench.py [--threads 2] [--reps 7]
    [--ops softmax,log_softmax,logsumexp] [--shapes 1000000x10,...] [--no-ref]
Prints median times (ms), ratios and GB/s (bytes read + written / time).
"""
import argparse
import time

import numpy as np

import fastsoftmax
from fastsoftmax import _reference as ref

SHAPES = [(1_000_000, 10), (200_000, 100), (20_000, 1000), (2048, 32000),
          (32, 256000), (8, 10)]


MIN = False


def med(fn, reps, inner=1):
    ts = []
    fn()
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t0) / inner)
    return float(np.min(ts)) if MIN else float(np.median(ts))


def copy_bw(reps):
    a = np.ones(64 << 20, np.float32)
    b = np.empty_like(a)
    t = med(lambda: np.copyto(b, a), reps)
    return 2 * a.nbytes / t / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--min", action="store_true", help="report the minimum, not the median")
    p.add_argument("--ops", default="softmax,log_softmax,logsumexp")
    p.add_argument("--shapes", default=None)
    p.add_argument("--no-ref", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--dtype", default="float32")
    a = p.parse_args()
    global MIN
    MIN = a.min
    dt = np.dtype(a.dtype)
    shapes = SHAPES if a.shapes is None else [tuple(int(v) for v in s.split("x"))
                                             for s in a.shapes.split(",")]
    torch = None
    if not a.no_torch:
        import torch
        torch.set_num_threads(a.threads)
    fastsoftmax.set_num_threads(a.threads)   # default-argument calls, as users make them
    print(f"fastsoftmax {fastsoftmax.__file__}  isa={fastsoftmax._core.isa_selected()}"
          f"  threads={a.threads}")
    print(f"copy bandwidth (np.copyto 256 MiB f32, 1 thread): {copy_bw(a.reps):.1f} GB/s")
    rng = np.random.default_rng(0)
    print(f"{'op':12s} {'shape':>16s} {'fsm ms':>9s} {'GB/s':>6s} {'ref ms':>9s} "
          f"{'ref/fsm':>8s} {'torch ms':>9s} {'tch/fsm':>8s}")
    for shape in shapes:
        x = (rng.standard_normal(shape) * 3).astype(dt)
        n = x.size
        inner = max(1, int(2e6 // n)) if n < 2e6 else 1
        tx = torch.from_numpy(x) if torch is not None else None
        for op in a.ops.split(","):
            f = getattr(fastsoftmax, op)
            t_f = med(lambda f=f, x=x: f(x), a.reps, inner)
            outb = n * dt.itemsize if op != "logsumexp" else shape[0] * dt.itemsize
            gbs = (n * dt.itemsize + outb) / t_f / 1e9
            t_r = float("nan")
            if not a.no_ref:
                rf = getattr(ref, op)
                t_r = med(lambda rf=rf, x=x: rf(x, axis=-1, dtype=dt.type),
                          max(3, a.reps // 2), inner)
            t_t = float("nan")
            if torch is not None:
                tf = {"softmax": lambda tx=tx: torch.softmax(tx, dim=-1),
                      "log_softmax": lambda tx=tx: torch.log_softmax(tx, dim=-1),
                      "logsumexp": lambda tx=tx: torch.logsumexp(tx, dim=-1)}[op]
                t_t = med(tf, a.reps, inner)
            print(f"{op:12s} {str(shape):>16s} {t_f*1e3:9.3f} {gbs:6.1f} {t_r*1e3:9.3f} "
                  f"{t_r/t_f:8.1f} {t_t*1e3:9.3f} {t_t/t_f:8.2f}", flush=True)


if __name__ == "__main__":
    main()
