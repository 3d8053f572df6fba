#!/usr/bin/env bash
# Tools the end-to-end tests need beyond the venv: Debian's headless Chromium for the MLflow UI test.
# Installs it with apt when missing (as root, or through sudo); says what to do when it cannot.
set -euo pipefail
command -v chromium >/dev/null && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=$(command -v sudo || true)
if ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
  echo "The MLflow UI test needs Chromium: install Debian's 'chromium' package (apt-get install chromium) or put a 'chromium' on PATH." >&2
  exit 1
fi
echo "installing chromium (Debian package, about 30 s) for the MLflow UI test"
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
command -v chromium >/dev/null
