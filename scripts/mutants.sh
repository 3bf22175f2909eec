#!/usr/bin/env bash
# Mutation testing of the broker's core with cargo-mutants: how much of the
# behaviour of src/proto/, src/transport/ and src/server/ the tests pin.
# Far too slow for CI (hours on two cores); run it by hand and record the
# table in docs/RELIABILITY.md ("Mutation testing").
#
#   scripts/mutants.sh                      # the four areas of the 95 % bar
#   scripts/mutants.sh server               # one area
#   scripts/mutants.sh src/server/broker.rs # one file (any glob cargo-mutants takes)
#   scripts/mutants.sh all                  # every area, http and c_vtable too
#   scripts/mutants.sh --summary            # the table of what has run so far
#   scripts/mutants.sh --prepare            # only make the trimmed copy (below)
#
# Areas: proto, tcp, transport (decoder.rs and mod.rs), ws, server, http,
# c_vtable. Each file runs on its own (cargo-mutants --file), its outcome
# in target/mutants-<file>/mutants.out/ (caught.txt, missed.txt,
# timeout.txt, unviable.txt, outcomes.json). A rerun of a file skips the
# mutants an earlier run caught (cargo-mutants --iterate).
#
# What it mutates is a trimmed copy of the crate in target/mutants-src/:
# the library as an rlib only, no binaries, no benchmarks, and the build
# script (header, C files) run once rather than per mutant. None of what
# is left out is used by the tests run here, and leaving it out saves
# linking a static library, a shared library and four programs for every
# mutant. The tests run against each mutant are the
# library's unit tests and the test files that exercise these modules over
# real sockets or as codecs (TESTS below); the C, Lua and CLI suites are
# left out (they need the C toolchain and the binaries, and add nothing for
# these files that the socket tests do not).
#
# Environment: MUTANTS_TESTS (below), MUTANTS_ARGS (more cargo-mutants
# options, e.g. "--shard 0/3 --sharding round-robin" for every third
# mutant of a large file), MUTANTS_TIMEOUT (seconds per test run, default 300),
# MUTANTS_JOBS (default 1), MUTANTS_FROM (above), MUTANTS_STREAM (a
# suffix for the copy and build directories, so two runs on different
# files can go side by side), MUTANTS_LIB_ONLY=1 (only the library's unit
# tests: each mutant compiles the crate once, not twice; for a codec file
# whose behaviour its unit tests pin, the quickest bounded run — and a lower
# bound, as any restriction), MUTANTS_FILTER (a test-name filter passed to
# cargo test, e.g. "server::bridges::" with MUTANTS_LIB_ONLY=1: only that
# module's unit tests run against each mutant; the quickest run for a file
# its own module's tests pin, and a lower bound again). It runs under
# `nice -n 19`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The test files run against each mutant, besides the library's unit
# tests (helpers: util/, oracle/, driven/); ALONE ones need a process of
# their own (fd_exhaustion lowers the descriptor limit, sigpipe restores
# the default action of SIGPIPE, process blocks signals and changes the
# open-file limit).
TESTS=(tcp_broker tcp_resilience hostile ws_http prop_codecs prop_ws_http
  read_path output_sharing regressions http_chunked_limit client
  last_store hub_memory hub_limits reactor_turns routing prop_routes
  streaming queues request_reply codec_edges back_pressure)
ALONE=(fd_exhaustion sigpipe process)
# MUTANTS_TESTS="a b" runs only these test files (and the unit tests, and
# no ALONE file unless named): a quicker run for a codec file whose tests
# are its unit tests and properties. Fewer tests can only miss more, so
# its figures are a lower bound; say which tests ran when you record them.
if [ -n "${MUTANTS_TESTS:-}" ]; then
  read -r -a wanted <<<"$MUTANTS_TESTS"
  keep=()
  for t in "${ALONE[@]}"; do
    [[ " ${wanted[*]} " == *" $t "* ]] && keep+=("$t")
  done
  ALONE=("${keep[@]}")
  TESTS=("${wanted[@]}")
fi
SLOW=(client hostile tcp_resilience back_pressure)

area_files() {
  case "$1" in
    proto) ls src/proto/*.rs ;;
    tcp) echo src/transport/tcp.rs ;;
    transport) echo src/transport/mod.rs src/transport/decoder.rs ;;
    ws) ls src/transport/ws/*.rs ;;
    server) find src/server -name '*.rs' | sort ;;
    http) ls src/transport/http/*.rs ;;
    c_vtable) echo src/transport/c_vtable.rs ;;
    *) return 1 ;;
  esac
}

count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# After a rerun (--iterate), "caught" also counts the earlier run's
# unviable mutants: cargo-mutants lists both in previously_caught.txt.
summary() {
  printf '%-44s %6s %6s %6s %8s %7s\n' file total caught missed unviable timeout
  for d in target/mutants-src_*/mutants.out; do
    [ -d "$d" ] || continue
    local name=${d#target/mutants-}
    name=${name%/mutants.out}
    local c m u t
    c=$(($(count "$d/caught.txt") + $(count "$d/previously_caught.txt")))
    m=$(count "$d/missed.txt")
    u=$(count "$d/unviable.txt")
    t=$(count "$d/timeout.txt")
    printf '%-44s %6d %6d %6d %8d %7d\n' "$name" $((c + m + u + t)) "$c" "$m" "$u" "$t"
  done
}

if [ "${1:-}" = "--summary" ]; then
  summary
  exit 0
fi

if ! command -v cargo-mutants >/dev/null; then
  echo "installing cargo-mutants (a developer tool, into ~/.cargo/bin)"
  cargo install cargo-mutants --locked
fi

