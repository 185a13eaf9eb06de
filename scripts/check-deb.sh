#!/usr/bin/env bash
# The Debian package installs, runs and purges cleanly on Debian 12 (issue 13):
#   1. lintian on the .deb (no error, no warning; overrides, if any, are shipped and explained in debian/);
#   2. a fresh `debootstrap --variant=minbase bookworm` root (scripts/debootstrap-bookworm.sh, cached tarball);
#   3. `dpkg -i` in a chroot WITHOUT a crowdsec group: the system user exists, is in no crowdsec group; purge;
#   4. with a crowdsec group (and a real CrowdSec 1.4.6 database 0640 root:crowdsec in /var/lib/crowdsec/data, its
#      config in /etc/crowdsec): `dpkg -i` again: the user is in group crowdsec; files where README says;
#      /etc/default is a conffile; the unit passes `systemd-analyze verify`; the service is enabled;
#   5. the installed binary runs inside the root as the package's user, with the unit's ARGS from /etc/default, and
#      serves both bouncers of the database;
#   6. `dpkg --purge`: no file of the package, no user, no group, /etc/passwd, group, shadow, gshadow as before.
# Needs root, debootstrap, lintian, util-linux, python3. CHECK_DEB_PACKAGE=path skips building the package.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-deb: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
[[ "$(id -u)" == 0 ]] || die "needs root (chroot)"
for c in lintian chroot python3 dpkg-deb; do command -v "$c" >/dev/null || die "needs $c (README: Requirements)"; done

deb="${CHECK_DEB_PACKAGE:-}"
[[ -n "$deb" ]] || deb="$(scripts/package-deb.sh)"
[[ -f "$deb" ]] || die "no package at $deb"
pkg=crowdsec-bouncer-exporter
user=crowdsec-bouncer-exporter
[[ "$(dpkg-deb -f "$deb" Package)" == "$pkg" ]] || die "package name"
[[ "$(basename "$deb")" =~ ^${pkg}_[^_]+_[a-z0-9]+\.deb$ ]] || die "file name $(basename "$deb")"

log "lintian $(basename "$deb")"
# --fail-on warning: a warning fails like an error. Overrides are shipped in the package and explained there.
lintian --allow-root --fail-on error,warning --tag-display-limit 0 "$deb" >&2 || die "lintian"

