#!/usr/bin/env bash
# Runs ducq-bench: ducq (its own protocol and its MQTT listener) against
# mosquitto (MQTT 3.1.1, QoS 0), nats-server and redis-server, each started
# here on a free 127.0.0.1 port with a minimal config, stopped again on
# exit, and against ducq-floor (benches/floor/floor.c, built here with the
# C compiler), the floor of S4. Installs the three peers from Debian
# packages when missing. Extra arguments go to ducq-bench (they win
# over the defaults set here), e.g.
#   scripts/bench.sh --scenarios S1,S3 --runs 1 --messages 20000
# The report is printed and written to $BENCH_OUT (default
# target/bench/results.md). Everything listens on loopback only.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
export PATH="$PATH:/usr/sbin:/sbin"
OUT="${BENCH_OUT:-target/bench/results.md}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

# S4 holds 10 000 connections open: brokers and bench need the descriptors.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard"

echo "bench: building (release)" >&2
cargo build --release --locked --quiet --bin ducq-server --bin ducq-bench
BENCH=target/release/ducq-bench
mkdir -p target/bench
"${CC:-cc}" -O2 -Wall -Wextra -Werror -o target/bench/ducq-floor benches/floor/floor.c

tmp=$(mktemp -d)
pids=()
trap cleanup EXIT

read -r -d '' P_DUCQ P_WS P_MQTT P_NATS P_REDIS P_DMQTT P_FLOOR < <("$BENCH" free-ports 7; printf '\0') || true

cat >"$tmp/mosquitto.conf" <<CONF
listener $P_MQTT 127.0.0.1
allow_anonymous true
persistence false
log_dest none
set_tcp_nodelay true
max_connections -1
max_queued_messages 0
CONF

cat >"$tmp/nats.conf" <<CONF
listen: 127.0.0.1:$P_NATS
max_connections: 65536
max_pending: 268435456
write_deadline: "30s"
CONF

cat >"$tmp/redis.conf" <<CONF
bind 127.0.0.1
port $P_REDIS
protected-mode no
daemonize no
save ""
appendonly no
dir $tmp
logfile ""
loglevel warning
maxclients $((hard - 64))
client-output-buffer-limit pubsub 0 0 0
CONF

# Starts a broker in the background; records its pid in $started_pid.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
}

args=()
brokers=()
launch() {
    local name=$1 port=$2
    shift 2
    start "$name" "$@"
    if wait_port "$started_pid" "$port"; then
        echo "bench: $name on 127.0.0.1:$port (pid $started_pid)" >&2
        args+=("--$name" "127.0.0.1:$port" --pid "$name=$started_pid")
        brokers+=("$name")
    else
        echo "bench: $name did not start; skipped. Its log:" >&2
        tail -n 20 "$tmp/$name.log" >&2 || true
    fi
}

# S6 needs ducq's WebSocket listener: used when the server has a flag for it.
ducq=(target/release/ducq-server --tcp "127.0.0.1:$P_DUCQ" --log-level warn)
server_help=$(target/release/ducq-server --help 2>&1 || true)
for flag in --ws --http; do
    if grep -q -- "^ *$flag " <<<"$server_help"; then
        ducq+=("$flag" "127.0.0.1:$P_WS")
        args+=(--ducq-ws "127.0.0.1:$P_WS")
        break
    fi
done
# ducq's own MQTT listener, driven by the same MQTT clients as mosquitto.
ducq_mqtt=0
if grep -q -- "^ *--mqtt " <<<"$server_help"; then
    ducq+=(--mqtt "127.0.0.1:$P_DMQTT")
    ducq_mqtt=1
fi
launch ducq "$P_DUCQ" "${ducq[@]}"
if [ "$ducq_mqtt" = 1 ] && [[ " ${brokers[*]} " == *" ducq "* ]] && wait_port "$started_pid" "$P_DMQTT"; then
    args+=(--ducq-mqtt "127.0.0.1:$P_DMQTT" --pid "ducq-mqtt=$started_pid")
    brokers+=(ducq-mqtt)
fi
launch mosquitto "$P_MQTT" mosquitto -c "$tmp/mosquitto.conf"
launch nats "$P_NATS" nats-server -c "$tmp/nats.conf"
launch redis "$P_REDIS" redis-server "$tmp/redis.conf"
launch floor "$P_FLOOR" target/bench/ducq-floor 127.0.0.1 "$P_FLOOR"

if [ ${#brokers[@]} -eq 0 ]; then
    echo "bench: no broker started" >&2
    exit 1
fi
mkdir -p "$(dirname "$OUT")"
selected=$(IFS=,; echo "${brokers[*]}")
status=0
"$BENCH" "${args[@]}" --brokers "$selected" --out "$OUT" "$@" || status=$?
echo "bench: report written to $OUT" >&2
exit "$status"
