#!/usr/bin/env bash
# Tools the end-to-end tests need beyond the venv, from Debian: headless Chromium (the MLflow UI test) and
# PostgreSQL (the team-deployment, load and fault tests start their own server on 127.0.0.1).
# Installs what is missing with apt (as root, or through sudo); says what to do when it cannot.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=$(command -v sudo || true)
if ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
  echo "The end-to-end tests need Debian's ${missing[*]}: apt-get install ${missing[*]} (or put them on PATH)." >&2
  exit 1
fi
echo "installing ${missing[*]} (Debian packages, about a minute) for the end-to-end tests"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
command -v chromium >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
