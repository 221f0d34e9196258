#!/usr/bin/env bash
# python -m build makes an sdist; installed in a fresh virtual environment
# (pip builds a wheel from it, as for a user of the sdist), it must build and
# pass a smoke test.  (--sdist only: the wheel pip builds from the sdist is
# the build its users get; one built from the source tree as well would
# compile everything a second time.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip install -q build
python -m build --sdist --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
ls "$work/dist"
# the sdist ships the kernel list and the template of the Cython declarations,
# not what the build generates from them
files=$(tar tzf "$work"/dist/fastsoftmax-*.tar.gz)
for f in cext/fsm_kernel_list.h cext/fsm_kernels.pxd.in cext/_core.pyx cext/_testing.pyx; do
    grep -q "/$f\$" <<< "$files" || { echo "sdist lacks $f"; exit 1; }
done
if grep -qE "/cext/(fsm_kernels\.pxd|_core\.c|_testing\.c)\$" <<< "$files"; then
    echo "sdist ships generated files"; exit 1
fi
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/fastsoftmax-*.tar.gz
cd "$work"   # not the source tree: import the installed package
"$work/venv/bin/python" - <<'PY'
import numpy as np
import fastsoftmax as fs
from fastsoftmax import _core, _testing  # the production and the test-only module
x = np.random.default_rng(0).standard_normal((1000, 37))
p = fs.softmax(x)
assert np.allclose(p.sum(axis=1), 1.0)
ref = np.exp(x - x.max(1, keepdims=True)); ref /= ref.sum(1, keepdims=True)
assert np.allclose(p, ref, rtol=1e-13, atol=0)
y = np.arange(1000) % 37
lse = np.log(np.exp(x).sum(1))
assert np.isclose(fs.cross_entropy(x, y), np.mean(lse - x[np.arange(1000), y]), rtol=1e-12)
print("sdist install OK:", fs.__version__, fs.__file__, "openmp:", fs.openmp_enabled())
fs.show_config()
PY
