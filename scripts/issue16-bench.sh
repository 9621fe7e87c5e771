#!/usr/bin/env bash
# Issue 16's figures for two builds of the relay in one run, alternating: ingest at 256 in flight
# and at a trickle (disk bytes per accepted event, rate, OK latency, relay CPU), the realistic
# query mix and a fan-out to 500 subscribers, unpaced and paced (relay CPU per query and per
# delivery, each beside one verification measured by the bench in the same run).
# Usage: OLD=/path/to/old/tern scripts/issue16-bench.sh [ROUNDS] [DEV]
# (OLD: an older build, e.g. from `git worktree add /work/old COMMIT`; default: this build only.)
# Every relay runs on 127.0.0.1 with a fresh data directory and is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tern >/dev/null
TERN=$(swift build -c release --show-bin-path)/tern
ROUNDS=${1:-2}
DEV=${2:-$(lsblk -no PKNAME "$(df --output=source /tmp | tail -1)" 2>/dev/null || true)}
DEV=${DEV:-$(basename "$(df --output=source /tmp | tail -1)")}
PORT=${PORT:-17795}
URL=ws://127.0.0.1:$PORT
DATA=$(mktemp -d /tmp/tern-issue16-XXXX)
trap 'rm -rf "$DATA"' EXIT
BUILDS=("new=$TERN")
if [ -n "${OLD:-}" ]; then BUILDS=("old=$OLD" "new=$TERN"); fi

start_relay() {  # $1: the binary
    rm -rf "$DATA"; mkdir -p "$DATA"
    TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 TERN_LIMITS_MAX_CONNECTIONS=20000 \
        "$1" serve --listen 127.0.0.1:$PORT --data "$DATA" --log-level warning &
    RELAY=$!
    for _ in $(seq 400); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && return; sleep 0.01; done
    echo "relay did not start" >&2; exit 1
}
stop_relay() { kill -TERM "$RELAY"; wait "$RELAY" || true; }
pick() { grep -E "$1" | awk '{printf "  %s %s\n", $1, $2}'; }

for round in $(seq "$ROUNDS"); do
    for entry in "${BUILDS[@]}"; do
        name=${entry%%=*}; bin=${entry#*=}
        echo "### round $round, $name: ingest, 20000 events, 8 connections x 32 in flight (settle 7 s)"
        start_relay "$bin"
        "$TERN" bench ingest --url "$URL" --events 20000 --connections 8 --window 32 --pid "$RELAY" --disk "$DEV" \
            --settle 7 | pick 'events_per_second|ok_latency_p50|ok_latency_p99|relay_cpu_us_per_event|disk_bytes_per|anonymous|peak_rss'
        stop_relay
        echo "### round $round, $name: a trickle, 500 events, one at a time (settle 7 s)"
        start_relay "$bin"
        "$TERN" bench ingest --url "$URL" --events 500 --connections 1 --window 1 --pid "$RELAY" --disk "$DEV" \
            --settle 7 | pick 'events_per_second|ok_latency_p50|ok_latency_p99|disk_bytes_per'
        stop_relay
        echo "### round $round, $name: realistic queries, 20000 stored, 8 connections x 8 in flight, 10 s (settle 7 s)"
        start_relay "$bin"
        "$TERN" bench query --url "$URL" --events 20000 --connections 8 --window 8 --duration 10 --pid "$RELAY" \
            --settle 7 | pick 'queries_per_second|eose_p50|eose_p99|relay_cpu_us_per_query|schnorr_verify_us|in_verifications'
        stop_relay
        echo "### round $round, $name: fan-out, 500 subscribers x 400 events, one publisher x 8 in flight"
        start_relay "$bin"
        "$TERN" bench fanout --url "$URL" --subscribers 500 --events 400 --connections 1 --window 8 --pid "$RELAY" \
            | pick 'deliveries_per_second|delivery_latency_p50|delivery_latency_p99|every_subscriber|relay_cpu_us_per_delivery|schnorr_verify_us|in_verifications'
        stop_relay
        echo "### round $round, $name: fan-out paced at 100 events/s, 500 subscribers x 1000 events"
        start_relay "$bin"
        "$TERN" bench fanout --url "$URL" --subscribers 500 --events 1000 --connections 1 --window 8 --rate 100 \
            --pid "$RELAY" | pick 'deliveries_per_second|delivery_latency_p50|delivery_latency_p99|every_subscriber|relay_cpu_us_per_delivery|in_verifications'
        stop_relay
    done
done
