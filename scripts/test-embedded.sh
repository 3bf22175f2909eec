#!/usr/bin/env bash
# The device side of ducq, tested here without a device:
#  1. the portable core's unit tests pass without std (its no_std paths:
#     entropy from the platform, the io stand-ins); it builds for
#     riscv32imc and riscv32imac (crates/ducq-core: src/ without std), and
#     the device workspace passes fmt and clippy;
#  2. scripts/build-embedded.sh makes libducq_embedded.a and ducq.h; the
#     committed include/ducq_client.h is the generated one, compiles as
#     C99 and C++11 on rv32, and every function it declares is in the
#     library (ducq_new_tcp comes from the platform port);
#  3. a C++11 app runs on an rv32imc CPU under QEMU (semihosting) against
#     a scripted broker behind the socket-layer table, and again linked for
#     rv32imac; prints the heap peak and the flash figure;
#  4. the ESP-IDF port's socket layer (ports/esp-idf/ducq_socket.c), built
#     for Linux against POSIX sockets with the device library built for the
#     host, talks to a live ducq-server on loopback (under valgrind).
# Installs gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf and
# qemu-system-misc, and the Rust targets, when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
command -v riscv64-unknown-elf-gcc >/dev/null || need+=(gcc-riscv64-unknown-elf)
[ -f /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs ] || need+=(picolibc-riscv64-unknown-elf)
command -v qemu-system-riscv32 >/dev/null || need+=(qemu-system-misc)
if [ ${#need[@]} -gt 0 ]; then
    echo "test-embedded: installing: ${need[*]}" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
for t in riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "test-embedded: FAILED: $*" >&2
    exit 1
}

dev=(--manifest-path crates/ducq-embedded/Cargo.toml --target-dir target/embedded --locked)

echo "test-embedded: the portable core's unit tests without std" >&2
cargo test --locked --quiet --lib --no-default-features
echo "test-embedded: the portable core for riscv32imc and riscv32imac" >&2
for t in riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf; do
    cargo build "${dev[@]}" --quiet -p ducq-core --target "$t"
done
cargo fmt --manifest-path crates/ducq-embedded/Cargo.toml --all -- --check
cargo clippy "${dev[@]}" --quiet --workspace --target riscv32imc-unknown-none-elf -- -D warnings

echo "test-embedded: the device library" >&2
scripts/build-embedded.sh riscv32imc-unknown-none-elf "$work/imc"
PROFILE=dev scripts/build-embedded.sh riscv32imac-unknown-none-elf "$work/imac"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git diff --quiet HEAD -- include/ducq_client.h ||
        fail "include/ducq_client.h differs from what the build generates: commit it"
fi

cc=riscv64-unknown-elf-gcc
cxx=riscv64-unknown-elf-g++
imc=(-march=rv32imc -mabi=ilp32)
specs=(-specs=picolibc.specs --oslib=semihost --crt0=semihost)
strict=(-Wall -Wextra -Werror)
# QEMU's virt machine: 2 MiB of "flash" and 2 MiB of RAM, both in its RAM.
memory=(-Wl,--defsym=__flash=0x80000000,--defsym=__flash_size=0x200000
    -Wl,--defsym=__ram=0x80200000,--defsym=__ram_size=0x200000)
heap=(-Wl,--wrap=malloc,--wrap=free,--wrap=realloc,--wrap=calloc)

printf '#include "ducq.h"\nint main(void) { return ducq_state_tostr(0) == 0; }\n' >"$work/c99.c"
"$cc" "${imc[@]}" "${specs[@]}" -std=c99 -pedantic "${strict[@]}" -I"$work/imc" \
    -c "$work/c99.c" -o "$work/c99.o"
"$cxx" "${imc[@]}" "${specs[@]}" -std=c++11 -pedantic "${strict[@]}" -x c++ -I"$work/imc" \
    -c "$work/c99.c" -o "$work/cxx11.o"

# Every function the header declares is defined by the library (but the
# platform port's ducq_new_tcp).
declared=$(grep -oE '\bducq_[a-z_0-9]+\(' include/ducq_client.h | tr -d '(' | sort -u |
    grep -vx ducq_new_tcp)
defined=$(riscv64-unknown-elf-nm -g --defined-only "$work/imc/libducq_embedded.a" 2>/dev/null |
    awk '$2 == "T" { print $3 }' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
[ -z "$missing" ] || fail "declared in ducq_client.h but not exported: $missing"
echo "test-embedded: $(echo "$declared" | wc -l) declared functions, all exported" >&2

run_qemu() { # ELF
    timeout 60 qemu-system-riscv32 -M virt -nographic -bios none \
        -semihosting-config enable=on,target=native -kernel "$1"
}

build_app() { # MARCH LIBDIR OUT
    local arch=(-march="$1" -mabi=ilp32)
    "$cxx" "${arch[@]}" "${specs[@]}" -std=c++11 -Os -flto "${strict[@]}" -fno-exceptions \
        -fno-rtti -I"$2" -Itests/embedded -c tests/embedded/qemu_app.cpp -o "$3.app.o"
    "$cc" "${arch[@]}" "${specs[@]}" -std=c99 -Os -flto "${strict[@]}" \
        -c tests/embedded/heap.c -o "$3.heap.o"
    "$cc" "${arch[@]}" "${specs[@]}" -Os -flto "${memory[@]}" "${heap[@]}" -o "$3" \
        "$3.app.o" "$3.heap.o" "$2/libducq_embedded.a"
}

echo "test-embedded: the QEMU app (rv32imc)" >&2
build_app rv32imc "$work/imc" "$work/app-imc.elf"
run_qemu "$work/app-imc.elf" || fail "the QEMU app (rv32imc)"
echo "test-embedded: the QEMU app (rv32imac)" >&2
build_app rv32imac "$work/imac" "$work/app-imac.elf"
run_qemu "$work/app-imac.elf" || fail "the QEMU app (rv32imac)"

# Flash: a publisher written like the original device example, with and
# without its ducq calls (-Os, LTO, unused sections dropped).
flash() { # OUT [-DBASELINE]
    local out=$1
    shift
    "$cxx" "${imc[@]}" "${specs[@]}" -std=c++11 -Os -flto "${strict[@]}" -fno-exceptions \
        -fno-rtti -DPICOLIBC_INTEGER_PRINTF_SCANF "$@" -I"$work/imc" -Itests/embedded \
        -c tests/embedded/publisher.cpp -o "$out.o"
    "$cc" "${imc[@]}" "${specs[@]}" -Os -flto -DPICOLIBC_INTEGER_PRINTF_SCANF "${memory[@]}" \
        -o "$out" "$out.o" "$work/imc/libducq_embedded.a"
    riscv64-unknown-elf-size -A "$out" | awk '$1 ~ /^\.(init|text|rodata|data)/ { s += $2 } END { print s }'
}
with=$(flash "$work/publisher.elf")
without=$(flash "$work/baseline.elf" -DBASELINE)
run_qemu "$work/publisher.elf" || fail "the publisher under QEMU"
echo "flash: $((with - without)) bytes for ducq_new_tcp + ducq_publish + ducq_state_tostr + ducq_free (app $with, without ducq $without; rv32imc -Os LTO)"
[ $((with - without)) -le 32768 ] || fail "flash over 32 KB"

echo "test-embedded: the ESP-IDF socket layer on Linux, against a live ducq-server" >&2
host=$(rustc -vV | sed -n 's/^host: //p')
PROFILE=dev scripts/build-embedded.sh "$host" "$work/host"
cc -std=c99 -pedantic "${strict[@]}" -D_POSIX_C_SOURCE=200809L -I"$work/host" -Itests/embedded \
    -o "$work/posix_client" tests/embedded/posix_client.c ports/esp-idf/ducq_socket.c \
    "$work/host/libducq_embedded.a"
cargo build --locked --quiet --bin ducq-server
target/debug/ducq-server --tcp 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "ducq-server did not start: $(cat "$work/server.log")"
runner=()
if command -v valgrind >/dev/null; then
    runner=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
fi
${runner[@]+"${runner[@]}"} "$work/posix_client" "$port" || fail "the POSIX socket layer"
