#!/usr/bin/env bash
# tern import's rate and CPU per event on a corpus of signed benchmark events, stated also in
# Schnorr verifications measured in the same run (`tern bench verify`).
# Usage: scripts/import-bench.sh [events] [runs]   (default 100000 events, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000}
RUNS=${2:-3}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
work=$(mktemp -d /tmp/tern-import-XXXX)
trap 'rm -rf "$work"' EXIT
"$TERN" bench corpus --events "$EVENTS" --authors 2000 --seed 42 --out "$work/corpus.jsonl"
echo "corpus: $EVENTS events, $(( $(stat -c %s "$work/corpus.jsonl") / 1048576 )) MiB"
verify=$("$TERN" bench verify | awk '{print $2}')
echo "schnorr_verify_us $verify"
for run in $(seq "$RUNS"); do
    rm -rf "$work/data"
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$TERN" import "$work/corpus.jsonl" --data "$work/data" >"$work/out" 2>/dev/null
    read -r wall user sys <"$work/time"
    awk -v n="$EVENTS" -v w="$wall" -v u="$user" -v s="$sys" -v v="$verify" -v r="$run" 'BEGIN {
        cpu = (u + s) / n * 1e6
        printf "run %d: %.0f events/s  wall %.2f s  cpu %.2f s (user %.2f, sys %.2f)  %.1f us/event = %.2f verifications  cores used %.2f\n",
            r, n / w, w, u + s, u, s, cpu, cpu / v, (u + s) / w
    }'
done
grep -E "accepted|invalid" "$work/out"
verify=$("$TERN" bench verify | awk '{print $2}')
echo "schnorr_verify_us (again, after) $verify"
