#!/usr/bin/env bash
# A pristine Debian 12 root (`debootstrap --variant=minbase bookworm`, about 30 s), cached as a tarball under
# target/debootstrap so the packaging and image checks start from the same clean system every run without waiting.
#   scripts/debootstrap-bookworm.sh   -> prints the tarball's path (target/debootstrap/bookworm-minbase.tar)
# Needs root and Debian's debootstrap. DEBOOTSTRAP_MIRROR overrides the mirror (default: the machine's own).
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$REPO_DIR/target/debootstrap"
tarball="$out/bookworm-minbase.tar"
if [[ -s "$tarball" ]]; then echo "$tarball"; exit 0; fi
command -v debootstrap >/dev/null || { echo "debootstrap-bookworm: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "debootstrap-bookworm: needs root" >&2; exit 1; }
mirror="${DEBOOTSTRAP_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
mkdir -p "$out"
root="$(mktemp -d "$out/root.XXXXXX")"
# mktemp makes it 0700, and the tarball's `.` keeps that: a root that only root can traverse (users in the chroot or
# the image could not run anything).
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
echo "debootstrap-bookworm: debootstrap --variant=minbase bookworm ($mirror)" >&2
debootstrap --variant=minbase bookworm "$root" "${mirror%/}" >"$out/debootstrap.log" 2>&1 \
  || { tail -n 20 "$out/debootstrap.log" >&2; exit 1; }
# Keep the root small and the same every time: no downloaded .debs, no package lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
