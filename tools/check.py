"""Quick correctness check of the softmax family, with the largest errors
printed: float64 vs scipy.special and the reference ``fastsoftmax.slow``,
float32 vs the reference (max relative error), special-value rows, blocks of
-inf, signed zeros, thread-count bitwise equality, neighbour independence and
in-place operation.  Run from the project root as ``python tools/check.py``
(add ``PYTHONPATH=src`` to check an in-place build that is not installed)."""
import sys
import numpy as np
import scipy.special as sp
import fastsoftmax as fs
from fastsoftmax import slow

print(fs.__file__, fs._core.isa_selected())
rng = np.random.default_rng(1)
ok = True


def relerr(a, b, floor=0.0):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    fin = np.isfinite(b) & (np.abs(b) > 1e-30)
    same = ((np.isnan(a) == np.isnan(b)).all()
            and (a[~np.isfinite(b)] == b[~np.isfinite(b)]).sum() + np.isnan(b).sum()
            == (~np.isfinite(b)).sum())
    if not same:
        return np.inf
    if not fin.any():
        return 0.0
    return float(np.max(np.abs(a[fin] - b[fin]) / np.maximum(np.abs(b[fin]), floor)))


OPS = ["softmax", "log_softmax", "logsumexp"]


def ref(op, x):
    """The reference ``fastsoftmax.slow`` on a float64 copy of ``x``
    (extended precision, SciPy's special values)."""
    return getattr(slow, op)(np.asarray(x, dtype=np.float64))


shapes = [(3, 1), (5, 7), (4, 10), (7, 16), (9, 17), (33, 100), (5, 1000), (3, 2048), (3, 2049),
          (2, 5000), (2, 40000), (1000, 10), (2000, 3), (130, 33), (64, 64), (1, 300001)]
worst = {}
for shape in shapes:
    for scale in (1.0, 5.0, 30.0):
        x64 = rng.standard_normal(shape) * scale
        x32 = x64.astype(np.float32)
        for op in OPS:
            f = getattr(fs, op)
            e64 = relerr(f(x64, axis=-1), ref(op, x64))
            e32 = relerr(f(x32, axis=-1), ref(op, x32), 1.0 if op == "logsumexp" else 0.0)
            if op != "softmax":
                e64 = max(e64, relerr(f(x64, axis=-1), getattr(sp, op)(x64, axis=-1))
                          if op == "logsumexp" else 0)
            worst[(op, 'f64')] = max(worst.get((op, 'f64'), 0), e64)
            worst[(op, 'f32')] = max(worst.get((op, 'f32'), 0), e32)
            if e64 > 1e-13 or e32 > 1e-6:
                print("ACCURACY FAIL", op, shape, scale, e64, e32)
                ok = False
for k, v in sorted(worst.items()):
    print(f"  worst rel err {k[0]:12s} {k[1]}: {v:.3g}")

# special rows
inf, nan = np.inf, np.nan
rows = [[1, inf], [-inf, -inf], [nan, 1], [0, -40], [inf, nan], [-inf, 0], [inf, inf], [0, 0],
        [-inf, nan], [1e30, -1e30], [-1e30, -1e30], [3.0, -inf, 2.0], [-100, -200, -190]]
for dt in (np.float64, np.float32):
    for r in rows:
        for pad in (0, 15, 20, 2100):
            xr = np.array(r + [-inf] * pad, dtype=dt)[None, :]
            for op in OPS:
                with np.errstate(all="ignore"):
                    want = ref(op, xr)
                got = getattr(fs, op)(xr, axis=-1)
                e = relerr(got, want)
                tol = 1e-13 if dt == np.float64 else 1e-6
                if not e <= tol:
                    print("SPECIAL FAIL", dt.__name__, op, r, pad, got, want)
                    ok = False
    # many small special rows in one array (chunked small-row path)
    for n in (2, 3, 10, 16):
        xr = rng.standard_normal((500, n)).astype(dt)
        sel = rng.integers(0, 500, 60)
        xr[sel[:15], rng.integers(0, n, 15)] = nan
        xr[sel[15:30], rng.integers(0, n, 15)] = inf
        xr[sel[30:45]] = -inf
        xr[sel[45:], 0] = -40
        xr[sel[45:], 1:] = -inf
        for op in OPS:
            with np.errstate(all="ignore"):
                want = ref(op, xr)
            e = relerr(getattr(fs, op)(xr, axis=-1), want, 1.0 if op == "logsumexp" else 0.0)
            if not e <= (1e-13 if dt == np.float64 else 1e-6):
                print("SPECIAL-ROWS FAIL", dt.__name__, op, n, e)
                ok = False

