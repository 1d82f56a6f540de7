#!/usr/bin/env bash
# Makes sure the tests' real peers can run (make test and CI call it):
# - alerting's email tests: a real SMTP server, Python's aiosmtpd (pinned);
#   its TLS tests make certificates with the openssl command;
# - the console's browser test: Debian's Chromium (installed with apt-get
#   when missing and running as root) and the pinned playwright-core in
#   tests/browser/node_modules (npm ci, from tests/browser/package-lock.json;
#   it downloads no browser of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c "import aiosmtpd" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6 >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages aiosmtpd==1.4.6 >&2
command -v pyenv >/dev/null && pyenv rehash 2>/dev/null || true

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        echo "installing Debian's $*..." >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        echo "the tests need: sudo apt-get install -y $*" >&2
        exit 1
    fi
}
command -v openssl >/dev/null || apt_install openssl

[ -x /usr/bin/chromium ] || apt_install chromium
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >&2
fi
