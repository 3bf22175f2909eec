#!/usr/bin/env bash
# Installs ducq: libducq.a and libducq.so.X.Y.Z (with its SONAME link
# libducq.so.X and the development link libducq.so), every header of
# include/, ducq.pc rewritten for the prefix, the ducq and ducq-server
# binaries and the systemd unit ducq.service.
#
#   scripts/install.sh [--prefix P] [--destdir D] [OPTIONS]
#
# Builds with `cargo build --release --locked` first unless --from names a
# folder holding already built libducq.a, libducq.so, ducq and ducq-server.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/install.sh [OPTIONS]

  --prefix P       installation prefix                  [default: /usr/local]
  --destdir D      stage under D (packaging): files go to D/P/...,
                   paths written into files stay P/...  [default: $DESTDIR]
  --libdir DIR     libraries and pkgconfig/             [default: P/lib]
  --bindir DIR     binaries                             [default: P/bin]
  --includedir DIR headers                              [default: P/include]
  --unitdir DIR    systemd unit        [default: P/lib/systemd/system]
  --sysconfdir DIR where the unit reads default/ducq
                   [default: /etc when P is /usr, else P/etc]
  --from DIR       install the files built in DIR instead of building
  -h, --help       this text
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 64
}

prefix=/usr/local
destdir="${DESTDIR:-}"
libdir="" bindir="" includedir="" unitdir="" sysconfdir="" from=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --prefix | --destdir | --libdir | --bindir | --includedir | --unitdir | --sysconfdir | --from)
      [ $# -ge 2 ] || die "$1 needs a value"
      value="$2"
      case "$1" in
        --prefix) prefix="$value" ;;
        --destdir) destdir="$value" ;;
        --libdir) libdir="$value" ;;
        --bindir) bindir="$value" ;;
        --includedir) includedir="$value" ;;
        --unitdir) unitdir="$value" ;;
        --sysconfdir) sysconfdir="$value" ;;
        --from) from="$value" ;;
      esac
      shift 2
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path, not '$prefix'" ;; esac
prefix="${prefix%/}"
libdir="${libdir:-$prefix/lib}"
bindir="${bindir:-$prefix/bin}"
includedir="${includedir:-$prefix/include}"
unitdir="${unitdir:-$prefix/lib/systemd/system}"
if [ -z "$sysconfdir" ]; then
  if [ "$prefix" = /usr ]; then sysconfdir=/etc; else sysconfdir="$prefix/etc"; fi
fi
for d in "$libdir" "$bindir" "$includedir" "$unitdir" "$sysconfdir"; do
  case "$d" in /*) ;; *) die "directories must be absolute paths, not '$d'" ;; esac
done

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
[ -n "$version" ] || die "no version in Cargo.toml"
major="${version%%.*}"

if [ -z "$from" ]; then
  (cd "$root" && cargo build --release --locked --lib --bin ducq --bin ducq-server)
  from="$root/target/release"
fi
for f in libducq.a libducq.so ducq ducq-server; do
  [ -f "$from/$f" ] || die "$from/$f is missing (build first, or drop --from)"
done
soname="$(readelf -d "$from/libducq.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = "libducq.so.$major" ] ||
  die "$from/libducq.so has SONAME '$soname', expected libducq.so.$major"

# Paths as written into files: the final location, without the stage.
# libdir and includedir in ducq.pc stay relative to ${prefix} when inside it,
# so `pkg-config --define-variable=prefix=...` can still relocate them.
pc_path() {
  case "$1" in
    "$prefix"/*) echo "\${prefix}/${1#"$prefix"/}" ;;
    *) echo "$1" ;;
  esac
}

stage() { echo "$destdir$1"; }

install -d "$(stage "$libdir")/pkgconfig" "$(stage "$bindir")" \
  "$(stage "$includedir")" "$(stage "$unitdir")"

# Libraries: the real file carries the full version; the SONAME link is
# what programs load, the bare link is what `-lducq` finds.
install -m 0644 "$from/libducq.a" "$(stage "$libdir")/libducq.a"
install -m 0755 "$from/libducq.so" "$(stage "$libdir")/libducq.so.$version"
ln -sfn "libducq.so.$version" "$(stage "$libdir")/libducq.so.$major"
ln -sfn "libducq.so.$major" "$(stage "$libdir")/libducq.so"

# Every header, keeping sub-folders.
(cd "$root/include" && find . -type f -name '*.h*' -print) | while read -r h; do
  install -D -m 0644 "$root/include/$h" "$(stage "$includedir")/${h#./}"
done

# ducq.pc: the same file with this install's paths.
sed -e "/^#/d" \
  -e "s|^prefix=.*|prefix=$prefix|" \
  -e "s|^includedir=.*|includedir=$(pc_path "$includedir")|" \
  -e "s|^libdir=.*|libdir=$(pc_path "$libdir")|" \
  "$root/ducq.pc" >"$(stage "$libdir")/pkgconfig/ducq.pc.tmp"
{
  echo "# pkg-config file for the ducq C API, installed in $prefix."
  cat "$(stage "$libdir")/pkgconfig/ducq.pc.tmp"
} >"$(stage "$libdir")/pkgconfig/ducq.pc"
rm "$(stage "$libdir")/pkgconfig/ducq.pc.tmp"
chmod 0644 "$(stage "$libdir")/pkgconfig/ducq.pc"

install -m 0755 "$from/ducq" "$(stage "$bindir")/ducq"
install -m 0755 "$from/ducq-server" "$(stage "$bindir")/ducq-server"

sed -e "s|@bindir@|$bindir|g" -e "s|@sysconfdir@|$sysconfdir|g" \
  "$root/packaging/ducq.service.in" >"$(stage "$unitdir")/ducq.service"
chmod 0644 "$(stage "$unitdir")/ducq.service"

echo "installed ducq $version in $destdir$prefix"
