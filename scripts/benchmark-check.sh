#!/usr/bin/env bash
# Fails when a benchmark's malloc count rises above its committed threshold
# (Benchmarks/Thresholds). Malloc counts are deterministic, so this gate is exact.
# An improvement passes, with a reminder to lock it in with `make benchmark-thresholds`.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
TERN_BENCH_STORE_EVENTS=${TERN_BENCH_STORE_EVENTS:-100000} \
    swift package benchmark thresholds check --path Benchmarks/Thresholds --metric mallocCountTotal --no-progress \
    >"$log" 2>&1
rc=$?
grep -aE "Deviations|EQUAL|BETTER|WORSE|│ Malloc|error:" "$log" || true
if [ $rc -eq 0 ]; then
    echo "benchmark malloc gate: $(ls Benchmarks/Thresholds/*.json | wc -l) benchmarks at or under their thresholds"
    rm -f "$log"
    exit 0
fi
if grep -q "WORSE" "$log"; then
    echo "benchmark malloc gate: a malloc count rose above Benchmarks/Thresholds (see above)"
    rm -f "$log"
    exit 1
fi
# Fewer mallocs pass, but only from a run that finished: a build error or a crash after some
# benchmarks printed BETTER is a failed run. The only error line allowed is the plugin's own
# "threshold improvement" exit.
# (The plugin's own warning about its runtime interposer names a crash it avoids: not one.)
if grep -q "BETTER" "$log" && ! grep -aiE "error|crash|fatal|signal [0-9]|terminated" "$log" \
    | grep -aiv "improvement" | grep -qav "Warning: running with the Swift runtime interposer"; then
    echo "benchmark malloc gate: fewer mallocs than the thresholds; run 'make benchmark-thresholds' to keep the gain"
    rm -f "$log"
    exit 0
fi
cat "$log"
rm -f "$log"
echo "benchmark malloc gate: the benchmark run failed"
exit 1
