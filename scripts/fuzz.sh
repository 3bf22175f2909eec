#!/usr/bin/env bash
# Runs ducq's fuzz targets one after the other, each for at most SECONDS
# (default 60) on a single core, and prints the executions and result of
# each. Needs the nightly toolchain and cargo-fuzz.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   RUNS=10000000 scripts/fuzz.sh 1800     # stop at 10M executions or 30 min
#
# New inputs go to fuzz/corpus/<target> (not committed); the committed seeds
# in fuzz/seeds/<target> are read only. A crash leaves its input under
# fuzz/artifacts/<target>/ and makes the script exit non-zero at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=(tcp_decoder message_parse route_match classify ws_handshake ws_frame http_request
        reactor_input c_vtable tls_input mqtt_packet mqtt_connection)
fi
runs=${RUNS:--1} # -1: no limit on executions
max_len=${MAX_LEN:-1024}

[ -d fuzz/seeds ] || scripts/fuzz-seeds.sh

# One build job and one fuzzing process: the machine is shared.
export CARGO_BUILD_JOBS=1
cargo +nightly fuzz build --fuzz-dir fuzz

failed=0
printf '%-14s %14s %8s  %s\n' target executions seconds result
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/corpus/$t.log"
    start=$(date +%s)
    if cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -runs="$runs" -max_len="$max_len" \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log)"
        failed=1
    fi
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf '%-14s %14s %8s  %s\n' "$t" "${execs:-?}" "$took" "$result"
done
exit "$failed"
