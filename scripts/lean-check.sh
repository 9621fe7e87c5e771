#!/usr/bin/env bash
# Fails when the default `tern` (built without the `Postgres` trait) links a PostgreSQL client or
# Foundation: the edge build stays lean (the PostgreSQL backend is opt-in, see the README).
set -euo pipefail
binary="${1:?usage: lean-check.sh path/to/tern}"
if nm -C "$binary" 2>/dev/null | grep -q "PostgresNIO"; then
    echo "lean-check: $binary contains PostgresNIO" >&2
    exit 1
fi
if ldd "$binary" | grep -Eq "libFoundation(Networking)?\.so"; then
    echo "lean-check: $binary links Foundation (not only FoundationEssentials, which swift-argument-parser brings):" >&2
    ldd "$binary" | grep Foundation >&2
    exit 1
fi
echo "lean-check: $binary links neither PostgresNIO nor Foundation"
