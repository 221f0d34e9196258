#!/usr/bin/env bash
# Sanitizer run: build the extensions with AddressSanitizer and
# UndefinedBehaviorSanitizer (GCC, recover mode), run the test suite under
# them and fail on any report from the project's own code.
#
# By hand, from anywhere in a checkout (GCC and python >= 3.11 needed; about
# 6 minutes on 2 cores; uses its own scratch venv and build, never the
# checkout's):
#
#   bash .ci/sanitize.sh                          # the CI selection (below)
#   bash .ci/sanitize.sh tests/test_softmax.py -k unaligned   # your pytest arguments
#   FSM_SANITIZE_KEEP=/tmp/san bash .ci/sanitize.sh   # keep venv, build and logs there
#                                                     # (reused by the next run)
#   FSM_SANITIZE_VENV=VENV bash .ci/sanitize.sh   # use (and change) an existing venv:
#       the missing requirements are installed, an installed fastsoftmax is
#       uninstalled and the sanitized tree put on the path (saves the torch
#       installation, ~1.5 minutes; .ci/run gives it a venv of its own, since
#       it runs beside the other steps)
#
# Then the logs are in $FSM_SANITIZE_KEEP/logs (one file per process and
# sanitizer: sanitizer.<pid>.asan / .ubsan) and a shell to reproduce a report:
#   source $FSM_SANITIZE_KEEP/env.sh; python -c 'import fastsoftmax ...'
#
# What it does:
# 1. copies the tracked files (as they are on disk) to a scratch tree and
#    builds the extensions there with `python setup.py build_ext --inplace`
#    in a venv of its own, through a compiler wrapper that appends
#        -fsanitize=address,undefined -fsanitize-recover=address,undefined
#        -fno-omit-frame-pointer -fno-wrapv -g -O1
#    to every compile and link line.  Appended last, they win over setup.py's
#    -O3 (extra_compile_args come after CFLAGS) and over Python's -fwrapv
#    (which would turn off the signed-overflow checks).  -O1 is the level
#    the sanitizers are documented for: it compiles 2-3x faster than -O3
#    under them, and -O3 optimised one of the misaligned loads found so far
#    out of UBSan's sight (FSM_SANITIZE_OPT=-O3 tests the release level all
#    the same).  The script then checks that every compile line of the
#    project's sources carried the flags, and that the built modules call the
#    ASan and UBSan runtimes.
# 2. runs every process with the runtimes preloaded
#        LD_PRELOAD="libasan.so libubsan.so ubsan_log_path.so"
#        ASAN_OPTIONS=detect_leaks=0:halt_on_error=0:allocator_may_return_null=1:
#                     log_path=LOGS/sanitizer:log_suffix=.asan
#        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0:
#                      log_path=LOGS/sanitizer:log_suffix=.ubsan
#    so that each process -- the tests' child interpreters included, whose
#    stderr the tests capture -- writes its reports to files of its own and
#    never to stderr.  (ubsan_log_path.c says why UBSan needs help for that;
#    allocator_may_return_null=1 keeps NumPy's MemoryError for a huge
#    allocation instead of an ASan abort.)  A canary (sanitizer_canary.c),
#    run in a grandchild process first, proves the whole chain reports.
# 3. runs the tests (pytest's exit status counts too) and then
#    .ci/sanitizer_report.py, which prints every distinct report and fails on
#    any from the project's code; reports from uninstrumented libraries
#    (CPython, NumPy, torch: only ASan's interceptors see them) are counted.
#
# The CI selection: the whole suite, with torch and Dask installed, except
# what cannot hold under ASan or runs no kernel code that other tests do not
# run (all of it still runs in the plain test steps; under the sanitizers it
# took a quarter of the step's time):
# - test_memory.py's RSS leak test: ASan's quarantine keeps freed memory
#   resident, 10-100 MB over its 10,000 calls;
# - the linear head's 2 GiB-of-logits peak-RSS test: the quarantine blurs the
#   measurement, and its tiles run the code the smaller linear tests run;
# - the tooling around the kernels: the README's code blocks, mypy, the bench
#   harness, its CLI and peers, tools/side_by_side.py (small shapes through
#   subprocesses: the kernels' paths are the unit tests' ones).
# The other peak-RSS tests and the beyond-2^31-element tests stay: offsets
# that overflow are what UBSan is for.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
opt=${FSM_SANITIZE_OPT:--O1}
san_flags="-fsanitize=address,undefined -fsanitize-recover=address,undefined -fno-omit-frame-pointer -fno-wrapv -g $opt"

