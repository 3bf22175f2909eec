#!/usr/bin/env bash
# The device side of ducq, tested here without a device:
#  1. the portable core's unit tests pass without std (its no_std paths:
#     entropy from the platform, the io stand-ins); it builds for
#     riscv32imc and riscv32imac (crates/ducq-core: src/ without std), and
#     the device workspace passes fmt and clippy;
#  2. scripts/build-embedded.sh makes libducq_embedded.a and ducq.h; the
#     committed include/ducq_client.h is the generated one, compiles as
#     C99 and C++11 on rv32, every function it declares is in the library
#     (but the platform port's two constructors) and every ducq_ function
#     the library exports is declared;
#  3. a C++11 app runs on an rv32imc CPU under QEMU (semihosting) against
#     a scripted broker behind the socket-layer table, and again linked for
#     rv32imac; a C publisher written like the original device example
#     runs there too; prints the heap peak and the flash figure;
#  4. the ESP-IDF port's socket layer (ports/esp-idf/ducq_socket.c), built
#     for Linux against POSIX sockets with the device library built for the
#     host, talks to a live ducq-server on loopback over TCP and WebSocket
#     (under valgrind), and the same C publisher publishes through it.
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

# The header declares exactly what the library exports (and the platform
# port's two constructors, which the port defines).
port_made='^(ducq_new_tcp|ducq_new_ws_client)$'
declared=$(grep -oE '\bducq_[a-z_0-9]+\(' include/ducq_client.h | tr -d '(' | sort -u |
    grep -vE "$port_made")
defined=$(riscv64-unknown-elf-nm -g --defined-only "$work/imc/libducq_embedded.a" 2>/dev/null |
    awk '$2 == "T" && $3 ~ /^ducq_/ { print $3 }' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
[ -z "$missing" ] || fail "declared in ducq_client.h but not exported: $missing"
undeclared=$(comm -13 <(echo "$declared") <(echo "$defined"))
[ -z "$undeclared" ] || fail "exported but not declared in ducq_client.h: $undeclared"
echo "test-embedded: $(echo "$declared" | wc -l) functions declared and exported" >&2

# Flash of a program: .text + .rodata + .data (and .init).
flash_size() { # ELF
    riscv64-unknown-elf-size -A "$1" | awk '$1 ~ /^\.(init|text|rodata|data)/ { s += $2 } END { print s }'
}

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
echo "flash: the whole QEMU app, $(flash_size "$work/app-imc.elf") bytes (rv32imc -Os LTO)"
echo "test-embedded: the QEMU app (rv32imac)" >&2
build_app rv32imac "$work/imac" "$work/app-imac.elf"
run_qemu "$work/app-imac.elf" || fail "the QEMU app (rv32imac)"

# Flash: a publisher written like the original device example (C99, only
# the original's device calls), with and without its ducq calls (-Os, LTO,
# unused sections dropped). Its ducq_new_tcp is the scripted port's.
publisher=(-std=c99 -pedantic -Os -flto "${strict[@]}" -DPICOLIBC_INTEGER_PRINTF_SCANF
    -I"$work/imc" -c tests/embedded/publisher.c)
"$cc" "${imc[@]}" "${specs[@]}" "${publisher[@]}" -o "$work/publisher.o"
"$cc" "${imc[@]}" "${specs[@]}" "${publisher[@]}" -DBASELINE -o "$work/baseline.o"
"$cxx" "${imc[@]}" "${specs[@]}" -std=c++11 -Os -flto "${strict[@]}" -fno-exceptions -fno-rtti \
    -I"$work/imc" -Itests/embedded -c tests/embedded/scripted_port.cpp -o "$work/port.o"
"$cc" "${imc[@]}" "${specs[@]}" -Os -flto "${memory[@]}" -o "$work/publisher.elf" \
    "$work/publisher.o" "$work/port.o" "$work/imc/libducq_embedded.a"
"$cc" "${imc[@]}" "${specs[@]}" -Os -flto "${memory[@]}" -o "$work/baseline.elf" "$work/baseline.o"
with=$(flash_size "$work/publisher.elf")
without=$(flash_size "$work/baseline.elf")
echo "test-embedded: the original-style publisher (rv32imc)" >&2
run_qemu "$work/publisher.elf" || fail "the publisher under QEMU"
echo "flash: $((with - without)) bytes for ducq_new_tcp + ducq_publish + ducq_state_tostr + ducq_free and a scripted socket layer (app $with, without ducq $without; rv32imc -Os LTO)"
[ $((with - without)) -le 32768 ] || fail "flash over 32 KB"

echo "test-embedded: the ESP-IDF socket layer on Linux, against a live ducq-server" >&2
host=$(rustc -vV | sed -n 's/^host: //p')
PROFILE=dev scripts/build-embedded.sh "$host" "$work/host"
posix=(-std=c99 -pedantic "${strict[@]}" -D_POSIX_C_SOURCE=200809L -I"$work/host")
cc "${posix[@]}" -c ports/esp-idf/ducq_socket.c -o "$work/socket.o"
cc "${posix[@]}" -Itests/embedded -o "$work/posix_client" tests/embedded/posix_client.c \
    "$work/socket.o" "$work/host/libducq_embedded.a"
cc "${posix[@]}" -o "$work/posix_publisher" tests/embedded/publisher.c "$work/socket.o" \
    "$work/host/libducq_embedded.a"
# The original example's C++ entry point compiles against the device
# headers too (ducq.hpp is the C API's, with its C++11 wrapper).
printf '#include <ducq.hpp>\nint main() { ducq::Connection c("h", "1"); return !c.valid(); }\n' \
    >"$work/hpp.cpp"
c++ -std=c++11 -pedantic "${strict[@]}" -fno-exceptions -fno-rtti -I"$work/host" \
    -o "$work/hpp" "$work/hpp.cpp" "$work/socket.o" "$work/host/libducq_embedded.a" ||
    fail "ducq.hpp over the device header"
"$work/hpp" || fail "ducq.hpp over the device header: no handle"
cargo build --locked --quiet --bin ducq-server
target/debug/ducq-server --tcp 127.0.0.1:0 --http 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
# The TCP listener opens first, then the HTTP (and WebSocket) one; each
# logs its address.
ports=()
for _ in $(seq 100); do
    mapfile -t ports < <(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
    [ ${#ports[@]} -ge 2 ] && break
    sleep 0.1
done
[ ${#ports[@]} -ge 2 ] || fail "ducq-server did not start: $(cat "$work/server.log")"
tcp_port=${ports[0]} ws_port=${ports[1]}
runner=()
if command -v valgrind >/dev/null; then
    runner=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
fi
${runner[@]+"${runner[@]}"} "$work/posix_client" "$tcp_port" "$ws_port" ||
    fail "the POSIX socket layer"
${runner[@]+"${runner[@]}"} "$work/posix_publisher" 127.0.0.1 "$tcp_port" ||
    fail "the original-style publisher through the POSIX socket layer"
