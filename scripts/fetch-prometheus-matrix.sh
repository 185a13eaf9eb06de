#!/usr/bin/env bash
# Fetch the newer Prometheus / promtool / Alertmanager builds the version matrix runs, from Debian's own packages,
# WITHOUT touching the machine's apt setup: a private sources.list, package lists and cache under
# target/parts-matrix/apt, then `apt-get download` + `dpkg -x` (no maintainer script, no service).
#   trixie: prometheus 2.53.x, prometheus-alertmanager 0.28.x
#   sid:    prometheus 3.5.x, prometheus-alertmanager 0.33.x (promtool is its own package in both)
# These are Go binaries linked against libc only; they run on Debian 12 as they are.
# The bookworm pair (2.42 / 0.25) is scripts/fetch-parts.sh's.
#
# Usage: scripts/fetch-prometheus-matrix.sh [SUITE...]   (default: trixie sid)
# Output per suite: target/parts-matrix/SUITE/root/usr/bin/{prometheus,promtool,prometheus-alertmanager,amtool}
# and target/parts-matrix/SUITE/env.sh (PROMETHEUS_BIN, PROMTOOL_BIN, ALERTMANAGER_BIN, AMTOOL_BIN,
# ALERTMANAGER_SHARE_DIR, *_VERSION). Idempotent: a second run reuses the downloaded .debs.
# MATRIX_MIRROR overrides the Debian mirror (default: the one the machine's own sources use).
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${MATRIX_DIR:-$REPO_DIR/target/parts-matrix}"
log() { echo "fetch-prometheus-matrix: $*" >&2; }

suites=("$@")
((${#suites[@]})) || suites=(trixie sid)

mirror="${MATRIX_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  # The first Debian (not -security) mirror of the machine's own sources, one-line or deb822 format.
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  mirror="${mirror%/}"
  [[ -n "$mirror" ]] || mirror="http://deb.debian.org/debian"
fi

apt_dir="$OUT/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
apt_opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache=$apt_dir/cache" -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
          -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false)
[[ "$(id -u)" == 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)

# promtool is its own package from trixie on (bookworm's prometheus package still ships it).
packages_for() { echo prometheus promtool prometheus-alertmanager; }

all_there() {
  local s="$1/root/usr/bin"
  [[ -f "$1/env.sh" && -x "$s/prometheus" && -x "$s/promtool" && -x "$s/prometheus-alertmanager" && -x "$s/amtool" ]]
}

updated=0
update_lists() {
  ((updated)) && return 0
  : >"$apt_dir/sources.list"
  local s
  for s in "${suites[@]}"; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $s main" >>"$apt_dir/sources.list"
  done
  log "apt-get update (private lists in $apt_dir, mirror $mirror)"
  apt-get "${apt_opts[@]}" update >&2
  updated=1
}

for suite in "${suites[@]}"; do
  dir="$OUT/$suite"
  if all_there "$dir"; then echo "$dir"; continue; fi
  debs="$dir/debs"
  mkdir -p "$debs" "$dir/root"
  read -r -a pkgs <<<"$(packages_for "$suite")"
  missing=()
  for p in "${pkgs[@]}"; do compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p"); done
  if ((${#missing[@]})); then
    update_lists
    # pkg/suite picks that suite's version when several suites are listed.
    log "downloading ${missing[*]} from $suite"
    (cd "$debs" && apt-get "${apt_opts[@]}" download "${missing[@]/%//$suite}") >&2
  fi
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$dir/root"; done
  ver() { local d=("$debs/${1}"_*.deb); dpkg-deb -f "${d[0]}" Version; }
  bin="$dir/root/usr/bin"
  for b in prometheus promtool prometheus-alertmanager amtool; do
    [[ -x "$bin/$b" ]] || { log "$suite: $bin/$b missing after extraction"; exit 1; }
  done
  cat >"$dir/env.sh" <<EOF
# Written by scripts/fetch-prometheus-matrix.sh: Debian $suite's Prometheus and Alertmanager.
MATRIX_SUITE='$suite'
PROMETHEUS_BIN='$bin/prometheus'
PROMTOOL_BIN='$bin/promtool'
ALERTMANAGER_BIN='$bin/prometheus-alertmanager'
AMTOOL_BIN='$bin/amtool'
ALERTMANAGER_SHARE_DIR='$dir/root/usr/share'
PROMETHEUS_VERSION='$(ver prometheus)'
ALERTMANAGER_VERSION='$(ver prometheus-alertmanager)'
export MATRIX_SUITE PROMETHEUS_BIN PROMTOOL_BIN ALERTMANAGER_BIN AMTOOL_BIN ALERTMANAGER_SHARE_DIR
EOF
  log "$suite: prometheus $(ver prometheus), alertmanager $(ver prometheus-alertmanager)"
  echo "$dir"
done
