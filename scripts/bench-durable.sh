#!/usr/bin/env bash
# Runs `ducq-bench durable`: ducq's durable queues beside NATS JetStream
# (file storage) and Redis Streams (AOF, appendfsync everysec and always),
# and request/reply beside NATS, each broker started here on a free
# 127.0.0.1 port with its data in a temporary directory on the same file
# system, stopped again on exit. Installs nats-server and redis-server
# from Debian packages when missing. Extra arguments go to ducq-bench
# durable, e.g. scripts/bench-durable.sh --messages 20000
# The report is printed and written to $BENCH_OUT (default
# target/bench/durable.md). Everything listens on loopback only.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
export PATH="$PATH:/usr/sbin:/sbin"
OUT="${BENCH_OUT:-target/bench/durable.md}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v nats-server >/dev/null || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

echo "bench: building (release)" >&2
cargo build --release --quiet --bin ducq-server --bin ducq-bench
BENCH=target/release/ducq-bench

# Data on the same disk as the target directory, not a tmpfs: fsyncs count.
mkdir -p target/bench
tmp=$(mktemp -d -p target/bench durable.XXXXXX)
pids=()
trap cleanup EXIT

read -r -d '' P_DUCQ P_NATS P_REDIS < <("$BENCH" free-ports 3; printf '\0') || true

args=()
launch() {
    local name=$1 port=$2
    shift 2
    "$@" >"$tmp/$name.log" 2>&1 &
    pids+=("$!")
    if wait_port "$!" "$port"; then
        echo "bench: $name on 127.0.0.1:$port" >&2
        args+=("--$name" "127.0.0.1:$port")
    else
        echo "bench: $name did not start; skipped. Its log:" >&2
        tail -n 20 "$tmp/$name.log" >&2 || true
    fi
}

launch ducq "$P_DUCQ" target/release/ducq-server --tcp "127.0.0.1:$P_DUCQ" \
    --data-dir "$tmp/ducq" --log-level warn
launch nats "$P_NATS" nats-server -a 127.0.0.1 -p "$P_NATS" -js -sd "$tmp/nats"
# AOF is switched on by the bench itself (everysec, then always).
launch redis "$P_REDIS" redis-server --bind 127.0.0.1 --port "$P_REDIS" \
    --protected-mode no --save "" --appendonly no --dir "$tmp"

status=0
"$BENCH" durable "${args[@]}" --out "$OUT" "$@" || status=$?
echo "bench: report written to $OUT" >&2
exit "$status"
