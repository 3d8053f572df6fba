#!/usr/bin/env bash
# Idempotent set-up: a .venv with the project installed (editable) plus test tools.
# Quick when nothing changed: it reinstalls only when pyproject.toml differs from the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "subspace-studies needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setting up .venv (first time: about 3 minutes)"
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
