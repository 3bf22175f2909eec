#!/usr/bin/env bash
# Builds the Debian package ducq_<version>_<arch>.deb from the tree that
# scripts/install.sh stages (prefix /usr, the multiarch libdir, the unit in
# /usr/lib/systemd/system), plus /etc/default/ducq, the docs and the
# maintainer scripts of packaging/debian/. dpkg-deb and dpkg-shlibdeps
# (Debian's dpkg-dev) do the rest: one layout, install.sh's, for both.
#
#   scripts/deb.sh [--from DIR] [--out DIR] [--compression xz|gzip|none]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

die() {
  echo "deb.sh: $*" >&2
  exit 64
}

from="" out="$root/target/debian" compression=xz
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    --from | --out | --compression)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --from) from="$2" ;;
        --out) out="$2" ;;
        --compression) compression="$2" ;;
      esac
      shift 2
      ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$compression" in xz | gzip | none) ;; *) die "--compression: xz, gzip or none" ;; esac
for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture readelf; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev binutils)"
done

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
arch="$(dpkg-architecture -qDEB_HOST_ARCH)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# dpkg-shlibdeps expects the debian/<package>/ layout of a source tree.
work="$(mktemp -d "$out/.deb-work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/debian/ducq"

from_args=()
[ -n "$from" ] && from_args=(--from "$from")
"$root/scripts/install.sh" --prefix /usr --destdir "$stage" \
  --libdir "/usr/lib/$multiarch" --unitdir /usr/lib/systemd/system \
  --sysconfdir /etc "${from_args[@]}" >/dev/null

install -d "$stage/etc/default" "$stage/usr/share/doc/ducq" "$stage/DEBIAN"
cat >"$stage/etc/default/ducq" <<'EOF'
# Flags for ducq-server when run by systemd (ducq.service), for example:
#   DUCQ_OPTS="--tcp 0.0.0.0:59090 --http 0.0.0.0:59091 --log-level info"
# `ducq-server --help` lists them all. Then: systemctl restart ducq
DUCQ_OPTS=""
EOF
install -m 0644 "$root/README.md" "$root/CHANGELOG.md" "$stage/usr/share/doc/ducq/"
cat >"$stage/usr/share/doc/ducq/copyright" <<'EOF'
ducq: a minimalist, extensible LAN message broker with a C ABI.
License: MIT. The vendored Lua 5.4 inside libducq is MIT-licensed too.
EOF
echo /etc/default/ducq >"$stage/DEBIAN/conffiles"
install -m 0755 "$root"/packaging/debian/{postinst,prerm,postrm} "$stage/DEBIAN/"

printf 'Source: ducq\n\nPackage: ducq\nArchitecture: any\n' >"$work/debian/control"
depends="$(cd "$work" && dpkg-shlibdeps -O \
  -e"debian/ducq/usr/bin/ducq-server" -e"debian/ducq/usr/bin/ducq" \
  -e"debian/ducq/usr/lib/$multiarch/libducq.so.$version" |
  sed -n 's/^shlibs:Depends=//p')"
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s|@version@|$version|" -e "s|@arch@|$arch|" -e "s|@depends@|$depends|" \
  -e "s|@size@|$size|" "$root/packaging/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

deb="$out/ducq_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
echo "$deb"
