#!/usr/bin/env bash
# Soaks a release ducq-server on loopback: starts it on two free 127.0.0.1
# ports, runs ducq-soak against it (connect/subscribe/publish/disconnect
# cycles, then a sustained publish load to many subscribers that check every
# message arrives in order), and compares the server's resident memory and
# open descriptors before and after. Prints a table; exits non-zero when a
# check fails or the server dies. Stops the server it started, and nothing
# else; it never listens beyond loopback.
#
#   scripts/soak.sh            # full: 100 000 cycles, 1 000 subscribers x 60 s
#   scripts/soak.sh --quick    # about 20 s, small numbers (suitable for CI)
#
# Extra arguments after the mode go to ducq-soak (see ducq-soak --help),
# e.g. scripts/soak.sh --quick --rate 500
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
if [ "${1:-}" = --quick ]; then
    mode=quick
    shift
fi
if [ "$mode" = quick ]; then
    # About 20 s in all.
    args=(--cycles 3000 --threads 4 --subscribers 200 --seconds 5 --rate 100
        --warmup-cycles 1000 --warmup-seconds 2)
    limit=120
else
    # 50 msg/s to 1 000 subscribers is 50 000 loopback sends a second: about
    # half of what one 2-core machine delivers to that many sockets while
    # also running the clients (each send costs ~10 us in the kernel).
    args=(--cycles 100000 --threads 8 --subscribers 1000 --seconds 60 --rate 50
        --warmup-cycles 10000 --warmup-seconds 10)
    limit=1200
fi

# 1 000 subscribers and the server's own descriptors.
ulimit -n 8192 2>/dev/null || true

echo "soak: building (release)" >&2
cargo build --release --quiet --bin ducq-server --bin ducq-soak
SOAK=target/release/ducq-soak

read -r -d '' P_TCP P_HTTP < <("$SOAK" free-ports 2; printf '\0') || true
log=$(mktemp)
target/release/ducq-server --tcp "127.0.0.1:$P_TCP" --http "127.0.0.1:$P_HTTP" \
    --log-level warn 2>"$log" &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
}
trap cleanup EXIT

# Wait for both listeners.
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$P_TCP") 2>/dev/null &&
        (exec 3<>"/dev/tcp/127.0.0.1/$P_HTTP") 2>/dev/null; then
        break
    fi
    sleep 0.1
done
# Those probe connections are closed by now; give the server a moment to
# see them go before its baseline is taken.
sleep 0.5

echo "soak: $mode, server pid $pid on 127.0.0.1:$P_TCP (tcp) and :$P_HTTP (http/ws)" >&2
status=0
timeout "$limit" "$SOAK" --tcp "127.0.0.1:$P_TCP" --ws "127.0.0.1:$P_HTTP" --pid "$pid" \
    "${args[@]}" "$@" || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
    echo "soak: FAILED: the server exited" >&2
    status=1
fi
if [ -s "$log" ]; then
    echo "soak: server log (warnings and errors):" >&2
    tail -n 20 "$log" >&2
fi
exit "$status"
