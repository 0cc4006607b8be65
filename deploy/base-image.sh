#!/usr/bin/env bash
# Makes the Debian 12 base image the deepevolve images build on, when it is missing:
# debootstrap from the Debian archive, then `docker import`. No image registry needed.
#   deploy/base-image.sh [IMAGE]     (default deepevolve/debian:bookworm)
set -euo pipefail
image=${1:-deepevolve/debian:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

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
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "base-image: made $image"
