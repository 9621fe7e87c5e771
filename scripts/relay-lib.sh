# Shared by the benchmark scripts: start `tern serve` on an ephemeral loopback port over a data
# directory, and stop it (only that process) and remove the work folder on exit.
# Usage (sourced): start_relay DATA LOG   -> sets relay_pid and port; trap cleanup EXIT.
relay_pid=""
cleanup() {
    if [ -n "$relay_pid" ]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
start_relay() {
    "$TERN" serve --listen 127.0.0.1:0 --data "$1" 2>"$2" &
    relay_pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(grep -o 'address=127.0.0.1:[0-9]*' "$2" | head -1 | cut -d: -f2 || true)
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    echo "the relay did not start" >&2
    exit 1
}
