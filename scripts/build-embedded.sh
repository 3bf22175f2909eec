#!/usr/bin/env bash
# Builds ducq's device library for one target:
#   OUTDIR/libducq_embedded.a   the client half of the C API, no_std,
#                               panic = abort, heap through C malloc/free/realloc
#   OUTDIR/ducq.h               its header (include/ducq_client.h)
#   OUTDIR/ducq.hpp, ducq_tcp.h, ducq_ws.h, ducq_vtbl.h
#                               the original's client-side header names
#                               (each includes ducq.h), as device code
#                               written for the original includes them
#
#   scripts/build-embedded.sh riscv32imc-unknown-none-elf out/   # ESP32-C3
#   scripts/build-embedded.sh riscv32imac-unknown-none-elf out/  # ESP32-C6
#   scripts/build-embedded.sh xtensa-esp32s3-none-elf out/       # ESP32-S3, with
#        Espressif's Rust toolchain (espup); not tested here, see docs/EMBEDDED.md
#
# Adds the Rust target with rustup when it is missing. PROFILE=dev builds
# without optimisation (quicker; for host-side tests); the default is the
# size-optimised release profile with LTO.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 TARGET OUTDIR" >&2
    exit 2
fi
target=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${PROFILE:-release}
case $profile in
    release) dir=release ;;
    dev) dir=debug ;;
    *) echo "build-embedded: PROFILE must be release or dev" >&2; exit 2 ;;
esac

cargo=(cargo)
extra=()
case $target in
    xtensa-*)
        # Espressif's fork of Rust (installed by espup) carries the Xtensa
        # targets; core and alloc are built from source for them.
        cargo=(cargo "+${DUCQ_XTENSA_TOOLCHAIN:-esp}")
        extra=(-Zbuild-std=core,alloc)
        ;;
    *)
        if ! rustup target list --installed | grep -qx "$target"; then
            echo "build-embedded: adding the Rust target $target" >&2
            rustup target add "$target"
        fi
        ;;
esac

"${cargo[@]}" build --locked --quiet --profile "$profile" --target "$target" \
    --manifest-path "$root/crates/ducq-embedded/Cargo.toml" \
    --target-dir "$root/target/embedded" ${extra[@]+"${extra[@]}"}

mkdir -p "$out"
cp "$root/target/embedded/$target/$dir/libducq_embedded.a" "$out/libducq_embedded.a"
cp "$root/include/ducq_client.h" "$out/ducq.h"
for name in ducq.hpp ducq_tcp.h ducq_ws.h ducq_vtbl.h; do
    cp "$root/include/$name" "$out/$name"
done
echo "build-embedded: $out/libducq_embedded.a and its headers ($target, $profile)" >&2
