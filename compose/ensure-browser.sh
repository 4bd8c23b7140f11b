#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/browser drive it through
# Playwright with executable_path=/usr/bin/chromium), never a browser build Playwright downloads:
# those downloads are blocked here and in CI. Quick when it is already installed.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing chromium ..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { as_root apt-get update -qq \
  && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation; } >"$log" 2>&1; then
  echo "could not install chromium with apt-get (needed by tests/browser); its output:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "apt-get installed chromium but /usr/bin/chromium is missing" >&2
  exit 1
fi
echo "chromium is installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
