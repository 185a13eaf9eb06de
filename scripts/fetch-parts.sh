#!/usr/bin/env bash
# Fetch the real CrowdSec / Prometheus parts the integration tests run, from Debian's
# own packages, WITHOUT installing them: `apt-get download` + `dpkg -x` into
# target/parts/root. No maintainer script is run, no service is started, nothing is
# written outside target/parts.
#
# Idempotent: a second run only checks that the binaries are there and prints them.
# Output: the binaries' absolute paths on stdout, and target/parts/env.sh (shell vars).
# Set PARTS_DIR to use another folder than <repo>/target/parts.
# `fetch-parts.sh demo` fetches only what examples/demo/run.sh runs (CrowdSec, the custom bouncer, Prometheus):
# no PostgreSQL, MariaDB or Alertmanager; a later run without argument adds the rest.
set -euo pipefail
PART_SET="${1:-all}"
case "$PART_SET" in all|demo) ;; *) echo "usage: fetch-parts.sh [demo]" >&2; exit 2 ;; esac

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARTS_DIR="${PARTS_DIR:-$REPO_DIR/target/parts}"
mkdir -p "$PARTS_DIR"
PARTS_DIR="$(cd "$PARTS_DIR" && pwd)"
DEBS_DIR="$PARTS_DIR/debs"
ROOT_DIR="$PARTS_DIR/root"
STAMP_DIR="$PARTS_DIR/.extracted"
ENV_FILE="$PARTS_DIR/env.sh"

PACKAGES=(crowdsec crowdsec-custom-bouncer crowdsec-firewall-bouncer prometheus prometheus-alertmanager
          postgresql-15 mariadb-server-core mariadb-client-core
          nginx libnginx-mod-http-lua libnginx-mod-http-ndk lua-resty-core lua-resty-lrucache libluajit2-5.1-2 libpcre3
          apache2-bin libapr1 libaprutil1)
# shared library (as ldd names it) -> Debian package that ships it. PostgreSQL and MariaDB link more than a
# minimal bookworm has; whatever ldd reports missing is fetched and extracted too (see PARTS_LD_LIBRARY_PATH).
declare -A LIB_PACKAGE=( [libsqlite3.so.0]=libsqlite3-0
  [libpq.so.5]=libpq5 [libxml2.so.2]=libxml2 [libicui18n.so.72]=libicu72 [libicuuc.so.72]=libicu72
  [libicudata.so.72]=libicu72 [libldap-2.5.so.0]=libldap-2.5-0 [liblber-2.5.so.0]=libldap-2.5-0
  [libsasl2.so.2]=libsasl2-2 [libgssapi_krb5.so.2]=libgssapi-krb5-2 [libkrb5.so.3]=libkrb5-3
  [libk5crypto.so.3]=libk5crypto3 [libkrb5support.so.0]=libkrb5support0 [libkeyutils.so.1]=libkeyutils1
  [libcom_err.so.2]=libcom-err2 [liblz4.so.1]=liblz4-1 [libzstd.so.1]=libzstd1 [libpam.so.0]=libpam0g
  [libsystemd.so.0]=libsystemd0 [libssl.so.3]=libssl3 [libcrypto.so.3]=libssl3 [libcap.so.2]=libcap2
  [libgcrypt.so.20]=libgcrypt20 [libgpg-error.so.0]=libgpg-error0 [liblzma.so.5]=liblzma5
  [libgnutls.so.30]=libgnutls30 [libp11-kit.so.0]=libp11-kit0 [libidn2.so.0]=libidn2-0
  [libunistring.so.2]=libunistring2 [libtasn1.so.6]=libtasn1-6 [libnettle.so.8]=libnettle8
  [libhogweed.so.6]=libnettle8 [libgmp.so.10]=libgmp10 [libffi.so.8]=libffi8 [libstdc++.so.6]=libstdc++6
  [libgcc_s.so.1]=libgcc-s1 [libcap-ng.so.0]=libcap-ng0 [libaudit.so.1]=libaudit1 [libpcre2-8.so.0]=libpcre2-8-0
  [libcrypt.so.1]=libcrypt1 [libz.so.1]=zlib1g [liburing.so.2]=liburing2 [libaio.so.1]=libaio1
  [libnuma.so.1]=libnuma1 [libresolv.so.2]=libc6 [libapr-1.so.0]=libapr1 [libaprutil-1.so.0]=libaprutil1
  [libpcre.so.3]=libpcre3 [libluajit-5.1.so.2]=libluajit2-5.1-2 )

log() { echo "fetch-parts: $*" >&2; }

