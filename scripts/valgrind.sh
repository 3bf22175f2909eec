#!/usr/bin/env bash
# Runs the integration suites whose server runs in-process (the same reactor
# ducq-server runs) under valgrind's memcheck; any memory error fails.
# Suites that assert wall-clock timing (tcp_resilience, fd_exhaustion) are
# left out: valgrind serialises threads and slows everything ~20x.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="valgrind -q --error-exitcode=99 --leak-check=no"
cargo test --locked --test tcp_broker --test regressions --test hostile --test ws_http \
  --test output_sharing --test read_path "$@"