if [[ -n "${FSM_SANITIZE_KEEP:-}" ]]; then
    work=$FSM_SANITIZE_KEEP
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"; phase "scratch removed"' EXIT
fi
work=$(cd "$work" && pwd)
tree=$work/tree logs=$work/logs venv=${FSM_SANITIZE_VENV:-$work/venv}
phase() { echo "sanitize: $1 ($((SECONDS - t0)) s)"; t0=$SECONDS; }
t0=$SECONDS
libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
    [[ -e $lib ]] || { echo "sanitize: $lib not found (GCC's sanitizer runtimes needed)"; exit 1; }
done

# ---------------------------------------------------------------- venv
if [[ ! -x $venv/bin/python ]]; then
    python -m venv "$venv"
fi
py=$venv/bin/python
# The package's own requirements and its test extra (read from
# pyproject.toml), the build requirements, and the optional peers.
mapfile -t reqs < <("$py" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
print("\n".join(project["build-system"]["requires"]))
print("\n".join(project["project"]["dependencies"]))
print("\n".join(project["project"]["optional-dependencies"]["test"]))
PY
)
"$py" -m pip install -q "${reqs[@]}" torch==2.13.0 "dask[array]>=2023" "distributed>=2023"
if "$py" -m pip show -q fastsoftmax > /dev/null 2>&1; then
    "$py" -m pip uninstall -q -y fastsoftmax     # the sanitized tree only
fi
phase "venv ready"

# ---------------------------------------------------------------- build
rm -rf "$tree"
mkdir -p "$tree" "$work/bin"
git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar cf -) | (cd "$tree" && tar xf -)
cat > "$work/bin/cc" <<EOF
#!/bin/sh
# gcc with the sanitizer flags appended (last, so that they win); logs each line.
echo "gcc \$* $san_flags" >> "$work/compile.log"
exec gcc "\$@" $san_flags
EOF
chmod +x "$work/bin/cc"
rm -f "$work/compile.log"
echo "sanitize: building in $tree with: $san_flags"
(cd "$tree" && CC="$work/bin/cc" "$py" setup.py build_ext --inplace -j 2 > "$work/build.log" 2>&1) \
    || { tail -n 40 "$work/build.log"; exit 1; }
phase "built"
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$tree/src" > "$site/fastsoftmax-sanitize.pth"   # import the sanitized tree

# The flags really are on every compile line of the project's sources, with
# nothing after them, and the modules call both runtimes.
"$py" - "$work/compile.log" "$san_flags" "$tree" <<'PY'
import re, subprocess, sys
from pathlib import Path
log, flags, tree = sys.argv[1], sys.argv[2].split(), Path(sys.argv[3])
lines = [l.split() for l in open(log) if " -c " in l]
sources = {l[l.index("-c") + 1] for l in lines}
expected = {str(p.relative_to(tree)) for p in (tree / "cext").glob("*.c")}
bad = [" ".join(l) for l in lines if l[-len(flags):] != flags]
opt = [f for f in lines[0] if re.fullmatch(r"-O.*", f)][-1] if lines else None
if bad or not expected <= sources:
    sys.exit(f"sanitize: flags missing on {bad} or sources not compiled: {expected - sources}")
