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
source scripts/relay-lib.sh
trap cleanup EXIT
"$TERN" bench corpus --events "$EVENTS" --authors 2000 --seed 11 --out "$work/corpus.jsonl"
"$TERN" import "$work/corpus.jsonl" --data "$work/data" >/dev/null 2>&1
"$TERN" stats --data "$work/data" | grep -E "^events|^store file|^  (search|tag|events) " || true
start_relay "$work/data" "$work/relay.log"
echo "schnorr_verify_us $("$TERN" bench verify | awk '{print $2}')"
python3 scripts/search-bench.py "127.0.0.1:$port" "$relay_pid" --seconds "$SECONDS_RUN"
echo "schnorr_verify_us (after) $("$TERN" bench verify | awk '{print $2}')"
