#!/usr/bin/env bash
# A bounded libFuzzer run of the client-message parser and filter matching (Fuzz/FuzzRelayInput),
# starting from the committed corpus (Fuzz/corpus). A crash fails the run and is copied to
# Fuzz/crashes/ so it can be replayed (`.build/debug/FuzzRelayInput Fuzz/crashes`) and fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
binary=.build-fuzz/release/FuzzRelayInput
work=$(mktemp -d /tmp/tern-fuzz-XXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp Fuzz/corpus/* "$work/corpus/"
# Let libFuzzer, not the Swift runtime's backtracer, handle a crash, so that it saves the input.
if SWIFT_BACKTRACE=enable=no "$binary" "$work/corpus" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log" 2>&1; then
    grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" || true
    echo "fuzz: 1 passed, 0 failed ($seconds s, no crash)"
else
    tail -40 "$work/log"
    mkdir -p Fuzz/crashes
    cp "$work"/artifacts/* Fuzz/crashes/ 2>/dev/null || true
    echo "fuzz: 0 passed, 1 failed (inputs saved in Fuzz/crashes/)"
    exit 1
fi
