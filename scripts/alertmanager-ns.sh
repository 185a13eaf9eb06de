#!/usr/bin/env bash
# Run Debian's alertmanager 0.25 (extracted by scripts/fetch-parts.sh) without
# installing it. That build reads its default template from the compiled-in path
# /usr/share/prometheus/alertmanager/default.tmpl and refuses its config without it.
# When that file is absent, this runs the command in a private mount namespace where
# the extracted usr/share is overlaid (read-only) on /usr/share: nothing is written
# to the real /usr and the mount disappears with the process.
# Needs root (or CAP_SYS_ADMIN) for `unshare -m` and the overlay mount.
#
# Usage: alertmanager-ns.sh [ALERTMANAGER_BIN] --config.file=... [flags...]
#   ALERTMANAGER_BIN defaults to $ALERTMANAGER_BIN, then target/parts/env.sh's.
# Every step execs (unshare runs without --fork), so alertmanager ends up with this
# script's PID: killing that PID stops alertmanager itself.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${ALERTMANAGER_BIN:-}" || -z "${ALERTMANAGER_SHARE_DIR:-}" ]]; then
  # shellcheck disable=SC1091
  source "${PARTS_DIR:-$REPO_DIR/target/parts}/env.sh"
fi
bin="$ALERTMANAGER_BIN"
if [[ $# -gt 0 && "$1" != -* ]]; then bin="$1"; shift; fi
if [[ -f /usr/share/prometheus/alertmanager/default.tmpl ]]; then
  exec "$bin" "$@"
fi
# shellcheck disable=SC2016 # $1 and $@ are the inner shell's arguments
exec unshare -m -- /bin/sh -c '
  mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share || exit 97
  shift; exec "$@"' sh "$ALERTMANAGER_SHARE_DIR" "$bin" "$@"