mods = sorted((tree / "src").rglob("*.so"))
for m in mods:
    syms = subprocess.run(["nm", "-D", "--undefined-only", str(m)], capture_output=True,
                          text=True, check=True).stdout
    if "__asan_report_load8" not in syms or "__ubsan_handle_type_mismatch" not in syms:
        sys.exit(f"sanitize: {m.name} is not instrumented by both ASan and UBSan")
print(f"sanitize: {len(sources)} sources compiled with the flags (effective {opt}, "
      f"-fno-wrapv last); {len(mods)} modules instrumented: {[m.name for m in mods]}")
PY

# Log-path helper and canary.
gcc -shared -fPIC -O1 -o "$work/ubsan_log_path.so" "$root/.ci/ubsan_log_path.c" \
    -Wl,--no-as-needed -ldl "$libubsan"
mkdir -p "$work/canary"
cp "$root/.ci/sanitizer_canary.c" "$work/canary/"
(cd "$work/canary" && "$work/bin/cc" -shared -fPIC -o libcanary.so sanitizer_canary.c)

cat > "$work/env.sh" <<EOF
# source me: run python under the sanitizers as .ci/sanitize.sh does
export PATH="$venv/bin:\$PATH"
export LD_PRELOAD="$libasan $libubsan $work/ubsan_log_path.so"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=0:allocator_may_return_null=1:log_path=\${FSM_SANITIZE_LOGS:-$logs}/sanitizer:log_suffix=.asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0:log_path=\${FSM_SANITIZE_LOGS:-$logs}/sanitizer:log_suffix=.ubsan"
EOF

# ---------------------------------------------------------------- canary
rm -rf "$work/canary-logs" "$logs"
mkdir -p "$work/canary-logs" "$logs"
cat > "$work/canary/run.py" <<'PY'
# parent: start a child that calls the canary's two bugs; the child's reports
# must go to its own log files, nothing to its stderr
import ctypes, os, subprocess, sys
if sys.argv[1] == "child":
    lib = ctypes.CDLL(sys.argv[2])
    lib.canary_misaligned_load(1)
    lib.canary_heap_overflow(4)
    print(os.getpid())
else:
    proc = subprocess.run([sys.executable, __file__, "child", sys.argv[1]],
                          capture_output=True, text=True, check=True)
    if proc.stderr:
        sys.exit(f"sanitize: sanitizer output reached the child's stderr:\n{proc.stderr}")
    print(proc.stdout.strip())
PY
canary_pid=$(FSM_SANITIZE_LOGS="$work/canary-logs" bash -c 'source "$1/env.sh" && python "$1/canary/run.py" "$1/canary/libcanary.so"' _ "$work")
"$py" "$root/.ci/sanitizer_report.py" --root "$work/canary" "$work/canary-logs" --canary "$canary_pid"

# ---------------------------------------------------------------- tests
if [[ $# -gt 0 ]]; then
    args=("$@")
else
    args=(tests
          --deselect tests/test_memory.py::test_repeated_calls_do_not_grow_rss
          --deselect tests/test_linear_ce.py::test_peak_memory_far_below_logits
          --ignore tests/test_readme.py --ignore tests/test_typing.py
          --ignore tests/test_bench_harness.py --ignore tests/test_bench_peers.py
          --ignore tests/test_bench_halfprec.py --ignore tests/test_cli.py
          --ignore tests/test_side_by_side.py)
fi
set +e
# shellcheck disable=SC1091
(cd "$tree" && source "$work/env.sh" && python -m pytest -p no:cacheprovider -q "${args[@]}")
tests_rc=$?
set -e
phase "tests run"
"$py" "$root/.ci/sanitizer_report.py" --root "$tree" "$logs" || report_rc=$?
report_rc=${report_rc:-0}
phase "logs read"
if [[ $tests_rc -eq 5 ]]; then
    echo "sanitize: FAILED: pytest collected no tests (exit status 5)"
elif [[ $tests_rc -ne 0 ]]; then
    echo "sanitize: FAILED: the tests failed under the sanitizers (pytest exit status $tests_rc)"
fi
[[ $tests_rc -eq 0 && $report_rc -eq 0 ]]
