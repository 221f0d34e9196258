#!/usr/bin/env bash
# Build a serial (no OpenMP) copy of the package in a scratch directory and
# check that it imports, reports openmp_enabled() == False, and computes
# bitwise the same answers as the installed OpenMP build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar cf -) | (cd "$work" && tar xf -)
python -m pip install -q "Cython>=3" setuptools
python "$root/.ci/serial_answers.py" save "$work/openmp.npz"
(cd "$work" && FASTSOFTMAX_DISABLE_OPENMP=1 python setup.py -q build_ext --inplace 2>&1 | tail -n 3)
(cd "$work" && PYTHONPATH="$work/src" python "$root/.ci/serial_answers.py" compare "$work/openmp.npz")
