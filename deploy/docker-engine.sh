#!/usr/bin/env bash
# A Docker engine for the smoke run in the image (deploy/check.sh), started
# by .ci/run:
#   deploy/docker-engine.sh start DIR   installs Debian's docker.io when
#       dockerd is missing (as root), starts `dockerd` unless an engine
#       already answers, and waits until `docker info` does; its pid goes to
#       DIR/dockerd.pid and its log to DIR/dockerd.log;
#   deploy/docker-engine.sh stop DIR    stops the dockerd started above.
# The engine gets no bridge network and touches no iptables rules
# (--bridge=none --iptables=false): the smoke run's containers use the host's
# network, reaching NATS and Postgres on 127.0.0.1 like the processes do.
# Exits non-zero, saying why, when no engine can be had; the smoke run then
# starts the binary instead.
set -uo pipefail
cmd="${1:?usage: docker-engine.sh start|stop DIR}"
dir="${2:?usage: docker-engine.sh start|stop DIR}"
mkdir -p "$dir"

case "$cmd" in
stop)
    if [ -f "$dir/dockerd.pid" ]; then
        pid="$(cat "$dir/dockerd.pid")"
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$dir/dockerd.pid"
    fi
    exit 0
    ;;
start) ;;
*) echo "usage: docker-engine.sh start|stop DIR" >&2; exit 2 ;;
esac

if docker info >/dev/null 2>&1; then
    echo "docker engine: one already answers" >&2
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "docker engine: dockerd is missing (sudo apt-get install -y docker.io)" >&2
        exit 1
    fi
    echo "docker engine: installing Debian's docker.io..." >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io; } > "$dir/install.log" 2>&1; then
        echo "docker engine: apt-get install docker.io failed:" >&2
        tail -5 "$dir/install.log" >&2
        exit 1
    fi
fi
if [ "$(id -u)" != 0 ]; then
    echo "docker engine: none answers and starting dockerd needs root" >&2
    exit 1
fi
dockerd --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$dir/dockerd.pid" > "$dir/dockerd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    if docker info >/dev/null 2>&1; then
        echo "$pid" > "$dir/dockerd.pid"
        echo "docker engine: dockerd started (pid $pid)" >&2
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "docker engine: dockerd exited:" >&2
        tail -5 "$dir/dockerd.log" >&2
        exit 1
    fi
    sleep 0.1
done
echo "docker engine: dockerd did not answer within 30 s:" >&2
tail -5 "$dir/dockerd.log" >&2
kill "$pid" 2>/dev/null
exit 1
