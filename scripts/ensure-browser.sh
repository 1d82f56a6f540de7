#!/usr/bin/env bash
# Makes sure the console's browser test can run: Debian's Chromium
# (installed with apt-get when missing and running as root) and the pinned
# playwright-core in tests/browser/node_modules (npm ci, from
# tests/browser/package-lock.json; it downloads no browser of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian's chromium..." >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    else
        echo "the console's browser test needs Chromium: sudo apt-get install -y chromium" >&2
        exit 1
    fi
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >&2
fi
