#!/usr/bin/env bash
# Throughput and added latency through each kind of bridge
# (docs/BENCHMARKS.md, "Bridges"). Starts, on free 127.0.0.1 ports:
#   broker A: ducq-server with four bridges forwarding out
#             bench/ducq/#      to broker B directly (ducq <-> ducq),
#             bench/mqtt-q1/#   to mosquitto at QoS 1,
#             bench/mqtt-q0/#   to mosquitto at QoS 0,
#             bench/nats/#      to nats-server;
#   broker B: ducq-server with bridges bringing in bench/mqtt-q1/#,
#             bench/mqtt-q0/# from mosquitto and bench/nats/# from NATS;
# then runs `ducq-bench bridge` publishing at A and subscribing at B once
# per path, and once at A alone ("direct", no bridge) for the baseline.
# MQTT and NATS paths cross two bridges and the third broker. Everything
# is stopped on exit. Extra arguments go to every `ducq-bench bridge` run
# (e.g. --messages 20000 --size 1024). The table is printed and written to
# $BENCH_OUT (default target/bench/bridges.md).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
OUT="${BENCH_OUT:-target/bench/bridges.md}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v nats-server >/dev/null || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-bridges: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

echo "bench-bridges: building (release)" >&2
cargo build --release --locked --quiet --bin ducq-server --bin ducq-bench --bin ducq
BENCH=target/release/ducq-bench
SERVER=target/release/ducq-server

tmp=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

read -r -d '' P_A P_B P_MQTT P_NATS < <("$BENCH" free-ports 4; printf '\0') || true

cat >"$tmp/mosquitto.conf" <<CONF
listener $P_MQTT 127.0.0.1
allow_anonymous true
persistence false
log_dest none
set_tcp_nodelay true
max_queued_messages 0
CONF

# Starts "$@" in the background as $1 and waits for 127.0.0.1:$2.
launch() {
    local name=$1 port=$2
    shift 2
    "$@" >"$tmp/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "bench-bridges: $name on 127.0.0.1:$port (pid $pid)" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "bench-bridges: $name did not start. Its log:" >&2
    tail -n 20 "$tmp/$name.log" >&2 || true
    exit 1
}

# The bench publishes bursts: a bridge's buffer must hold one whole burst
# while the remote catches up, or the newest are dropped (and the run
# fails on the loss, as it should).
buf=buffer=1000000
launch mosquitto "$P_MQTT" mosquitto -c "$tmp/mosquitto.conf"
launch nats "$P_NATS" nats-server -a 127.0.0.1 -p "$P_NATS"
launch B "$P_B" "$SERVER" --tcp "127.0.0.1:$P_B" --log-level warn \
    --bridge "mqtt=127.0.0.1:$P_MQTT,name=mq1,in=bench/mqtt-q1/#,qos=1,client_id=bench-b1,clean_session=true,$buf" \
    --bridge "mqtt=127.0.0.1:$P_MQTT,name=mq0,in=bench/mqtt-q0/#,qos=0,client_id=bench-b0,clean_session=true,$buf" \
    --bridge "nats=127.0.0.1:$P_NATS,name=nats,in=bench/nats/#,$buf"
launch A "$P_A" "$SERVER" --tcp "127.0.0.1:$P_A" --log-level warn \
    --bridge "ducq=127.0.0.1:$P_B,name=ducq,out=bench/ducq/#,$buf" \
    --bridge "mqtt=127.0.0.1:$P_MQTT,name=mq1,out=bench/mqtt-q1/#,qos=1,client_id=bench-a1,clean_session=true,$buf" \
    --bridge "mqtt=127.0.0.1:$P_MQTT,name=mq0,out=bench/mqtt-q0/#,qos=0,client_id=bench-a0,clean_session=true,$buf" \
    --bridge "nats=127.0.0.1:$P_NATS,name=nats,out=bench/nats/#,$buf"

echo "bench-bridges: load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
status=0
header=--header
for path in direct ducq mqtt-q0 mqtt-q1 nats; do
    to=$P_B
    if [ "$path" = direct ]; then to=$P_A; fi
    echo "bench-bridges: $path" >&2
    "$BENCH" bridge --from "127.0.0.1:$P_A" --to "127.0.0.1:$to" --label "$path" \
        $header --out "$OUT" "$@" || status=$?
    header=
done
echo "bench-bridges: the bridges' counters at A and B:" >&2
for port in "$P_A" "$P_B"; do
    target/release/ducq --port "$port" send bridges >&2 2>/dev/null || true
done
echo "bench-bridges: load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "bench-bridges: table written to $OUT" >&2
exit "$status"
