#!/usr/bin/env bash
# The container image builds and its entrypoint serves metrics from a read-only CrowdSec 1.4.6 database (issue 13).
#
#   1. podman build of ./Dockerfile exactly as shipped, on a local Debian 12 base (a debootstrap root imported with
#      `podman import`: no registry is reachable here), with the release binary built outside (node_exporter style);
#   2. the image's own config (User, Entrypoint) and its OCI labels (source, version, licenses, description: Cargo.toml's
#      repository, version, license, description) are read with `podman image inspect`;
#   3. running a container is refused in this sandbox (crun cannot setrlimit), so the image's filesystem is exported
#      and its entrypoint runs there with chroot, as the image's user, with a real CrowdSec 1.4.6 database and config
#      bind-mounted READ-ONLY where CrowdSec keeps them (/var/lib/crowdsec/data, /etc/crowdsec);
#   4. scraped: lapi_db up, the bouncers cscli registered are there; the database is unchanged afterwards;
#   5. the same with the database 0600 root (the image's user cannot read it): served, lapi_db down, no crash.
# Needs root, podman, util-linux (unshare, mount), coreutils chroot, python3; builds the release binary when
# CHECK_IMAGE_BINARY is not given. Stops only what it started.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-image: $*" >&2; }
die() { log "$*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "needs root (podman import/build, chroot, bind mounts)"
for c in podman unshare chroot python3; do command -v "$c" >/dev/null || die "needs $c (README: Requirements)"; done

binary="${CHECK_IMAGE_BINARY:-target/release/crowdsec-bouncer-exporter}"
if [[ -z "${CHECK_IMAGE_BINARY:-}" ]]; then
  log "cargo build --release --locked"
  cargo build --release --locked --quiet --bin crowdsec-bouncer-exporter
fi
[[ -x "$binary" ]] || die "no binary at $binary"
case "$binary" in /*) binary="$(realpath --relative-to="$REPO_DIR" "$binary")" ;; esac

base=localhost/csbe-check-base:bookworm
image=localhost/crowdsec-bouncer-exporter:check
tarball="$(scripts/debootstrap-bookworm.sh)"
# Re-import only when the cached root changed (an interrupted run may have left the base; cleanup removes it).
stamp="$(stat -c %Y "$tarball")"
if [[ "$(podman image inspect --format '{{index .Labels "csbe.root"}}' "$base" 2>/dev/null || true)" != "$stamp" ]]; then
  log "podman import $tarball as $base"
  out="$(podman import --change "LABEL csbe.root=$stamp" "$tarball" "$base" 2>&1)" || { echo "$out" >&2; die "podman import"; }
fi

log "podman build (Dockerfile as shipped; BASE=$base, BINARY=$binary)"
start=$SECONDS
# chroot isolation: RUN steps without an OCI runtime, which this sandbox refuses.
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
podman build --isolation=chroot --build-arg "BASE=$base" --build-arg "BINARY=$binary" --build-arg "VERSION=$version" -t "$image" . \
  >target/check-image-build.log 2>&1 || { tail -n 30 target/check-image-build.log >&2; die "podman build failed"; }
log "image built in $((SECONDS - start)) s"

user="$(podman image inspect --format '{{.Config.User}}' "$image")"
entrypoint="$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")"
[[ "$user" == "65534:65534" ]] || die "image user is '$user', README and the Dockerfile say 65534:65534"
[[ "$entrypoint" == '["/usr/bin/crowdsec-bouncer-exporter"]' ]] || die "unexpected entrypoint $entrypoint"
# OCI labels (issue 25): what registries and scanners show, equal to Cargo.toml's.
label() { podman image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$image"; }
cargo_field() { sed -n "s/^$1 = \"\(.*\)\"\$/\1/p" Cargo.toml | head -n1; }
[[ "$(label source)" == "$(cargo_field repository)" ]] || die "label source '$(label source)', Cargo.toml: $(cargo_field repository)"
[[ "$(label version)" == "$version" ]] || die "label version '$(label version)', Cargo.toml: $version"
[[ "$(label licenses)" == "$(cargo_field license)" ]] || die "label licenses '$(label licenses)', Cargo.toml: $(cargo_field license)"
[[ "$(label description)" == "$(cargo_field description)" ]] || die "label description '$(label description)' is not Cargo.toml's"
log "OCI labels: source $(label source), version $(label version), licenses $(label licenses)"

work="$(mktemp -d)"
pid=""
cid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ -n "$cid" ]]; then podman rm "$cid" >/dev/null 2>&1 || true; fi
  # Nothing of the check stays in podman's store: the image built here, and the imported base (re-imported next
  # run from the cached debootstrap tarball, a few seconds).
  podman rmi -f "$image" "$base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cid="$(podman create "$image")"
mkdir "$work/rootfs"
podman export "$cid" | tar -C "$work/rootfs" -x
podman rm "$cid" >/dev/null
cid=""
[[ -x "$work/rootfs/usr/bin/crowdsec-bouncer-exporter" ]] || die "the exported image has no entrypoint binary"
[[ -f "$work/rootfs/etc/ssl/certs/ca-certificates.crt" ]] || die "the image has no CA certificates (Service API TLS)"

# CrowdSec's side, as on a CrowdSec host: config in /etc/crowdsec, the database in /var/lib/crowdsec/data.
scripts/make-crowdsec-db.sh "$work/cs" >/dev/null
mkdir -p "$work/etc-crowdsec"
cat >"$work/etc-crowdsec/config.yaml" <<EOF
db_config:
  type: sqlite
  db_path: /var/lib/crowdsec/data/crowdsec.db
api:
  server:
    listen_uri: 127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EOF
mkdir -p "$work/rootfs/etc/crowdsec" "$work/rootfs/var/lib/crowdsec/data"

scrape() { # port -> metrics text on stdout
  python3 - "$1" <<'EOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/metrics"
for _ in range(100):
    try:
        print(urllib.request.urlopen(url, timeout=5).read().decode()); sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
EOF
}

run_entrypoint() { # port: the image's entrypoint as the image's user, CrowdSec's folders mounted read-only
  local port="$1"
  # A private mount namespace: the bind mounts vanish with the process; exec keeps the PID the exporter's.
  # shellcheck disable=SC2016 # $1 is the inner shell's argument
  unshare -m --propagation private -- /bin/sh -c '
    set -e
    mount --bind "$1/cs/data" "$1/rootfs/var/lib/crowdsec/data"
    mount -o remount,bind,ro "$1/rootfs/var/lib/crowdsec/data"
    mount --bind "$1/etc-crowdsec" "$1/rootfs/etc/crowdsec"
    mount -o remount,bind,ro "$1/rootfs/etc/crowdsec"
    exec chroot --userspec="$2" "$1/rootfs" "$3" --web.listen-address="127.0.0.1:$4"
  ' sh "$work" "$user" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0])' "$entrypoint")" "$port" \
    >>"$work/exporter.log" 2>&1 &
  pid=$!
}

stop_entrypoint() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The documented permission: the database's group is the image's group, mode 0640 (folder 0750).
db="$work/cs/data/crowdsec.db"
chgrp 65534 "$work/cs/data" "$db"
chmod 0750 "$work/cs/data"
chmod 0640 "$db"
before="$(sha256sum <"$db")"
port="$(free_port)"
run_entrypoint "$port"
metrics="$(scrape "$port")" || { cat "$work/exporter.log" >&2; die "the entrypoint did not serve /metrics"; }
expect() { grep -qxF "$1" <<<"$metrics" || { echo "$metrics" | grep -E '^crowdsec_(exporter_source_up|bouncer_pulled)' >&2; cat "$work/exporter.log" >&2; die "missing: $1"; }; }
expect 'crowdsec_exporter_source_up{source="lapi_db",name="local",lapi="local"} 1'
expect 'crowdsec_bouncer_pulled{lapi="local",bouncer="pkg-firewall"} 1'
expect 'crowdsec_bouncers{lapi="local"} 2'
stop_entrypoint
[[ "$(sha256sum <"$db")" == "$before" ]] || die "the database changed while the image's exporter read it"
log "entrypoint as $user served both bouncers from the read-only database (mode 0640, group 65534)"

# Without that permission: still serves, says the source is down (the reason is in source_errors_total).
chgrp 0 "$work/cs/data" "$db"
chmod 0700 "$work/cs/data"
chmod 0600 "$db"
port="$(free_port)"
run_entrypoint "$port"
metrics="$(scrape "$port")" || { cat "$work/exporter.log" >&2; die "the entrypoint did not serve /metrics"; }
expect 'crowdsec_exporter_source_up{source="lapi_db",name="local",lapi="local"} 0'
stop_entrypoint
log "without read permission: served, lapi_db down ($(grep -o 'crowdsec_exporter_source_errors_total{source="lapi_db"[^}]*}' <<<"$metrics" | head -n1))"
log "ok"
