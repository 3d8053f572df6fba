#!/usr/bin/env bash
# Idempotent set-up: a .venv with the project installed (editable) plus test tools.
# Quick when nothing changed: it reinstalls only when pyproject.toml differs from the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "subspace-studies needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
# uv installs what pip would (the same pins, the same resolved versions) in about a minute where pip takes
# ~3 min on 2 cores (parallel downloads and unpacking). It does not read pip's configuration, so pip's
# find-links and constraints (where a machine keeps local wheels, e.g. a CPU-only torch) are handed to it.
# --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set, a venv without .pyc files compiles
# every module it imports in every process (measured: the test suite 1.6x slower).
pip_setting() { .venv/bin/pip config list 2>/dev/null | sed -n "s/^[^.]*\.$1='\(.*\)'\$/\1/p" | tail -1; }
if [ ! -f "$stamp" ]; then
  echo "setting up .venv (first time: about a minute)"
  .venv/bin/pip install --quiet --disable-pip-version-check 'uv==0.13.9'
  UV_FIND_LINKS="$(pip_setting find-links)" UV_CONSTRAINT="$(pip_setting constraint)" \
    .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