# The trimmed copy (see above), made afresh before each file from the
# working tree, or from the commit MUTANTS_FROM names (so a long run in the
# background tests what was committed while work goes on).
src=target/mutants-src${MUTANTS_STREAM:-}
prepare() {
  rm -rf "$src"
  mkdir -p "$src"
  # What the library's build needs (the dashboard is compiled in).
  local parts="Cargo.toml Cargo.lock build.rs cbindgen.toml include dashboard src crates tests"
  # Fresh modification times (cp -R, tar -m): cargo decides what to
  # rebuild from them, and the shared build directory may hold a build of
  # newer-looking older sources.
  if [ -n "${MUTANTS_FROM:-}" ]; then
    git archive "$MUTANTS_FROM" $parts | tar -x -m -C "$src"
  else
    cp -R $parts "$src/"
  fi
  # The build script compiles the C half of the C API into the library;
  # run it once, not for every mutant (it would rerun on any change in
  # src/, and no mutant here touches the C files).
  # Its link instructions for the binaries and the shared library name
  # targets the copy does not have: made inert.
  sed -i -e 's|rerun-if-changed=src"|rerun-if-changed=src/ffi/c"|' \
    -e 's|cargo:rustc-link-arg-bin=|cargo:rerun-if-env-changed=MUTANTS_UNUSED_|' \
    -e 's|cargo:rustc-cdylib-link-arg=|cargo:rerun-if-env-changed=MUTANTS_UNUSED_|' \
    "$src/build.rs"
  # The test files in TESTS, and their helpers, as modules of two test
  # crates: rebuilding and linking one crate per file for every mutant is
  # most of the build time. tests/suite_a.rs holds the quick files and runs
  # first, tests/suite_b.rs the slow ones (SLOW), so a mutant the quick
  # ones catch costs no more (cargo stops at the first failing crate). A
  # file that changes process-wide state keeps a crate of its own (ALONE).
  local t name crate
  mkdir -p "$src/suite"
  for crate in suite_a suite_b; do
    echo "// Generated by scripts/mutants.sh: test files as one crate." >"$src/$crate.rs"
  done
  for t in "$src"/tests/*.rs; do
    name=$(basename "$t" .rs)
    crate=suite_a
    [[ " ${SLOW[*]} " == *" $name "* ]] && crate=suite_b
    if [[ " ${ALONE[*]} " == *" $name "* ]]; then
      continue
    elif [[ " ${TESTS[*]} " == *" $name "* ]]; then
      mv "$t" "$src/suite/"
      printf '#[path = "suite/%s.rs"]\nmod %s;\n' "$name" "$name" >>"$src/$crate.rs"
    else
      rm "$t"
    fi
  done
  rm -rf "$src"/tests/{ffi_util,lua_util} "$src"/tests/*.proptest-regressions
  cp -R "$src"/tests/*/ "$src/suite/"
  mv "$src"/suite_a.rs "$src"/suite_b.rs "$src/suite" "$src/tests/"
  # A [[test]] section (settings of one test file) goes with its file.
  local have
  have=" $(cd "$src/tests" && ls *.rs | sed 's/\.rs$//' | tr '\n' ' ') "
  awk -v have="$have" '
    function flush_test() {
      if (test != "" && index(have, " " name " ")) printf "%s", test
      test = ""; name = ""
    }
    /^\[/ { flush_test(); intest = 0 }
    /^\[\[test\]\]/ { intest = 1 }
    intest {
      test = test $0 "\n"
      if ($1 == "name") { name = $3; gsub(/"/, "", name) }
      next
    }
    /^\[\[(bin|bench)\]\]/ { skip = 1; next }
    /^\[/ { skip = 0 }
    skip { next }
    /^build = "build.rs"/ {
      print; print "autobins = false"; print "autobenches = false"
      print "autoexamples = false"; next
    }
    /^crate-type = / { print "crate-type = [\"rlib\"]"; next }
    { print }
    END { flush_test() }
  ' "$src/Cargo.toml" >"$src/Cargo.trimmed"
  mv "$src/Cargo.trimmed" "$src/Cargo.toml"
}

if [ "${1:-}" = "--prepare" ]; then
  prepare
  echo "trimmed copy in $src"
  exit 0
fi

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(proto tcp transport ws server)
[ "${args[0]}" = all ] && args=(proto tcp transport ws server http c_vtable)
files=()
for a in "${args[@]}"; do
  if list=$(area_files "$a"); then
    files+=($list)
  else
    files+=("$a")
  fi
done

# One build directory for every run: dependencies are built once.
export CARGO_TARGET_DIR="$root/target/mutants-build${MUTANTS_STREAM:-}"
# No debug info: linking every test binary per mutant is most of the cost.
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_PROFILE_TEST_DEBUG=0

targets=(--locked --lib --tests)
[ "${MUTANTS_LIB_ONLY:-}" = 1 ] && targets=(--locked --lib)
[ -n "${MUTANTS_FILTER:-}" ] && targets+=("$MUTANTS_FILTER")

for f in "${files[@]}"; do
  name=$(echo "$f" | tr '/*' '_x')
  out="$root/target/mutants-${name%.rs}"
  mkdir -p "$out"
  iterate=()
  [ -s "$out/mutants.out/caught.txt" ] && iterate=(--iterate)
  echo "== $f -> $out"
  prepare
  nice -n 19 cargo mutants --dir "$src" --file "$f" --output "$out" \
    --jobs "${MUTANTS_JOBS:-1}" --timeout "${MUTANTS_TIMEOUT:-300}" \
    --build-timeout 1800 --no-times --colors never \
    "${iterate[@]}" ${MUTANTS_ARGS:-} -- "${targets[@]}" || true
done
summary
