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
# The machine's speed drifts from minute to minute: each run's unit is the mean of one
# verification measured just before it and one just after, with every core verifying at once
# (`--parallel`, as the import's checks do); the one-thread unit is printed beside it.
CORES=$(nproc)
for run in $(seq "$RUNS"); do
    rm -rf "$work/data"
    before=$("$TERN" bench verify --parallel "$CORES" | awk '{print $2}')
    single=$("$TERN" bench verify | awk '{print $2}')
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$TERN" import "$work/corpus.jsonl" --data "$work/data" >"$work/out" 2>/dev/null
    read -r wall user sys <"$work/time"
    after=$("$TERN" bench verify --parallel "$CORES" | awk '{print $2}')
    verify=$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", (a + b) / 2 }')
    awk -v n="$EVENTS" -v w="$wall" -v u="$user" -v s="$sys" -v v="$verify" -v r="$run" -v one="$single" 'BEGIN {
        cpu = (u + s) / n * 1e6
        printf "run %d: %.0f events/s  wall %.2f s  cpu %.2f s (user %.2f, sys %.2f)  %.1f us/event = %.2f verifications of %.1f us on every core (%.2f of %.1f us on one)  cores used %.2f\n",
            r, n / w, w, u + s, u, s, cpu, cpu / v, v, cpu / one, one, (u + s) / w
    }'
done
grep -E "accepted|invalid" "$work/out"
