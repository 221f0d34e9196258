"""tools/peer_accuracy.py: its float64 references against SciPy, and one
small run through the bench's bindings."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "peer_accuracy", os.path.join(HERE, os.pardir, "tools", "peer_accuracy.py"))
peer_accuracy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer_accuracy)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_references_are_scipy_in_float64(scale):
    special = pytest.importorskip("scipy.special")
    x = (scale * np.random.default_rng(3).standard_normal((40, 17))).astype(np.float32)
    x[0, :3] = x[0].max() + 1   # a tie at the max
    ref = peer_accuracy.references(x)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(ref["softmax"], special.softmax(xd, axis=-1), rtol=1e-14, atol=0)
    np.testing.assert_allclose(ref["logsumexp"], special.logsumexp(xd, axis=-1), rtol=1e-14)
    # log_softmax: SciPy's log of a sum near 1 errs by up to an ulp of 1 on
    # a max element's small value (the reference's log1p of the rest does not)
    np.testing.assert_allclose(ref["log_softmax"], special.log_softmax(xd, axis=-1),
                               rtol=1e-13, atol=4.5e-16)


def test_relative_error_skips_underflow_and_counts_small_values():
    ref = np.array([0.5, 1e-40, 1e-20])
    got = np.array([0.5, 0.0, 2e-20])
    assert peer_accuracy.max_relative_error(got, ref, "softmax") == pytest.approx(1.0)
    assert peer_accuracy.max_relative_error(got[:2], ref[:2], "softmax") == 0.0
    assert peer_accuracy.max_relative_error(got, ref, "log_softmax") == pytest.approx(1.0)


def test_a_small_run_prints_every_op(capsys):
    assert peer_accuracy.main(["--impls", "fastsoftmax,numpy", "--shape", "30x50",
                               "--scales", "1,20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[2:]}
    assert set(rows) == {(lib, op) for lib in ("fastsoftmax", "numpy")
                         for op in peer_accuracy.OPS}
    # fastsoftmax's bound, at both scales
    assert all(float(v) < 1e-6 for op in peer_accuracy.OPS for v in rows[("fastsoftmax", op)])
