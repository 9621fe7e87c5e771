#!/usr/bin/env bash
# Bytes on the wire and relay CPU per REQ answer (500 kind-1 events of the benchmark corpus),
# with and without permessage-deflate, in one run, with the Schnorr unit measured beside it.
# Then the relay's memory per open connection, compressed or not (CONNECTIONS, default 200).
# Usage: scripts/compression-bench.sh [reqs]   (env TERN_COMPRESSION_* passes to the relay)
set -euo pipefail
cd "$(dirname "$0")/.."
REQS=${1:-100}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
PORT=${PORT:-17785}
python3 -c "import websockets" 2>/dev/null || pip install -q websockets
work=$(mktemp -d /tmp/tern-compress-XXXX)
trap 'rm -rf "$work"' EXIT
"$TERN" bench corpus --events 20000 --authors 500 --seed 3 --out "$work/corpus.jsonl"
"$TERN" import "$work/corpus.jsonl" --data "$work/data" >/dev/null 2>&1
"$TERN" serve --listen 127.0.0.1:$PORT --data "$work/data" --log-level warning &
relay=$!
until curl -sf -o /dev/null http://127.0.0.1:$PORT/health; do
    kill -0 "$relay" 2>/dev/null || { echo "relay exited" >&2; exit 1; }
    sleep 0.05
done
python3 scripts/compression-bench.py 127.0.0.1:$PORT "$relay" --reqs "$REQS" || true
python3 scripts/compression-bench.py 127.0.0.1:$PORT "$relay" --connections "${CONNECTIONS:-200}" || true
echo "schnorr_verify_us $("$TERN" bench verify | awk '{print $2}')"
kill -TERM "$relay"
wait "$relay" || true