# -inf blocks before the finite values, and a far-below first block
for dt in (np.float64, np.float32):
    for xr in ([-np.inf] * 2100 + [3.0, 2.0], [-300.0] * 2100 + [3.0, 2.0] + [-200.0] * 3000,
               list(np.linspace(-90, 0, 7000)), [-np.inf] * 5000):
        xr = np.array(xr, dt)[None, :]
        for op in OPS:
            with np.errstate(all="ignore"):
                want = ref(op, xr)
            e = relerr(getattr(fs, op)(xr, axis=-1), want)
            if not e <= (1e-13 if dt == np.float64 else 1e-6):
                print("BLOCK-ORDER FAIL", dt.__name__, op, xr.shape, e)
                ok = False

# signed zeros: -0.0 and +0.0 are both the max (shift invariance x + 0)
for dt in (np.float64, np.float32):
    for n in (2, 9, 16, 17, 40, 3000):
        for z0, z1 in ((-0.0, None), (0.0, -0.0), (-0.0, 0.0)):
            x = np.full(n, -3.0, dt)
            x[0] = z0
            if z1 is not None:
                x[n // 2] = z1
            for op in OPS:
                f = getattr(fs, op)
                if not np.array_equal(f(x), f(x + dt(0))):
                    print("SIGNED ZERO FAIL", dt.__name__, n, z0, z1, op)
                    ok = False

# logsumexp precision trick
for dt in (np.float64, np.float32):
    v = fs.logsumexp(np.array([0.0, -40.0], dt))
    if abs(v - 4.248354255291589e-18) > 1e-6 * 4.25e-18:
        print("LSE TRICK FAIL", dt, v)
        ok = False

# thread-count bitwise equality
for shape in [(1000, 10), (20000, 10), (3000, 100), (300, 1000), (40, 40000), (3, 300000),
              (1, 2000000), (7001, 33)]:
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal(shape) * 4).astype(dt)
        for op in OPS:
            f = getattr(fs, op)
            r1 = f(x, num_threads=1)
            for nt in (2, 3, 4):
                if not np.array_equal(r1, f(x, num_threads=nt)):
                    print("THREAD FAIL", shape, dt.__name__, op, nt)
                    ok = False
# neighbour independence: a row's result must not depend on other rows
for dt in (np.float32, np.float64):
    for n in (3, 10, 16):
        x = rng.standard_normal((5000, n)).astype(dt)
        x[1234, 1] = np.inf
        x[3000, 0] = np.nan
        x[4000, :] = -np.inf
        for op in OPS:
            f = getattr(fs, op)
            full = f(x)
            for i in (0, 1233, 1235, 2999, 3001, 4999):
                if (not np.array_equal(full[i], f(x[i:i + 1])[0], equal_nan=True)
                        or not np.array_equal(full[i:i + 7], f(x[i:i + 7]), equal_nan=True)):
                    print("NEIGHBOUR FAIL", dt.__name__, n, op, i)
                    ok = False

# in-place
x = rng.standard_normal((300, 50)).astype(np.float32)
y = x.copy()
for op in ("softmax", "log_softmax"):
    x = y.copy()
    getattr(fs, op)(x, out=x)
    if not np.array_equal(x, getattr(fs, op)(y)):
        print("INPLACE FAIL", op)
        ok = False
print("OK" if ok else "FAILURES")
sys.exit(0 if ok else 1)
