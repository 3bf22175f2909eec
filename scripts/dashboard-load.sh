#!/usr/bin/env bash
# Measures the dashboard and the commands it polls at scale: a release
# ducq-server on loopback, 10 000 idle connections and 1 000 stored routes
# (CONNS=, ROUTES= override), then tests/browser/crowd.mjs times the
# replies and loads the page in Debian's Chromium. Not part of the test
# suite (it holds 10 000 descriptors); figures go in docs/OPERATIONS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x /usr/bin/chromium ] || { echo "dashboard-load: apt-get install chromium" >&2; exit 1; }
cargo build --release --locked --quiet --bin ducq-server
ulimit -n "$(ulimit -Hn)"

dir=target/browser-load
mkdir -p "$dir"
cp tests/browser/package.json tests/browser/package-lock.json tests/browser/crowd.mjs "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --cache ../npm-cache >/dev/null)

log="$dir/server.log"
target/release/ducq-server --tcp 127.0.0.1:0 --http 127.0.0.1:0 --log-level info \
  --max-connections 20000 2>"$log" &
pid=$!
profile="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null; rm -rf "$profile"' EXIT
# The TCP listener opens first, then the HTTP one; each logs its address.
for _ in $(seq 100); do
  [ "$(grep -c 'listening on' "$log")" -ge 2 ] && break
  sleep 0.1
done
tcp=$(grep -m1 'listening on' "$log" | sed 's/.*://')
http=$(grep 'listening on' "$log" | sed -n 2p | sed 's/.*://')
DUCQ_URL="http://127.0.0.1:$http/" DUCQ_PORT="$tcp" PROFILE_DIR="$profile" \
  node "$dir/crowd.mjs"
echo
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")"
