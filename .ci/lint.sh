#!/usr/bin/env bash
# Lint (configured in pyproject.toml), with the linters in a virtualenv of
# their own:  bash .ci/lint.sh [VENV]   (default: a temporary one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -gt 0 ]]; then
    venv=$1
else
    venv=$(mktemp -d)
    trap 'rm -rf "$venv"' EXIT
fi
[[ -x $venv/bin/python ]] || python -m venv "$venv"
# the linters of the "lint" extra
mapfile -t reqs < <("$venv/bin/python" -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["lint"]))' \
    "$root/pyproject.toml")
"$venv/bin/python" -m pip install -q "${reqs[@]}"
cd "$root"
export PATH="$venv/bin:$PATH"     # cython-lint runs pycodestyle by name
ruff check src tests benchmarks tools
cython-lint cext/*.pyx
echo "lint: OK"
