#!/usr/bin/env bash
# Measures the release relay with `tern bench` on loopback, the figures of BENCHMARKS.md.
# Usage: scripts/bench-relay.sh [ingest|query|fanout|fanout500|fanout10k|memory100k|store1m|fairness]
#        (default: the first four)
# Every run starts its own relay on 127.0.0.1 with a fresh data directory and stops it by its pid.
# RELAY_BIN=/path/to/tern measures another build of the relay (an older commit, for an A/B run in
# one session) with this build's `tern bench`. DISK=vda adds the disk bytes written on that block
# device (`--disk vda --settle 7`); TERN_* settings in the environment reach the relay.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tern >/dev/null
TERN=$(swift build -c release --show-bin-path)/tern
RELAY_BIN=${RELAY_BIN:-$TERN}
PORT=${PORT:-17781}
URL=ws://127.0.0.1:$PORT
DATA=${DATA:-$(mktemp -d /tmp/tern-bench-XXXX)}

start_relay() {
    # Every load connection comes from 127.0.0.1: lift the per-address and global limits.
    TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 TERN_LIMITS_MAX_CONNECTIONS=20000 "$RELAY_BIN" serve --listen 127.0.0.1:$PORT --data "$DATA" --log-level warning &
    RELAY=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && return; sleep 0.05; done
    echo "relay did not start" >&2; exit 1
}
stop_relay() { kill -TERM "$RELAY"; wait "$RELAY" || true; }

run() {
    local name=$1; shift
    echo "### $name: tern bench $*"
    start_relay
    "$TERN" bench "$@" --url "$URL" --pid "$RELAY" ${DISK:+--disk "$DISK" --settle 7}
    stop_relay
}

fresh() { rm -rf "$DATA"; mkdir -p "$DATA"; }

case "${1:-all}" in
    ingest)     fresh; run ingest ingest --events 20000 --connections 8 --window 32 ;;
    query)      fresh; run query query --events 20000 --connections 8 --window 8 --duration 10 ;;
    fanout)     fresh; run fanout fanout --subscribers 200 --events 200 --connections 1 --window 8 ;;
    fanout500)  fresh; run fanout500 fanout --subscribers 500 --events ${EVENTS:-400} --connections 1 --window 8 ;;
    fanout10k)  fresh; run fanout10k fanout --subscribers 10000 --events 1 --connections 1 --window 1 ;;
    memory100k) fresh; run memory100k ingest --events 100000 --connections 8 --window 32 ;;
    store1m)
        fresh
        run store1m-ingest ingest --events 1000000 --connections 8 --window 32
        echo "### idle start-up with $(du -sh "$DATA" | cut -f1) of store"
        t0=$(date +%s%N); start_relay; t1=$(date +%s%N)
        echo "  startup_to_health_ms  $(( (t1 - t0) / 1000000 ))"
        sleep 1
        awk '/VmRSS|RssAnon|RssFile/ {printf "  idle_%s_mb  %.1f\n", $1, $2/1024}' /proc/$RELAY/status
        stop_relay
        run store1m-1000-subscribers fanout --subscribers 1000 --events 20 --connections 1 --window 4
        ;;
    fairness)
        # 100k realistic events; a one-id REQ alone, the heavy REQ alone, then the one-id REQ while
        # four connections repeat the heavy one. Two heavy filters on the same store: a rare kind
        # with common hashtags (the issue's), and a home feed of all 500 authors' notes.
        fresh
        echo "### fairness: tern bench fairness --events 100000 --connections 4 --duration 15"
        start_relay
        "$TERN" bench fairness --url "$URL" --pid "$RELAY" --events 100000 --connections 4 --duration 15 \
            --seed 4242 --heavy sparse
        "$TERN" bench fairness --url "$URL" --pid "$RELAY" --events 100000 --connections 4 --duration 15 \
            --seed 4242 --heavy feed --prefilled
        stop_relay
        ;;
    all) for s in ingest query fanout fanout10k; do "$0" "$s"; done ;;
    *) echo "unknown: $1" >&2; exit 2 ;;
esac
# KEEP_DATA=1 leaves the store for further runs (for example `scripts/startup.sh DIR`).
if [ "${KEEP_DATA:-0}" = 1 ]; then echo "store kept in $DATA"; else rm -rf "$DATA"; fi
