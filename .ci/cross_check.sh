#!/usr/bin/env bash
# A non-x86-64 build must at least not be broken: compile every C kernel
# source for aarch64 with a cross compiler (the portable baseline kernels:
# fsm_isa.h turns the AVX-512/AVX2 copies off there), with the flags
# setup.py uses; then link a small C driver (.ci/cross_driver.c) with them
# statically and run it under qemu-user.
#
# Installs its Debian packages (gcc-aarch64-linux-gnu, qemu-user) when
# missing.  Takes well under a minute once they are installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=${CROSS_TARGET:-aarch64-linux-gnu}
qemu=${CROSS_QEMU:-qemu-aarch64}
cc=$target-gcc

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%6.1f s", b - a }'; }
t_all=$(now)
t0=$t_all
step() {  # step NAME: print the time since the previous step
    local t1
    t1=$(now)
    printf '[cross] %-36s %s\n' "$1" "$(elapsed "$t0" "$t1")"
    t0=$t1
}

# --- 1. toolchain ------------------------------------------------------------
if ! command -v "$cc" > /dev/null || ! command -v "$qemu" > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q > "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; exit 1; }
    apt-get install -y -q "gcc-$target" qemu-user >> "$work/apt.log" 2>&1 ||
        { tail -n 20 "$work/apt.log"; exit 1; }
fi
"$cc" --version | head -n 1
step "toolchain"

# --- 2. sources and flags, from setup.py -------------------------------------
sources=() includes=() defines=() cflags=()
if python3 "$root/.ci/ext_sources.py" "$root" > "$work/ext.txt" 2> "$work/ext.err"; then
    while read -r kind value; do
        case $kind in
            source) sources+=("$value") ;;
            include) includes+=("-I$root/$value") ;;
            define) defines+=("-D$value") ;;
            cflag) cflags+=("$value") ;;
        esac
    done < "$work/ext.txt"
    echo "sources and flags from setup.py"
else
    # setup.py could not be read that way: every C file in cext/ that is not
    # generated from a .pyx of the same name, with the flags of setup.py's
    # docstring (-O3, no -ffast-math).
    tail -n 5 "$work/ext.err"
    echo "WARNING: could not read the extensions from setup.py; globbing cext/*.c"
    for f in "$root"/cext/*.c; do
        [ -e "${f%.c}.pyx" ] || sources+=("cext/$(basename "$f")")
    done
    includes=("-I$root/cext")
    cflags=(-O3 -fno-math-errno -Wno-psabi)
fi
[ ${#sources[@]} -gt 0 ] || { echo "no C kernel sources found"; exit 1; }
flags=("${cflags[@]}" "${defines[@]}" "${includes[@]}" -Wall)
echo "$cc ${flags[*]} -c: ${sources[*]}"
step "sources"

# --- 3. compile every kernel source for the target ---------------------------
objs=()
for src in "${sources[@]}"; do
    obj="$work/$(basename "${src%.c}").o"
    if ! "$cc" "${flags[@]}" -c "$root/$src" -o "$obj" 2> "$work/cc.err"; then
        cat "$work/cc.err"
        echo "FAIL: $src does not compile for $target"
        exit 1
    fi
    if [ -s "$work/cc.err" ]; then
        echo "warnings in $src:"
        cat "$work/cc.err"
    fi
    objs+=("$obj")
done
echo "object machine: $("$target-readelf" -h "${objs[0]}" | sed -n 's/^ *Machine: *//p')"
echo "compiled ${#objs[@]} kernel sources for $target"
step "compile kernels ($target)"

# --- 4. the driver: native first (checks the driver), then on the target -----
driver="$root/.ci/cross_driver.c"
# an entry point renamed in cext/ must show as an error here, not link by luck
dflags=("${flags[@]}" -Werror=implicit-function-declaration)
if ! gcc "${dflags[@]}" -c "$driver" -o "$work/driver_host.o" 2> "$work/driver.err"; then
    head -n 20 "$work/driver.err"
    echo "WARNING: .ci/cross_driver.c does not compile against the kernel API in cext/"
    echo "WARNING: (it changed): the run under $qemu is SKIPPED; update the driver's calls."
    step "driver (skipped)"
    printf '[cross] %-36s %s\n' "total" "$(elapsed "$t_all" "$(now)")"
    exit 0
fi
# natively, the baseline kernels only (what the target gets, and quicker)
host_objs=()
for src in "${sources[@]}"; do
    obj="$work/host_$(basename "${src%.c}").o"
    gcc "${flags[@]}" -DFASTSOFTMAX_NO_CLONES -c "$root/$src" -o "$obj" 2> /dev/null
    host_objs+=("$obj")
done
gcc "$work/driver_host.o" "${host_objs[@]}" -lm -o "$work/driver_host"
if ! "$work/driver_host" > "$work/native.out"; then
    cat "$work/native.out"
    echo "FAIL: the driver fails natively (x86-64, baseline kernels)"
    exit 1
fi
echo "native: $(tr '\n' ' ' < "$work/native.out")"
step "driver, native"

"$cc" "${dflags[@]}" -c "$driver" -o "$work/driver.o"
"$cc" -static "$work/driver.o" "${objs[@]}" -lm -o "$work/driver"
if ! "$qemu" -L "/usr/$target" "$work/driver" > "$work/target.out"; then
    cat "$work/target.out"
    echo "FAIL: the kernels give wrong answers on $target"
    exit 1
fi
echo "$target: $(tr '\n' ' ' < "$work/target.out")"
step "driver, $target under qemu"
printf '[cross] %-36s %s\n' "total" "$(elapsed "$t_all" "$(now)")"