tarball="$(scripts/debootstrap-bookworm.sh)"
work="$(mktemp -d "${TMPDIR:-/tmp}/check-deb.XXXXXX")"
pid=""
cleanup() {
  # The exporter runs in its own session (setsid below): its whole process group is ended, not only the shell
  # that started it, so nothing keeps listening from a deleted chroot after the check.
  if [[ -n "$pid" ]]; then kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/root"
mkdir "$root"
tar -C "$root" -xf "$tarball"
chmod 755 "$root" # a tarball made before debootstrap-bookworm.sh fixed the mode of its `.`
cp "$deb" "$root/tmp/$pkg.deb"
in_root() { chroot "$root" "$@"; }
# What purge must give back: the file names (dpkg's own records and logs aside) and the account databases.
snapshot() { # name
  (cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/log -o -path ./tmp -o -path ./var/cache \
    -o -path ./proc -o -path ./dev -o -path ./run \) -prune -o -print | sort | grep -v -E '^\./etc/(passwd|group|shadow|gshadow)-$') >"$work/$1.files"
  cat "$root"/etc/{passwd,group,shadow,gshadow} >"$work/$1.accounts"
}
install_pkg() { in_root dpkg -i "/tmp/$pkg.deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; die "dpkg -i"; }; }
purge_pkg() { in_root dpkg --purge "$pkg" >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log" >&2; die "dpkg --purge"; }; }
check_purged() { # snapshot name taken before the install
  snapshot after
  diff -u "$work/$1.files" "$work/after.files" >&2 || die "purge left files behind (or removed some)"
  diff -u "$work/$1.accounts" "$work/after.accounts" >&2 || die "purge left the accounts changed"
  in_root dpkg-query -W "$pkg" >/dev/null 2>&1 && die "dpkg still knows $pkg"
  return 0
}

# ---- 3. no crowdsec group -------------------------------------------------------------------------------------------
snapshot before-nogroup
install_pkg
entry="$(in_root getent passwd "$user")" || die "no user $user"
IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
((uid < 1000)) || die "$user is not a system user (uid $uid)"
[[ "$shell" == /usr/sbin/nologin && "$home" == /nonexistent ]] || die "$user: shell $shell, home $home"
[[ ! -e "$root$home" ]] || die "home $home was created"
groups="$(in_root id -nG "$user")"
[[ "$groups" == "$user" ]] || die "without a crowdsec group, $user is in: $groups"
log "installed without a crowdsec group: system user $user (uid $uid), groups: $groups"
purge_pkg
check_purged before-nogroup
log "purged: nothing left"

# ---- 4. with CrowdSec's group and database ----------------------------------------------------------------------------
in_root groupadd --system crowdsec
scripts/make-crowdsec-db.sh "$work/cs" >/dev/null
install -d -m 0750 -g 0 "$root/var/lib/crowdsec/data"
install -m 0640 "$work/cs/data/crowdsec.db" "$root/var/lib/crowdsec/data/crowdsec.db"
install -d "$root/etc/crowdsec"
lapi_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
printf 'db_config:\n  type: sqlite\n  db_path: /var/lib/crowdsec/data/crowdsec.db\napi:\n  server:\n    listen_uri: 127.0.0.1:%s\n' \
  "$lapi_port" >"$root/etc/crowdsec/config.yaml"
# What README "Set up" tells a CrowdSec host to do: the group may read the database and its folder.
in_root chgrp crowdsec /var/lib/crowdsec/data /var/lib/crowdsec/data/crowdsec.db
snapshot before
install_pkg
groups="$(in_root id -nG "$user")"
[[ " $groups " == *" crowdsec "* ]] || die "with a crowdsec group, $user is in: $groups"
log "installed with a crowdsec group: $user is in: $groups"

unit=""
for d in /lib/systemd/system /usr/lib/systemd/system; do [[ -f "$root$d/$pkg.service" ]] && unit="$d/$pkg.service"; done
[[ -n "$unit" ]] || die "no systemd unit under /lib/systemd/system or /usr/lib/systemd/system"
for f in /usr/bin/$pkg /etc/default/$pkg; do [[ -f "$root$f" ]] || die "missing $f"; done
compgen -G "$root/usr/share/$pkg/alerts/*.rules.yml" >/dev/null || die "no rules in /usr/share/$pkg/alerts"
compgen -G "$root/usr/share/$pkg/dashboards/*.json" >/dev/null || die "no dashboards in /usr/share/$pkg/dashboards"
diff -r alerts/crowdsec-bouncers.rules.yml "$root/usr/share/$pkg/alerts/crowdsec-bouncers.rules.yml" >/dev/null \
  || die "the packaged rules differ from alerts/"
for d in dashboards/*.json; do cmp -s "$d" "$root/usr/share/$pkg/$d" || die "packaged $d differs"; done
# shellcheck disable=SC2016 # ${Conffiles} is dpkg-query's field, not a shell variable
in_root dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q "/etc/default/$pkg " || die "/etc/default/$pkg is not a conffile"
grep -q '^ARGS=' "$root/etc/default/$pkg" || die "/etc/default/$pkg has no ARGS"
[[ -L "$root/etc/systemd/system/multi-user.target.wants/$pkg.service" ]] || die "the service is not enabled"
if command -v systemd-analyze >/dev/null; then
  # verify resolves ExecStart on this host: point it at the root's binary, everything else as installed.
  sed "s|^ExecStart=/usr/bin/$pkg|ExecStart=$root/usr/bin/$pkg|" "$root$unit" >"$work/$pkg.service"
  out="$(systemd-analyze verify "$work/$pkg.service" 2>&1)" || { echo "$out" >&2; die "systemd-analyze verify"; }
  if grep -v -e '^$' <<<"$out" | grep -q .; then echo "$out" >&2; die "systemd-analyze verify printed warnings"; fi
  log "unit $unit: systemd-analyze verify clean"
else
  die "systemd-analyze is not installed (README: Requirements)"
fi

# ---- 5. the installed binary, as the service would run it ----------------------------------------------------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >>"$root/etc/default/$pkg" <<EOF
ARGS="--web.listen-address=127.0.0.1:$port"
EOF
# The unit's EnvironmentFile and ExecStart, with runuser for User= (it sets the groups from /etc/group, as systemd).
# setsid: a process group of its own (a background job of a script is no group leader, so setsid does not fork and
# $! is the group's id); `in_root` is a shell function, and `kill $!` on it would end only the subshell.
setsid chroot "$root" /bin/sh -c "set -a; . /etc/default/$pkg; set +a; exec runuser -u $user -- /usr/bin/$pkg \$ARGS" \
  >"$work/exporter.log" 2>&1 &
pid=$!
metrics="$(python3 - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()); sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
EOF
)" || { cat "$work/exporter.log" >&2; die "the installed binary did not serve /metrics"; }
for want in 'crowdsec_exporter_source_up{source="lapi_db",name="local",lapi="local"} 1' 'crowdsec_bouncers{lapi="local"} 2' \
            'crowdsec_bouncer_pulled{lapi="local",bouncer="pkg-firewall"} 1'; do
  grep -qxF "$want" <<<"$metrics" || { cat "$work/exporter.log" >&2; die "missing: $want"; }
done
kill -- "-$pid"; wait "$pid" 2>/dev/null || true; pid=""
log "installed binary ran as $user (groups: $groups) and served both bouncers of the CrowdSec 1.4.6 database"

# ---- 6. purge -------------------------------------------------------------------------------------------------------------
purge_pkg
check_purged before
log "purged: no file, user or group left"
log "ok"
