#!/usr/bin/env bash
# The size of the fully static, stripped `tern` (`make static`), against the budget, and what
# its code is made of (by Swift module or C library, from the unstripped binary's symbols).
# Usage: scripts/binary-size.sh   (after `make static`; BUDGET_MB, default 15, in MiB)
# Exit status 1 when the binary is over the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_MB=${BUDGET_MB:-15}
bin=.build-static/tern-static
[ -x "$bin" ] || { echo "no $bin: run make static" >&2; exit 2; }
bytes=$(stat -c %s "$bin")
echo "static_stripped_bytes $bytes"
echo "static_stripped_mib   $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
echo "linking:              $(file -b "$bin" | grep -o 'statically linked\|dynamically linked')"
echo "largest parts (MB of symbols):"
nm --print-size --size-sort .build-static/release/tern | python3 -c '
import re, sys, collections
total = collections.Counter()
for line in sys.stdin:
    p = line.split()
    if len(p) < 4: continue
    size, name = int(p[1], 16), p[3]
    m = re.match(r"\$s(\d+)(\w+)", name)
    if m and m.group(2)[:int(m.group(1))] not in ("s", "S"): module = m.group(2)[:int(m.group(1))]
    elif name.startswith("$s"): module = "Swift standard library"
    elif name.startswith("_Z"): module = "C++ (Swift runtime, libstdc++)"
    elif name.startswith("secp256k1"): module = "libsecp256k1"
    elif name.startswith("__CFUniChar"): module = "FoundationEssentials Unicode tables"
    else: module = "C (libc, LMDB, libcrypto, dispatch)"
    total[module] += size
for module, size in total.most_common(12):
    print(f"  {size / 1e6:6.2f}  {module}")
'
if [ "$bytes" -gt $((BUDGET_MB * 1048576)) ]; then
    echo "over budget: $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB > $BUDGET_MB MiB" >&2
    exit 1
fi
echo "within budget ($BUDGET_MB MiB)"