declare -A BIN=(
  [CROWDSEC_BIN]="$ROOT_DIR/usr/bin/crowdsec"
  [CSCLI_BIN]="$ROOT_DIR/usr/bin/cscli"
  [CUSTOM_BOUNCER_BIN]="$ROOT_DIR/usr/bin/crowdsec-custom-bouncer"
  [FIREWALL_BOUNCER_BIN]="$ROOT_DIR/usr/bin/crowdsec-firewall-bouncer"
  [PROMETHEUS_BIN]="$ROOT_DIR/usr/bin/prometheus"
  [PROMTOOL_BIN]="$ROOT_DIR/usr/bin/promtool"
  [ALERTMANAGER_BIN]="$ROOT_DIR/usr/bin/prometheus-alertmanager"
  [AMTOOL_BIN]="$ROOT_DIR/usr/bin/amtool"
  [INITDB_BIN]="$ROOT_DIR/usr/lib/postgresql/15/bin/initdb"
  [POSTGRES_BIN]="$ROOT_DIR/usr/lib/postgresql/15/bin/postgres"
  [MARIADBD_BIN]="$ROOT_DIR/usr/sbin/mariadbd"
  [MARIADB_BIN]="$ROOT_DIR/usr/bin/mariadb"
  [NGINX_BIN]="$ROOT_DIR/usr/sbin/nginx"
  [APACHE2_BIN]="$ROOT_DIR/usr/sbin/apache2"
)
BIN_ORDER=(CROWDSEC_BIN CSCLI_BIN CUSTOM_BOUNCER_BIN FIREWALL_BOUNCER_BIN PROMETHEUS_BIN PROMTOOL_BIN ALERTMANAGER_BIN AMTOOL_BIN
           INITDB_BIN POSTGRES_BIN MARIADBD_BIN MARIADB_BIN NGINX_BIN APACHE2_BIN)
if [[ "$PART_SET" == demo ]]; then
  PACKAGES=(crowdsec crowdsec-custom-bouncer prometheus)
  BIN_ORDER=(CROWDSEC_BIN CSCLI_BIN CUSTOM_BOUNCER_BIN PROMETHEUS_BIN PROMTOOL_BIN)
fi

print_paths() {
  local v
  for v in "${BIN_ORDER[@]}"; do echo "${BIN[$v]}"; done
}

# ---- fast path: everything already there -------------------------------------------
all_present() {
  local v
  [[ -f "$ENV_FILE" ]] || return 1
  for v in "${BIN_ORDER[@]}"; do [[ -x "${BIN[$v]}" ]] || return 1; done
  return 0
}
if all_present && [[ "${FETCH_PARTS_FORCE:-0}" != 1 ]]; then
  print_paths
  exit 0
fi

command -v apt-get >/dev/null || { log "apt-get not found: this script needs a Debian/Ubuntu machine"; exit 1; }
command -v dpkg >/dev/null || { log "dpkg not found"; exit 1; }

