#!/usr/bin/env bash
# Disk bytes per event against the relay's memory, for several sizes of a checkpoint's LMDB
# transactions (store.checkpoint_chunk_events), on a fresh store and on one of 200,000 events.
# Usage: scripts/checkpoint-chunk-bench.sh [DEV] (default vda); CHUNKS="2048 4096 1000000";
# OLD=/path/to/an/older/tern also runs that build with its own defaults first in each round;
# ROUNDS=N (default 1).
# Every relay runs on 127.0.0.1 with a fresh data directory and is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tern >/dev/null
TERN=$(swift build -c release --show-bin-path)/tern
DEV=${1:-vda}
PORT=${PORT:-17793}
URL=ws://127.0.0.1:$PORT
DATA=$(mktemp -d /tmp/tern-chunkbench-XXXX)
trap 'rm -rf "$DATA"' EXIT
start_relay() {  # $1: the binary; then VAR=value settings
    local bin=$1; shift
    env "$@" TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 "$bin" serve --listen 127.0.0.1:$PORT --data "$DATA" \
        --log-level warning &
    RELAY=$!
    for _ in $(seq 400); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && return; sleep 0.01; done
    echo "relay did not start" >&2; exit 1
}
stop_relay() { kill -TERM "$RELAY"; wait "$RELAY" || true; }
fresh() { rm -rf "$DATA"; mkdir -p "$DATA"; }

"$TERN" bench verify
measure() {  # $1: label, $2: the binary, then VAR=value settings
    local label=$1 bin=$2; shift 2
    echo "### $label, fresh store: 20000 events, 8 x 32 in flight"
    fresh; start_relay "$bin" "$@"
    "$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" --disk "$DEV" --settle 7
    stop_relay
    echo "### $label, 20000 events into a store of 200000"
    fresh; start_relay "$bin" "$@"
    "$TERN" bench ingest --url "$URL" --events 200000 --connections 8 --window 32 --seed 1 >/dev/null
    "$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" --disk "$DEV" --settle 7 --seed 2
    stop_relay
}
for round in $(seq "${ROUNDS:-1}"); do
    if [ -n "${OLD:-}" ]; then measure "round $round, old build (its defaults)" "$OLD"; fi
    for chunk in ${CHUNKS:-2048 4096 1000000}; do
        measure "round $round, chunk=$chunk" "$TERN" TERN_STORE_CHECKPOINT_CHUNK_EVENTS=$chunk
    done
done
