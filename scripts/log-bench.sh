#!/usr/bin/env bash
# Issue 16's write figures, the relay with and without its event log, in one run of one build:
# disk bytes per accepted event (the block device's sector count), ingest rate and OK latency at
# 256 in flight and at a trickle, relay CPU per event, and start-up after a SIGKILL with a full
# tail. Usage: scripts/log-bench.sh [DEV] (default: the device holding /tmp, e.g. vda).
# Every relay runs on 127.0.0.1 with a fresh data directory and is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tern >/dev/null
TERN=$(swift build -c release --show-bin-path)/tern
DEV=${1:-$(lsblk -no PKNAME "$(df --output=source /tmp | tail -1)" 2>/dev/null || true)}
DEV=${DEV:-$(basename "$(df --output=source /tmp | tail -1)")}
PORT=${PORT:-17791}
URL=ws://127.0.0.1:$PORT
DATA=$(mktemp -d /tmp/tern-logbench-XXXX)
trap 'rm -rf "$DATA"' EXIT

start_relay() {  # $1: true|false (store.log); more env may be set by the caller
    TERN_STORE_LOG=$1 TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 TERN_LIMITS_MAX_CONNECTIONS=20000 \
        "$TERN" serve --listen 127.0.0.1:$PORT --data "$DATA" --log-level warning &
    RELAY=$!
    for _ in $(seq 400); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && return; sleep 0.01; done
    echo "relay did not start" >&2; exit 1
}
stop_relay() { kill -TERM "$RELAY"; wait "$RELAY" || true; }
fresh() { rm -rf "$DATA"; mkdir -p "$DATA"; }

echo "### one verification, this run"
"$TERN" bench verify 2>/dev/null || true
# --settle 7: the relay's CPU and the disk are read 7 s after the last OK, past the log's
# 5-second checkpoint, so that the checkpoint's writes count with the run (for both modes).
for log in false true; do
    echo "### store.log=$log: ingest, 20000 events, 8 connections x 32 in flight"
    fresh; start_relay $log
    "$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" --disk "$DEV" --settle 7
    stop_relay
    echo "### store.log=$log: a trickle, 500 events, one connection, one in flight"
    fresh; start_relay $log
    "$TERN" bench ingest --url "$URL" --events 500 --connections 1 --window 1 --pid "$RELAY" --disk "$DEV" --settle 7
    stop_relay
    if [ "${BIG:-1}" = 1 ]; then
        echo "### store.log=$log: ingest of 20000 events into a store of 200000"
        fresh; start_relay $log
        "$TERN" bench ingest --url "$URL" --events 200000 --connections 8 --window 32 --seed 1 >/dev/null
        "$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" --disk "$DEV" --settle 7 --seed 2
        stop_relay
    fi
done

# Queries (the realistic mix) on 20,000 stored events, 7 s after storing them (so that the log's
# checkpoint of them is not counted as the queries' CPU), with and without the log.
for log in false true; do
    echo "### store.log=$log: realistic queries, 8 connections x 8 in flight, 10 s"
    fresh; start_relay $log
    "$TERN" bench query --url "$URL" --events 20000 --connections 8 --window 8 --duration 10 --pid "$RELAY" --settle 7
    stop_relay
done

echo "### start-up after SIGKILL with a full tail (store.checkpoint_mb=64, checkpoint_seconds=3600)"
fresh
TERN_STORE_CHECKPOINT_MB=64 TERN_STORE_CHECKPOINT_SECONDS=3600 start_relay true
"$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" | grep -E "accepted|rss"
kill -KILL "$RELAY"; wait "$RELAY" || true
echo "  log on disk: $(du -sh "$DATA/log" | cut -f1)"
t0=$(date +%s%N); start_relay true; t1=$(date +%s%N)
echo "  startup_to_health_ms  $(( (t1 - t0) / 1000000 ))"
stop_relay
