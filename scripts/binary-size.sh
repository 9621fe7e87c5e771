#!/usr/bin/env bash
# The size of the release `tern` binary with the Swift runtime linked in statically, stripped
# (the issue's figure), and what it still loads dynamically.
# Usage: scripts/binary-size.sh   (its own build folder, .build-static)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tern --static-swift-stdlib --scratch-path .build-static >/dev/null
out=$(mktemp /tmp/tern-static-XXXX)
strip -o "$out" .build-static/release/tern
echo "static_stripped_bytes $(stat -c %s "$out")"
echo "static_stripped_mb    $(awk -v b="$(stat -c %s "$out")" 'BEGIN { printf "%.1f", b / 1048576 }')"
echo "still dynamic:        $(ldd "$out" | awk '{print $1}' | grep -v vdso | tr '\n' ' ')"
rm -f "$out"
