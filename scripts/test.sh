#!/usr/bin/env bash
# Set up with the test extras (Debian's Chromium for the browser tests, axe-core from npm for the accessibility
# checks) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser test..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed and this is not root; the browser test will be skipped" >&2
  fi
fi
bash scripts/setup.sh test
if command -v npm >/dev/null 2>&1; then
  # axe-core, pinned by tests/e2e/package-lock.json, into tests/e2e/node_modules (injected into pages by the tests)
  npm ci --prefix tests/e2e --no-audit --no-fund --silent
else
  echo "note: npm is not installed; the accessibility checks will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
