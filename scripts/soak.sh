#!/usr/bin/env bash
# A bounded soak run: `tern bench mixed` rounds (publishing, queries and 200 live subscribers at
# once, new connections each round) against one release relay on 127.0.0.1 for SOAK_SECONDS
# (default 600), sampling the relay's memory every 10 s. Prints the memory curve as CSV
# (seconds, RSS, anonymous = heap, file = LMDB pages mapped) and one line per round.
# Usage: scripts/soak.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SOAK_SECONDS:-600}}
swift build -c release --product tern >/dev/null
TERN=$(swift build -c release --show-bin-path)/tern
PORT=${PORT:-17791}
DATA=$(mktemp -d /tmp/tern-soak-XXXX)
TERN_LIMITS_MAX_CONNECTIONS_PER_IP=20000 "$TERN" serve --listen 127.0.0.1:$PORT --data "$DATA" --log-level warning &
RELAY=$!
SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    kill -TERM "$RELAY" 2>/dev/null && wait "$RELAY" || true
    rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.05; done

kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$RELAY/status"; }
start=$(date +%s)
(
    while kill -0 "$RELAY" 2>/dev/null; do
        echo "memory,$(($(date +%s) - start)),$(kb VmRSS),$(kb RssAnon),$(kb RssFile)"
        sleep 10
    done
) &
SAMPLER=$!
echo "memory,seconds,rss_kb,anon_kb,file_kb"
round=0
while [ $(($(date +%s) - start)) -lt "$seconds" ]; do
    round=$((round + 1))
    "$TERN" bench mixed --url ws://127.0.0.1:$PORT --events 30000 --connections 4 --window 16 \
        --subscribers 200 --duration 45 --seed "$round" --json 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print("round,%d,%s" % ('"$round"', ",".join("%s=%s" % (k, r.get(k)) for k in ("events_accepted","events_per_second","queries_per_second","deliveries_per_second","every_subscriber_got_every_event","queries_closed_by_relay"))))'
done
echo "memory,$(($(date +%s) - start)),$(kb VmRSS),$(kb RssAnon),$(kb RssFile)"
