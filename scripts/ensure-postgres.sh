#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 and the test database
# exists; drops databases left by earlier test runs. Prints the test URL.
set -euo pipefail

PGHOST=127.0.0.1
PGPORT=5432
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

if ! pg_isready -q; then
    echo "starting PostgreSQL..." >&2
    if command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
    fi
    for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
    pg_isready -q || { echo "PostgreSQL is not answering on $PGHOST:$PGPORT" >&2; exit 1; }
fi
if ! psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'leadwheel_test'" | grep -q 1; then
    psql -d postgres -qc "CREATE DATABASE leadwheel_test" >&2
fi
# Per-test databases (lw_t_*) from earlier runs.
for db in $(psql -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'lw\_t\_%'"); do
    psql -d postgres -qc "DROP DATABASE IF EXISTS $db" >&2 || true
done
echo "postgres://$PGUSER@$PGHOST:$PGPORT/leadwheel_test"
