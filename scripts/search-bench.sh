#!/usr/bin/env bash
# NIP-50: index size and search queries/s on N benchmark notes (`tern bench corpus`), with the
# relay's CPU per query also in Schnorr verifications measured in the same run.
# Usage: scripts/search-bench.sh [events] [seconds]   (default 100000 events, 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000}
SECONDS_RUN=${2:-10}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
python3 -c "import websockets" 2>/dev/null || pip install -q websockets
work=$(mktemp -d /tmp/tern-search-XXXX)
relay_pid=""
cleanup() {
    if [ -n "$relay_pid" ]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
"$TERN" bench corpus --events "$EVENTS" --authors 2000 --seed 11 --out "$work/corpus.jsonl"
"$TERN" import "$work/corpus.jsonl" --data "$work/data" >/dev/null 2>&1
"$TERN" stats --data "$work/data" | grep -E "^events|^store file|^  (search|tag|events) " || true
"$TERN" serve --listen 127.0.0.1:0 --data "$work/data" 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 100); do
    port=$(grep -o 'address=127.0.0.1:[0-9]*' "$work/relay.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "the relay did not start" >&2; exit 1; }
echo "schnorr_verify_us $("$TERN" bench verify | awk '{print $2}')"
python3 scripts/search-bench.py "127.0.0.1:$port" "$relay_pid" --seconds "$SECONDS_RUN"
echo "schnorr_verify_us (after) $("$TERN" bench verify | awk '{print $2}')"
