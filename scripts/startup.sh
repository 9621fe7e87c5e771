#!/usr/bin/env bash
# Start-up time and idle memory of the release relay on an existing store.
# Usage: scripts/startup.sh DATA_DIR [runs]   (for example a store kept by
# `KEEP_DATA=1 DATA=/tmp/tern-1m scripts/bench-relay.sh store1m`)
# Each run starts `tern serve` on 127.0.0.1, times the first 200 on /health (polled every 2 ms),
# reads the idle memory a second later, and stops the relay by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: scripts/startup.sh DATA_DIR [runs]}
RUNS=${2:-5}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
PORT=${PORT:-17782}
for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    "$TERN" serve --listen 127.0.0.1:$PORT --data "$DATA" --log-level warning &
    relay=$!
    until curl -sf -o /dev/null http://127.0.0.1:$PORT/health; do
        kill -0 "$relay" 2>/dev/null || { echo "relay exited" >&2; exit 1; }
        sleep 0.002
    done
    t1=$(date +%s%N)
    sleep 1
    rss=$(awk '/VmRSS|RssAnon|RssFile/ {printf "%s %.1f MB  ", $1, $2/1024}' /proc/$relay/status)
    echo "startup_to_health_ms $(( (t1 - t0) / 1000000 ))  $rss"
    kill -TERM "$relay"
    wait "$relay" || true
done
