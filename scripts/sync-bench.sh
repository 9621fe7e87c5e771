#!/usr/bin/env bash
# `tern sync` against a second tern on loopback: N signed events on the relay; one store holding
# all but 1 % of them (every 100th line left out), one empty (a full download). Prints wall
# time, bytes each way, negentropy rounds, and the CPU of the syncing tool and of the relay,
# also in Schnorr verifications measured in the same run.
# Usage: scripts/sync-bench.sh [events]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
work=$(mktemp -d /tmp/tern-sync-XXXX)
source scripts/relay-lib.sh
trap cleanup EXIT
"$TERN" bench corpus --events "$EVENTS" --authors 2000 --seed 7 --out "$work/all.jsonl"
awk 'NR % 100 != 0' "$work/all.jsonl" >"$work/most.jsonl"
"$TERN" import "$work/all.jsonl" --data "$work/relay" >/dev/null 2>&1
"$TERN" import "$work/most.jsonl" --data "$work/most" >/dev/null 2>&1
start_relay "$work/relay" "$work/relay.log"
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
run() {
    local name=$1 data=$2
    local before after unit
    unit=$("$TERN" bench verify | awk '{print $2}')
    before=$(cpu "$relay_pid")
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$TERN" sync --url "ws://127.0.0.1:$port" --data "$data" \
        >"$work/out" 2>/dev/null
    after=$(cpu "$relay_pid")
    read -r wall user sys <"$work/time"
    local moved rounds sent received
    moved=$(awk '$1 == "stored" { gsub(",", "", $2); print $2 }' "$work/out")
    rounds=$(grep -o '[0-9]* negentropy rounds' "$work/out" | cut -d' ' -f1)
    sent=$(grep -o '[0-9,]* bytes sent' "$work/out" | cut -d' ' -f1 | tr -d ,)
    received=$(grep -o '[0-9,]* received' "$work/out" | cut -d' ' -f1 | tr -d ,)
    awk -v name="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$(( after - before ))" -v t="$tick" \
        -v moved="$moved" -v rounds="$rounds" -v sent="$sent" -v recv="$received" -v unit="$unit" 'BEGIN {
        tool = (u + s) * 1e6; relay = r / t * 1e6
        per = moved > 0 ? moved : 1
        printf "%s: %s events moved in %.2f s, %d rounds, %d bytes sent, %d received; CPU tool %.2f s, relay %.2f s; per moved event %.1f + %.1f us = %.2f + %.2f verifications of %.1f us\n",
            name, moved, w, rounds, sent, recv, tool / 1e6, relay / 1e6, tool / per, relay / per, tool / per / unit, relay / per / unit, unit
    }'
}
run "1% missing" "$work/most"
run "full download" "$work/empty"
