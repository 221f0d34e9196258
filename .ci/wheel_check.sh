#!/usr/bin/env bash
# The wheel must install and work where there is no compiler: build and
# repair it (tools/build_wheel.sh; from the sdist given as the argument, if
# any, else from the checkout), install it into a fresh virtualenv whose
# PATH holds no C compiler, with pip allowed to take binaries only (numpy
# from the index), and run .ci/wheel_smoke.py outside the source tree: every
# ISA level the CPU has, against a float64 formula, bundled libgomp, 2
# threads bitwise equal to 1; and, when the calling Python has a development
# build (pip install -e .), bitwise the same answers as that build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=$(command -v "${PYTHON:-python}") || { echo "no ${PYTHON:-python} found"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%6.1f s", b - a }'; }
t_all=$(now)
t0=$t_all
step() {  # step NAME: print the time since the previous step
    local t1
    t1=$(now)
    printf '[wheel] %-36s %s\n' "$1" "$(elapsed "$t0" "$t1")"
    t0=$t1
}

# --- 1. build and repair -------------------------------------------------------
bash "$root/tools/build_wheel.sh" "$work/dist" ${1:+"$1"} | tee "$work/build.out"
wheel=$(tail -n 1 "$work/build.out")
[ -f "$wheel" ] || { echo "no wheel built"; exit 1; }
"$python" - "$wheel" <<'PY'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
modules = [n for n in names if n.startswith("fastsoftmax/") and n.endswith(".so")]
gomp = [n for n in names if n.startswith("fastsoftmax.libs/libgomp")]
assert modules, "no extension module in the wheel"
assert gomp, "libgomp is not bundled in the wheel"
print(f"wheel: {len(modules)} extension module(s), {gomp[0]}")
PY
step "build + auditwheel repair"

# --- 2. a fresh virtualenv, then a PATH without any compiler -------------------
"$python" -m venv "$work/venv"
mkdir "$work/tools"   # the only tools besides the venv's own (none needed so far)
nocc_path="$work/venv/bin:$work/tools"
(
    export PATH=$nocc_path
    hash -r
    for tool in cc gcc c++ g++ clang; do
        if command -v "$tool" > /dev/null; then
            echo "FAIL: $tool is on the restricted PATH: $(command -v "$tool")"
            exit 1
        fi
    done
)
echo "no cc, gcc, c++, g++, clang on PATH=$nocc_path"
run() {  # run CMD...: without a compiler on PATH or in the environment
    env -u CC -u CXX -u LDSHARED -u CFLAGS -u PYTHONPATH -u PYTHONHOME PATH="$nocc_path" "$@"
}
step "fresh virtualenv"

# --- 3. install: binaries only, nothing built ----------------------------------
run "$work/venv/bin/python" -m pip install --no-build-isolation --only-binary=:all: \
    numpy "$wheel" > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
if grep -iE "building wheel|running setup\.py|preparing metadata" "$work/pip.log"; then
    echo "FAIL: pip built something"
    exit 1
fi
grep -E "^Successfully installed" "$work/pip.log"
step "pip install (binary only)"

# --- 4. the smoke test, outside the source tree --------------------------------
mkdir "$work/run"
cp "$root/.ci/wheel_smoke.py" "$work/run/"
(cd "$work/run" && run "$work/venv/bin/python" -I wheel_smoke.py)
step "smoke test"

# --- 5. the same answers as the development build, if there is one -------------
# (CI has installed the checkout with pip install -e; the wheel's isolated
# build environment may bring other versions of Cython and setuptools)
if dev=$(cd "$work/run" && "$python" -I -c "import fastsoftmax; print(fastsoftmax.__file__)" \
        2> /dev/null); then
    echo "development build: $dev"
    (cd "$work/run" && "$python" -I wheel_smoke.py --save dev.npz)
    (cd "$work/run" && run "$work/venv/bin/python" -I wheel_smoke.py --compare dev.npz)
    step "answers vs the development build"
else
    echo "no development build importable by $python: answers not compared"
fi
printf '[wheel] %-36s %s\n' "total" "$(elapsed "$t_all" "$(now)")"
