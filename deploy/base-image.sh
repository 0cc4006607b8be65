#!/usr/bin/env bash
# Makes the Debian 12 base image the deepevolve images build on, when it is missing:
# debootstrap from the Debian archive, then `docker import`. No image registry needed.
#   deploy/base-image.sh [IMAGE]     (default deepevolve/debian:bookworm)
# The mirror is DEBIAN_MIRROR (and DEBIAN_SECURITY_MIRROR), else the one this host's own
# apt uses for bookworm (/etc/apt/sources.list and sources.list.d, one-line or deb822),
# else deb.debian.org: the image builds wherever the host's apt works.
set -euo pipefail
image=${1:-deepevolve/debian:bookworm}

# The first URI this host's apt sources give for SUITE (bookworm, bookworm-security).
host_mirror() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    awk -v suite="$suite" '$1 == "deb" {
        for (i = 2; i < NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($(i+1) == suite) { print $i; exit } break }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    # deb822: stanzas separated by blank lines; Types, URIs and Suites in any order.
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" } {
        uri = ""; deb = 0; has = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) has = 1 }
        }
        if (deb && has && uri != "") { print uri; exit }
      }' "$f"
  done
}
mirror=${DEBIAN_MIRROR:-$(host_mirror bookworm | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-$(host_mirror bookworm-security | head -n1)}
security=${security:-http://deb.debian.org/debian-security}

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image exists"
  exit 0
fi
command -v debootstrap >/dev/null || {
  echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2
  exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >/dev/null
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base-image: made $image"
