"""Save (OpenMP build) or compare (serial build) a small set of answers."""
import sys

import numpy as np

import fastsoftmax as fs


def answers():
    rng = np.random.default_rng(7)
    out = {}
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal((3000, 37)) * 10).astype(dt)
        x[0, 3] = np.inf
        x[1, :] = -np.inf
        x[2, 5] = np.nan
        y = rng.integers(0, 37, 3000)
        y[::7] = -100
        w = rng.random(37).astype(dt)
        name = np.dtype(dt).name
        out[f"softmax_{name}"] = fs.softmax(x)
        out[f"log_softmax_{name}"] = fs.log_softmax(x, axis=0)
        out[f"logsumexp_{name}"] = fs.logsumexp(x)
        xf = x[3:]  # finite rows
        loss, grad = fs.cross_entropy_and_grad(xf, y[3:], weight=w, label_smoothing=0.1)
        out[f"ce_{name}"] = np.asarray(loss)
        out[f"ce_grad_{name}"] = grad
        # the drivers' softcap loop and probability targets
        p = fs.softmax(xf[:, ::-1])
        loss, grad = fs.cross_entropy_and_grad(xf, p, softcap=5.0, z_loss=1e-3)
        out[f"ce_prob_softcap_{name}"] = np.asarray(loss)
        out[f"ce_prob_softcap_grad_{name}"] = grad
        out[f"sigmoid_{name}"] = fs.sigmoid(x)
        out[f"log_sigmoid_{name}"] = fs.log_sigmoid(x)
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "save":
        assert fs.openmp_enabled(), "the installed build should use OpenMP"
        np.savez(path, **answers())
        print(f"saved answers of the OpenMP build ({fs.__file__})")
        return
    assert not fs.openmp_enabled(), "FASTSOFTMAX_DISABLE_OPENMP=1 build still uses OpenMP"
    assert fs.get_num_threads() == 1
    ref = np.load(path)
    got = answers()
    bad = [k for k in ref.files if not np.array_equal(ref[k], got[k], equal_nan=True)]
    if bad:
        sys.exit(f"serial build differs from the OpenMP build in: {bad}")
    print(f"serial build ({fs.__file__}): openmp_enabled() is False, "
          f"{len(ref.files)} results bitwise equal to the OpenMP build")


if __name__ == "__main__":
    main()