lists_empty() {
  ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

APT_OPTS=(-q)
# As root, apt drops to user _apt to download and warns when _apt cannot write the
# target folder; download as root instead (same files, no warning).
if [[ "$(id -u)" == 0 ]]; then APT_OPTS+=(-o APT::Sandbox::User=root); fi

UPDATED=0
apt_download() { # pkg...
  local out
  if out="$(cd "$DEBS_DIR" && apt-get "${APT_OPTS[@]}" download "$@" 2>&1)"; then
    return 0
  fi
  if [[ "$UPDATED" == 0 && "$(id -u)" == 0 ]] && lists_empty; then
    log "package lists are empty: running apt-get update"
    apt-get -q update >&2
    UPDATED=1
    (cd "$DEBS_DIR" && apt-get "${APT_OPTS[@]}" download "$@") >&2 && return 0
  fi
  echo "$out" >&2
  log "apt-get download $* failed."
  if lists_empty; then
    log "the package lists are missing: run 'apt-get update' (as root) first, then run this again."
  else
    log "if the lists are old, run 'apt-get update' (as root) and run this again."
  fi
  exit 1
}

have_deb() { compgen -G "$DEBS_DIR/${1}_*.deb" >/dev/null; }

fetch_and_extract() { # pkg...
  local missing=() p deb
  for p in "$@"; do have_deb "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "downloading ${missing[*]}"
    apt_download "${missing[@]}"
  fi
  for p in "$@"; do
    for deb in "$DEBS_DIR/${p}"_*.deb; do
      local stamp
      stamp="$STAMP_DIR/$(basename "$deb").done"
      if [[ ! -f "$stamp" ]]; then
        log "extracting $(basename "$deb")"
        dpkg -x "$deb" "$ROOT_DIR"   # files only: no maintainer script runs
        touch "$stamp"
      fi
    done
  done
}

mkdir -p "$DEBS_DIR" "$ROOT_DIR" "$STAMP_DIR"
fetch_and_extract "${PACKAGES[@]}"

for v in "${BIN_ORDER[@]}"; do
  [[ -x "${BIN[$v]}" ]] || { log "missing after extraction: ${BIN[$v]}"; exit 1; }
done

# ---- shared libraries the host lacks (crowdsec/cscli link libsqlite3.so.0) ------------
LIB_DIR=""
missing_libs() { # prints sonames ldd cannot resolve
  local v
  for v in "${BIN_ORDER[@]}"; do
    LD_LIBRARY_PATH="${LIB_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "${BIN[$v]}" 2>/dev/null \
      | awk '/not found/ {print $1}'
  done | sort -u
}
if command -v ldd >/dev/null; then
  # A library found in one round can reveal its own missing dependencies: a few rounds.
  all_libs=()
  for _ in 1 2 3 4 5; do
    mapfile -t libs < <(missing_libs)
    ((${#libs[@]})) || break
    extra=()
    for l in "${libs[@]}"; do
      [[ -n "${LIB_PACKAGE[$l]:-}" ]] || { log "no known package for missing library $l"; exit 1; }
      extra+=("${LIB_PACKAGE[$l]}")
    done
    all_libs+=("${libs[@]}")
    fetch_and_extract "${extra[@]}"
    LIB_DIR="$ROOT_DIR/usr/lib/x86_64-linux-gnu"
    [[ -d "$LIB_DIR" ]] || LIB_DIR="$(dirname "$(find "$ROOT_DIR/usr/lib" -name "${libs[0]}" | head -n1)")"
  done
  mapfile -t still < <(missing_libs)
  if ((${#still[@]})); then log "still missing: ${still[*]}"; exit 1; fi
  if ((${#all_libs[@]})); then
    log "host lacks ${all_libs[*]}: set LD_LIBRARY_PATH=\$PARTS_LD_LIBRARY_PATH when running the parts"
  fi
fi

# ---- env.sh -------------------------------------------------------------------------
version_of() { # empty for a package this part set did not fetch
  local debs=("$DEBS_DIR/${1}"_*.deb)
  [[ ! -f "${debs[0]}" ]] || dpkg-deb -f "${debs[0]}" Version
}
AM_SHARE="$ROOT_DIR/usr/share"
tmp="$ENV_FILE.tmp.$$"
{
  echo "# Written by scripts/fetch-parts.sh. Absolute paths to the extracted Debian parts."
  echo "PARTS_DIR='$PARTS_DIR'"
  echo "PARTS_ROOT='$ROOT_DIR'"
  for v in "${BIN_ORDER[@]}"; do echo "$v='${BIN[$v]}'"; done
  echo "# Debian's alertmanager 0.25 loads this compiled-in path and fails without it:"
  echo "#   /usr/share/prometheus/alertmanager/default.tmpl"
  echo "# The extracted copy is ALERTMANAGER_TEMPLATE; scripts/alertmanager-ns.sh runs"
  echo "# alertmanager in a private mount namespace where ALERTMANAGER_SHARE_DIR is overlaid on /usr/share."
  echo "ALERTMANAGER_TEMPLATE='$AM_SHARE/prometheus/alertmanager/default.tmpl'"
  echo "ALERTMANAGER_SHARE_DIR='$AM_SHARE'"
  echo "ALERTMANAGER_UI_PATH='$AM_SHARE/prometheus/alertmanager/ui/'"
  echo "ALERTMANAGER_NS_WRAPPER='$REPO_DIR/scripts/alertmanager-ns.sh'"
  echo "# Non-empty only when the host lacks a library the parts link (then export LD_LIBRARY_PATH=it)."
  echo "PARTS_LD_LIBRARY_PATH='$LIB_DIR'"
  echo "CROWDSEC_VERSION='$(version_of crowdsec)'"
  echo "CUSTOM_BOUNCER_VERSION='$(version_of crowdsec-custom-bouncer)'"
  echo "FIREWALL_BOUNCER_VERSION='$(version_of crowdsec-firewall-bouncer)'"
  echo "PROMETHEUS_VERSION='$(version_of prometheus)'"
  echo "ALERTMANAGER_VERSION='$(version_of prometheus-alertmanager)'"
  echo "POSTGRESQL_VERSION='$(version_of postgresql-15)'"
  echo "MARIADB_VERSION='$(version_of mariadb-server-core)'"
  echo "export PARTS_DIR PARTS_ROOT ${BIN_ORDER[*]} ALERTMANAGER_TEMPLATE ALERTMANAGER_SHARE_DIR ALERTMANAGER_UI_PATH ALERTMANAGER_NS_WRAPPER PARTS_LD_LIBRARY_PATH"
} > "$tmp"
mv "$tmp" "$ENV_FILE"
log "wrote $ENV_FILE"
print_paths
