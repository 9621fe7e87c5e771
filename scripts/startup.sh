#!/usr/bin/env bash
# Start-up time and idle memory of the release relay on an existing store (scripts/startup.py
# polls /health in-process every 0.5 ms and reads /proc a second after the first answer).
# Usage: scripts/startup.sh DATA_DIR [runs]   (TERN=.build-static/tern-static for the static binary)
# A store of a million events: `tern bench corpus --events 1000000 --out c.jsonl` then
# `tern import c.jsonl --data DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: scripts/startup.sh DATA_DIR [runs]}
TERN=${TERN:-$(swift build -c release --show-bin-path)/tern}
exec python3 scripts/startup.py "$TERN" "$DATA" "${2:-5}" "${PORT:-17782}"
