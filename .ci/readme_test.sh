#!/usr/bin/env bash
# README's test command, exactly as README's set-up section writes it (read
# from README.md, so the two cannot drift), run in the checkout from a fresh
# virtualenv -- as a new user would:
#
#   bash .ci/readme_test.sh VENV            # nothing but what the command installs
#                                           # (the torch and Dask tests must skip)
#   bash .ci/readme_test.sh VENV --peers    # torch, Dask, onnxruntime and JAX installed
#                                           # first, so that their tests run (and none
#                                           # of them skips)
#
# VENV is created (it must not exist) and left behind for later steps.
# Fails when the command fails, when pytest ran no test (its exit status 5),
# and when fewer than FSM_CI_MIN_PASSED (default 1000; the suite has ~5000)
# tests passed: a suite that silently shrank is not a passing one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:?usage: readme_test.sh VENV [--peers]}
peers=${2:-}
min_passed=${FSM_CI_MIN_PASSED:-1000}

# The line of README's set-up block that runs the tests.
cmd=$(sed -n '/^## Set-up/,/^## /p' "$root/README.md" | grep -m1 -E '^pip install .*python -m pytest' \
      | sed -E 's/[[:space:]]+#.*$//') || true
[[ -n $cmd ]] || { echo "readme_test: no 'pip install ... python -m pytest' line in README's set-up section"; exit 1; }

[[ ! -e $venv ]] || { echo "readme_test: $venv exists (want a fresh virtualenv)"; exit 1; }
python -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
if [[ $peers == --peers ]]; then
    # (onnxruntime, onnx and JAX: the benchmark's optional peers, ~30 s more;
    # scikit-learn: the losses' and objectives' parity tests)
    python -m pip install -q torch==2.13.0 "dask[array]>=2023" "distributed>=2023" \
        onnxruntime onnx jax scikit-learn
fi
echo "readme_test: in a fresh venv ($(python -m pip list --format=freeze 2>/dev/null | wc -l) packages): $cmd"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$root"
set +e
eval "$cmd" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -eq 5 ]]; then
    echo "readme_test: FAILED: pytest collected no tests (exit status 5)"
    exit 1
elif [[ $rc -ne 0 ]]; then
    echo "readme_test: FAILED: exit status $rc"
    exit "$rc"
fi
# pytest's closing line, e.g. "==== 5286 passed, 3 skipped in 61.2s ===="
closing=$(grep -E '^=+ .*[0-9]+ (passed|failed|skipped|error).* in [0-9.]+s' "$log" | tail -n 1)
passed=$(grep -oE '[0-9]+ passed' <<<"$closing" | grep -oE '[0-9]+' || echo 0)
if [[ $passed -lt $min_passed ]]; then
    echo "readme_test: FAILED: only $passed tests passed (at least $min_passed expected): $closing"
    exit 1
fi
if [[ $peers == --peers ]]; then
    # the optional peers are installed: none of their tests may skip for want of them
    if grep -E "^SKIPPED .*(could not import '(torch|dask|distributed|onnxruntime|onnx|jax|sklearn[.a-z_]*)'|needs dask)" "$log"; then
        echo "readme_test: FAILED: tests of the optional peers skipped although they are installed"
        exit 1
    fi
fi
echo "readme_test: OK: $closing"
