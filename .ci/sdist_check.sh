#!/usr/bin/env bash
# python -m build makes an sdist, which must ship the sources and not the
# generated files; pip builds a wheel from it (as for a user of the sdist),
# which .ci/wheel_check.sh repairs, installs into a fresh virtual environment
# without a compiler and checks.  (--sdist only: the wheel pip builds from the
# sdist is the build its users get; one built from the source tree as well
# would compile everything a second time.)
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
# The wheel pip builds from the sdist (what `pip install` of the sdist
# builds) is the one .ci/wheel_check.sh repairs and installs where there is no
# compiler: one compilation serves both checks.
bash "$root/.ci/wheel_check.sh" "$(ls "$work"/dist/fastsoftmax-*.tar.gz)"
