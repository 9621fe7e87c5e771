#!/usr/bin/env bash
# PostgreSQL beside LMDB, in one run of one release build (with the Postgres trait):
#   lmdb      one node on LMDB: tern bench ingest, then query
#   pg        one node on a fresh PostgreSQL server (fsync on, Debian's defaults): the same
#   pg2       two nodes on one database: ingest on both at once; fanout publishing on A with
#             every subscriber on A, then on B (cross-node delivery latency), unpaced and paced
# and one Schnorr verification measured in the same run (`tern bench verify`), for CPU figures.
# Every process is started here on 127.0.0.1 and stopped by its pid; the work folder is removed.
# Usage: scripts/cluster-bench.sh [events]   (default 20000; RATES="100 200": the paced fanouts)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-20000}
RATES=${RATES:-100 200}  # the paced fanout runs, events per second
TERN=${TERN:-$(swift build -c release --traits Postgres --show-bin-path)/tern}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/tern-cluster-bench-XXXX)
chmod 711 "$work"  # the server runs as the postgres user when root runs this
pids=()
pg_running=""
as_server_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    [ -n "$pg_running" ] && as_server_user "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 TERN_LIMITS_MAX_CONNECTIONS=20000

# start_node NAME ARGS...: sets node_pid and node_url
start_node() {
    local name=$1; shift
    "$TERN" serve --listen 127.0.0.1:0 "$@" 2>"$work/$name.log" &
    node_pid=$!
    pids+=("$node_pid")
    local port=""
    for _ in $(seq 200); do
        port=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/$name.log" | head -1 | cut -d: -f2 || true)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "$name did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
    node_url="ws://127.0.0.1:$port"
}
stop_node() { kill "$1"; wait "$1" 2>/dev/null || true; }

start_postgres() {
    mkdir -p "$work/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_server_user "$pgbin/initdb" -D "$work/pg/data" -U tern --auth=trust -E UTF8 --no-locale >/dev/null
    as_server_user "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" \
        -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" -w start >/dev/null
    pg_running=1
    pg_port=$port
    pg_url="postgres://tern@127.0.0.1:$port/postgres"
}

echo "verify: $("$TERN" bench verify)"

echo "### lmdb: ingest $EVENTS (8 connections x 32 in flight), then 10 s of queries"
start_node lmdb --data "$work/lmdb"
"$TERN" bench ingest --events "$EVENTS" --connections 8 --window 32 --seed 11 --url "$node_url" --pid "$node_pid"
"$TERN" bench query --events "$EVENTS" --connections 8 --window 8 --duration 10 --seed 12 --url "$node_url" --pid "$node_pid"
echo "# fanout on the same node: 200 subscribers"
"$TERN" bench fanout --subscribers 200 --events 400 --connections 1 --window 8 --seed 13 --url "$node_url" --pid "$node_pid"
stop_node "$node_pid"

start_postgres
echo "### pg: one node, the same"
start_node pg --store "$pg_url?schema=one"
"$TERN" bench ingest --events "$EVENTS" --connections 8 --window 32 --seed 11 --url "$node_url" --pid "$node_pid"
"$TERN" bench query --events "$EVENTS" --connections 8 --window 8 --duration 10 --seed 12 --url "$node_url" --pid "$node_pid"
stop_node "$node_pid"

echo "### pg2: two nodes on one database"
start_node a --store "$pg_url?schema=two"
a_pid=$node_pid a_url=$node_url
start_node b --store "$pg_url?schema=two"
b_pid=$node_pid b_url=$node_url
echo "# ingest on both nodes at once, $EVENTS events each"
"$TERN" bench ingest --events "$EVENTS" --connections 8 --window 32 --seed 21 --url "$a_url" --pid "$a_pid" >"$work/ingest-a" &
ia=$!
"$TERN" bench ingest --events "$EVENTS" --connections 8 --window 32 --seed 22 --url "$b_url" --pid "$b_pid" >"$work/ingest-b"
wait "$ia"
echo "node A:"; cat "$work/ingest-a"
echo "node B:"; cat "$work/ingest-b"
echo "# fanout on one node, as fast as A answers: publishers and 200 subscribers on A"
"$TERN" bench fanout --subscribers 200 --events 400 --connections 1 --window 8 --seed 24 --url "$a_url" --pid "$a_pid"
echo "# fanout across nodes, as fast as A answers: publishers on A, 200 subscribers on B"
"$TERN" bench fanout --subscribers 200 --events 400 --connections 1 --window 8 --seed 23 \
    --url "$a_url" --subscribe-url "$b_url" --pid "$a_pid"
# Unpaced, a publisher on A is not held back by B's deliveries (on one node its OKs wait for
# them), so B falls behind whenever it delivers slower than A commits and the figure measures
# that queue. Paced at the same rate, the two compare the paths alone.
for rate in $RATES; do
    echo "# fanout on one node at $rate events/s for 10 s: publishers and 200 subscribers on A"
    "$TERN" bench fanout --subscribers 200 --events $((rate * 10)) --rate "$rate" --connections 1 --window 8 \
        --seed "3$rate" --url "$a_url" --pid "$a_pid"
    echo "# fanout across nodes at $rate events/s for 10 s: publishers on A, 200 subscribers on B"
    "$TERN" bench fanout --subscribers 200 --events $((rate * 10)) --rate "$rate" --connections 1 --window 8 \
        --seed "4$rate" --url "$a_url" --subscribe-url "$b_url" --pid "$a_pid"
done

echo "### query plans of the common shapes (docs/SCALING.md)"
psql -h 127.0.0.1 -p "$pg_port" -U tern -d postgres -X -q -v schema=two -f scripts/explain.sql 2>&1 |
    sed 's/^/    /'
