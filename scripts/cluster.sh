#!/usr/bin/env bash
# `make cluster`: a PostgreSQL server from Debian's packages in a temporary folder on a free
# loopback port, and two tern nodes sharing it (ports PORT_A, PORT_B: default 7451, 7452).
# Prints their URLs; Ctrl-C stops all of it and removes the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
tern="${CLUSTER_BIN:-$(swift build -c release --traits Postgres --show-bin-path)/tern}"
dir=$(mktemp -d /tmp/tern-cluster.XXXXXX)
as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_server_user "$pgbin/initdb" -D "$dir/data" -U tern --auth=trust -E UTF8 --no-locale >/dev/null
as_server_user "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
url="postgres://tern@127.0.0.1:$port/postgres"
pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    as_server_user "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    echo "cluster stopped"
}
trap cleanup EXIT INT TERM
for p in "${PORT_A:-7451}" "${PORT_B:-7452}"; do
    "$tern" serve --listen "127.0.0.1:$p" --store "$url" --log-level warning &
    pids+=($!)
done
echo "PostgreSQL: $url (log $dir/postgres.log)"
echo "node A:     ws://127.0.0.1:${PORT_A:-7451}"
echo "node B:     ws://127.0.0.1:${PORT_B:-7452}"
echo "Ctrl-C stops the nodes and the database."
wait
