#!/usr/bin/env bash
# S1 and S2 over TLS: ducq's tls listener beside its plain TCP one,
# mosquitto with a TLS listener and nats-server with TLS required, on
# 127.0.0.1 with a throw-away CA and server certificate made here by
# openssl (nothing is kept). nats-server sends its INFO line in plain text
# and starts TLS after it (the NATS way, which 2.9 has); ducq-bench reads
# that line before its handshake. Extra arguments go to ducq-bench, e.g.
#   scripts/bench-tls.sh --runs 1 --messages 50000
# Reports: $BENCH_OUT_PLAIN and $BENCH_OUT_TLS (default target/bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
export PATH="$PATH:/usr/sbin:/sbin"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v openssl >/dev/null || missing+=(openssl)
command -v nats-server >/dev/null || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

cargo build --release --quiet --bin ducq-server --bin ducq-bench
BENCH=target/release/ducq-bench
tmp=$(mktemp -d)
pids=()
trap cleanup EXIT

# A CA and a server certificate for 127.0.0.1 (ECDSA P-256, as rcgen makes
# for the tests).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=bench-ca -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=127.0.0.1 -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/san.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 2 -extfile "$tmp/san.ext" -out "$tmp/server.pem" 2>/dev/null
# mosquitto started as root runs as the user mosquitto: let it read these
# throw-away files.
chmod 755 "$tmp"
chmod 644 "$tmp"/*.pem "$tmp"/*.key

read -r -d '' P_TCP P_TLS P_MQTTS P_NATS < <("$BENCH" free-ports 4; printf '\0') || true

cat >"$tmp/mosquitto.conf" <<CONF
listener $P_MQTTS 127.0.0.1
cafile $tmp/ca.pem
certfile $tmp/server.pem
keyfile $tmp/server.key
allow_anonymous true
persistence false
log_dest none
set_tcp_nodelay true
max_connections -1
max_queued_messages 0
CONF

# TLS required on the client port; the handshake timeout is raised from
# its 0.5 s default, which a loaded machine can miss with many connections.
cat >"$tmp/nats.conf" <<CONF
listen: 127.0.0.1:$P_NATS
max_connections: 65536
max_pending: 268435456
write_deadline: "30s"
tls {
  cert_file: "$tmp/server.pem"
  key_file: "$tmp/server.key"
  timeout: 10
}
CONF

target/release/ducq-server --tcp "127.0.0.1:$P_TCP" --tls "127.0.0.1:$P_TLS" \
    --cert "$tmp/server.pem" --key "$tmp/server.key" --log-level warn >"$tmp/ducq.log" 2>&1 &
ducq_pid=$!
pids+=("$ducq_pid")
mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
mq_pid=$!
pids+=("$mq_pid")
nats-server -c "$tmp/nats.conf" >"$tmp/nats.log" 2>&1 &
nats_pid=$!
pids+=("$nats_pid")
wait_port "$ducq_pid" "$P_TLS"
wait_port "$mq_pid" "$P_MQTTS"
wait_port "$nats_pid" "$P_NATS"

mkdir -p target/bench
plain=${BENCH_OUT_PLAIN:-target/bench/tls-plain.md}
secure=${BENCH_OUT_TLS:-target/bench/tls.md}
echo "bench-tls: plain TCP" >&2
"$BENCH" --ducq "127.0.0.1:$P_TCP" --pid "ducq=$ducq_pid" --brokers ducq \
    --scenarios S1,S2 --out "$plain" "$@"
echo "bench-tls: TLS" >&2
"$BENCH" --tls-ca "$tmp/ca.pem" --ducq "127.0.0.1:$P_TLS" --pid "ducq=$ducq_pid" \
    --mosquitto "127.0.0.1:$P_MQTTS" --pid "mosquitto=$mq_pid" \
    --nats "127.0.0.1:$P_NATS" --pid "nats=$nats_pid" --brokers ducq,mosquitto,nats \
    --scenarios S1,S2 --out "$secure" "$@"
