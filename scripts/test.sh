#!/usr/bin/env bash
# The whole test suite: unit, integration, C ABI, Lua and property tests,
# and the device side (scripts/test-embedded.sh).
# Installs the few system packages the suite needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v valgrind >/dev/null || need+=(valgrind)
command -v curl >/dev/null || need+=(curl)
# TLS tests: openssl s_client, and keys in the forms openssl writes.
command -v openssl >/dev/null || need+=(openssl)
# Packaging tests: readelf, dpkg-deb/dpkg-shlibdeps, systemd-analyze, and
# the /bin/kill the unit's ExecReload names.
command -v readelf >/dev/null || need+=(binutils)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v systemd-analyze >/dev/null || need+=(systemd)
[ -x /bin/kill ] || need+=(procps)
# CLI tests: the completion scripts are run by the shells they are for, and
# `script` gives the colour and progress tests a terminal.
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
command -v script >/dev/null || need+=(bsdutils)
# Metrics are validated by Prometheus' own checker.
command -v promtool >/dev/null || need+=(prometheus)
# The dashboard's browser test: Debian's Chromium, driven from Node.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
# MQTT interoperability tests run a real Mosquitto and its clients.
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
# Bridge tests: a NATS server (one node and a three-node cluster).
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The MQTT interoperability tests also drive a Python client, paho-mqtt
# from PyPI, from a virtual environment of their own under target/.
if [ ! -x target/py-mqtt/bin/python ] || ! target/py-mqtt/bin/python -c 'import paho.mqtt' 2>/dev/null; then
  echo "installing paho-mqtt into target/py-mqtt"
  python3 -m venv target/py-mqtt
  target/py-mqtt/bin/pip install -q 'paho-mqtt==2.*'
fi

cargo test --locked "$@"
# The device side (QEMU, the ESP-IDF socket layer): with no arguments only,
# so a filtered run stays quick.
if [ $# -eq 0 ]; then
    scripts/test-embedded.sh
fi
