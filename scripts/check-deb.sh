#!/usr/bin/env bash
# The Debian package installs, runs and purges cleanly on Debian 12 (issues 13, 25):
#   1. lintian on the .deb (no error, no warning; overrides, if any, are shipped and explained in debian/);
#   2. a fresh `debootstrap --variant=minbase bookworm` root (scripts/debootstrap-bookworm.sh, cached tarball), with
#      the package's dependency `acl` installed first (Debian's .deb, as `apt install ./pkg.deb` would);
#   3. a STOCK CrowdSec host: a real CrowdSec 1.4.6 database 0640 root:root in a 0750 root folder, its config in
#      /etc/crowdsec, no `crowdsec` group. `dpkg -i`: the system user exists; files where docs/install.md says;
#      /etc/default is a conffile; the unit passes `systemd-analyze verify`; the service is enabled; the installed
#      binary, run as the unit runs it (that user, the unit's ARGS from /etc/default), serves both bouncers with no
#      manual step; the -wal/-shm files CrowdSec creates afterwards are readable by the user; CrowdSec's owner, group
#      and modes are unchanged;
#   4. `dpkg --purge`: no file of the package, no user, no group, no ACL entry; accounts as before;
#   5. the package installed BEFORE CrowdSec's folder exists: dpkg prints the one step; the exporter, once CrowdSec's
#      database is there, logs the same step, docs/install.md gives the same; run as printed, it makes the service
#      read the database; purge leaves nothing.
# Needs root, debootstrap, lintian, util-linux, python3, apt-get (to download acl). CHECK_DEB_PACKAGE=path skips
# building the package.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-deb: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
[[ "$(id -u)" == 0 ]] || die "needs root (chroot)"
for c in lintian chroot python3 dpkg-deb apt-get; do command -v "$c" >/dev/null || die "needs $c (docs/install.md: Requirements)"; done

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

# What purge must give back besides: the ACLs of CrowdSec's folder and files.
acls() { in_root sh -c 'cd / && if [ -d var/lib/crowdsec ]; then getfacl -R -p var/lib/crowdsec; fi' 2>&1; }

# ---- 2. the dependency `acl` ------------------------------------------------------------------------------------------
[[ "$(dpkg-deb -f "$deb" Depends)" == *acl* ]] || die "the package does not depend on acl"
(cd "$work" && apt-get download -q acl >/dev/null 2>&1) || die "apt-get download acl"
cp "$work"/acl_*.deb "$root/tmp/acl.deb"
in_root dpkg -i /tmp/acl.deb >/dev/null 2>&1 || die "dpkg -i acl"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
# The check's own listen address, read after the package's /etc/default (which stays as shipped).
printf 'ARGS="--web.listen-address=127.0.0.1:%s --lapi.cache-interval=0s"\n' "$port" >"$work/check.env"
start_service() {
  # The unit's EnvironmentFile and ExecStart, with runuser for User= (it sets the groups from /etc/group, as systemd).
  # setsid: a process group of its own (a background job of a script is no group leader, so setsid does not fork
  # and $! is the group's id); `in_root` is a shell function, and `kill $!` on it would end only the subshell.
  cp "$work/check.env" "$root/tmp/check.env"
  setsid chroot "$root" /bin/sh -c "set -a; . /etc/default/$pkg; . /tmp/check.env; set +a; exec runuser -u $user -- /usr/bin/$pkg \$ARGS" \
    >"$work/exporter.log" 2>&1 &
  pid=$!
}
stop_service() { kill -- "-$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
scrape() {
  python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()); sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
}
expect_reads() { # what: the service serves both bouncers of the database
  local metrics
  metrics="$(scrape)" || { cat "$work/exporter.log" >&2; die "$1: the installed binary did not serve /metrics"; }
  for want in 'crowdsec_exporter_source_up{source="lapi_db",name="local",lapi="local"} 1' 'crowdsec_bouncers{lapi="local"} 2' \
              'crowdsec_bouncer_pulled{lapi="local",bouncer="pkg-firewall"} 1'; do
    grep -qxF "$want" <<<"$metrics" || { cat "$work/exporter.log" >&2; die "$1: missing: $want"; }
  done
}

# CrowdSec as Debian's crowdsec 1.4.6 leaves a host: the database 0640 root:root in a 0750 folder, no crowdsec group.
scripts/make-crowdsec-db.sh "$work/cs" >/dev/null
db=/var/lib/crowdsec/data/crowdsec.db
crowdsec_files() {
  install -d -m 0755 -o 0 -g 0 "$root/var/lib/crowdsec"
  install -d -m 0750 -o 0 -g 0 "$root/var/lib/crowdsec/data"
  install -m 0640 -o 0 -g 0 "$work/cs/data/crowdsec.db" "$root$db"
}
crowdsec_files
install -d "$root/etc/crowdsec"
printf 'db_config:\n  type: sqlite\n  db_path: %s\napi:\n  server:\n    listen_uri: 127.0.0.1:%s\n' \
  "$db" "$(free_port)" >"$root/etc/crowdsec/config.yaml"
if in_root getent group crowdsec >/dev/null; then die "the debootstrap root has a crowdsec group"; fi
modes() { in_root stat -c '%n %U %G %a' /var/lib/crowdsec/data "$db"; }

# ---- 3. a stock CrowdSec host -----------------------------------------------------------------------------------------
snapshot before
acls >"$work/before.acls"
modes_before="$(modes)"
install_pkg
grep -qF "crowdsec-bouncer-exporter: user $user may read CrowdSec's database $db" "$work/dpkg-i.log" \
  || { cat "$work/dpkg-i.log" >&2; die "postinst did not grant read access on a stock host"; }
if grep -q 'setfacl' "$work/dpkg-i.log"; then cat "$work/dpkg-i.log" >&2; die "postinst printed a step on a stock host"; fi
entry="$(in_root getent passwd "$user")" || die "no user $user"
IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
((uid < 1000)) || die "$user is not a system user (uid $uid)"
[[ "$shell" == /usr/sbin/nologin && "$home" == /nonexistent ]] || die "$user: shell $shell, home $home"
[[ ! -e "$root$home" ]] || die "home $home was created"
groups="$(in_root id -nG "$user")"
[[ "$groups" == "$user" ]] || die "$user is in: $groups"
[[ "$(modes)" == "$modes_before" ]] || die "CrowdSec's modes changed: $(modes) (was $modes_before)"
log "installed on a stock CrowdSec host: system user $user (uid $uid, groups: $groups), CrowdSec's modes unchanged"

unit=""
for d in /lib/systemd/system /usr/lib/systemd/system; do [[ -f "$root$d/$pkg.service" ]] && unit="$d/$pkg.service"; done
[[ -n "$unit" ]] || die "no systemd unit under /lib/systemd/system or /usr/lib/systemd/system"
for f in /usr/bin/$pkg /etc/default/$pkg /usr/share/doc/$pkg/README.md /usr/share/doc/$pkg/docs/install.md; do
  [[ -f "$root$f" ]] || die "missing $f"
done
compgen -G "$root/usr/share/$pkg/alerts/*.rules.yml" >/dev/null || die "no rules in /usr/share/$pkg/alerts"
compgen -G "$root/usr/share/$pkg/dashboards/*.json" >/dev/null || die "no dashboards in /usr/share/$pkg/dashboards"
diff -r alerts/crowdsec-bouncers.rules.yml "$root/usr/share/$pkg/alerts/crowdsec-bouncers.rules.yml" >/dev/null \
  || die "the packaged rules differ from alerts/"
for d in dashboards/*.json; do cmp -s "$d" "$root/usr/share/$pkg/$d" || die "packaged $d differs"; done
# shellcheck disable=SC2016 # ${Conffiles} is dpkg-query's field, not a shell variable
in_root dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q "/etc/default/$pkg " || die "/etc/default/$pkg is not a conffile"
grep -q '^ARGS=' "$root/etc/default/$pkg" || die "/etc/default/$pkg has no ARGS"
# Every documentation file /etc/default and the unit name is shipped (issue 25: README.md.gz was named, README.md shipped).
while read -r f; do
  [[ -e "$root$f" ]] || die "/etc/default/$pkg or the unit names $f, which the package does not ship"
done < <(grep -ho "/usr/share/doc/$pkg/[A-Za-z0-9_./-]*[A-Za-z0-9]" "$root/etc/default/$pkg" "$root$unit" | sort -u)
[[ -L "$root/etc/systemd/system/multi-user.target.wants/$pkg.service" ]] || die "the service is not enabled"
if command -v systemd-analyze >/dev/null; then
  # verify resolves ExecStart on this host: point it at the root's binary, everything else as installed.
  sed "s|^ExecStart=/usr/bin/$pkg|ExecStart=$root/usr/bin/$pkg|" "$root$unit" >"$work/$pkg.service"
  out="$(systemd-analyze verify "$work/$pkg.service" 2>&1)" || { echo "$out" >&2; die "systemd-analyze verify"; }
  if grep -v -e '^$' <<<"$out" | grep -q .; then echo "$out" >&2; die "systemd-analyze verify printed warnings"; fi
  log "unit $unit: systemd-analyze verify clean"
else
  die "systemd-analyze is not installed (docs/install.md: Requirements)"
fi

start_service
expect_reads "stock host"
# CrowdSec running after the install: SQLite creates -wal/-shm (with the database's mode); the default ACL on the
# folder lets the package's user read them (the exporter needs both while CrowdSec writes).
python3 - "$root" "$db" "$user" <<'PY' || die "a -wal/-shm file created after the install is not readable by $user"
import sqlite3, subprocess, sys
root, db, user = sys.argv[1:]
c = sqlite3.connect(root + db)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("CREATE TABLE csbe_check (x)"); c.commit()
for f in ("-wal", "-shm"):
    r = subprocess.run(["chroot", root, "runuser", "-u", user, "--", "head", "-c", "1", db + f], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{f}: {r.stderr.decode()}")
c.execute("DROP TABLE csbe_check"); c.commit(); c.close()
PY
expect_reads "stock host, after CrowdSec wrote in WAL mode"
stop_service
log "stock host: the service ran as $user and served both bouncers of the CrowdSec 1.4.6 database (0640 root:root), no step"

# ---- 4. purge -------------------------------------------------------------------------------------------------------------
purge_pkg
check_purged before
acls | diff -u "$work/before.acls" - >&2 || die "purge left ACL entries on CrowdSec's files"
log "purged: no file, user, group or ACL entry left"

# ---- 5. CrowdSec installed after the package: the one step ------------------------------------------------------------------
rm -rf "${root:?}/var/lib/crowdsec"
snapshot before-late
install_pkg
printed="$(sed -n 's/^  \(setfacl .*\)$/\1/p' "$work/dpkg-i.log")"
[[ -n "$printed" ]] || { cat "$work/dpkg-i.log" >&2; die "postinst printed no step without CrowdSec's folder"; }
crowdsec_files
start_service
metrics="$(scrape)" || { cat "$work/exporter.log" >&2; die "the installed binary did not serve /metrics"; }
grep -qxF 'crowdsec_exporter_source_up{source="lapi_db",name="local",lapi="local"} 0' <<<"$metrics" \
  || { cat "$work/exporter.log" >&2; die "lapi_db is not down before the step"; }
stop_service
logged="$(grep -o 'Fix, as root: .* then restart' "$work/exporter.log" | head -n1 | sed 's/^Fix, as root: //; s/ then restart$//')"
# shellcheck disable=SC2016 # a Python program: its backquotes are Markdown's, not the shell's.
documented="$(python3 -c 'import re,sys; print(re.search(r"```sh\n(setfacl [^\n]*)\n```", open(sys.argv[1]).read()).group(1))' docs/install.md)"
[[ "$printed" == "$logged" && "$printed" == "$documented" ]] \
  || die "the step differs: package '$printed', exporter's log '$logged', docs/install.md '$documented'"
in_root sh -c "$printed" || die "the printed step failed: $printed"
start_service
expect_reads "after the printed step"
stop_service
log "CrowdSec after the package: one step, the same in dpkg's output, the exporter's log and docs/install.md, made it read"
rm -rf "${root:?}/var/lib/crowdsec"
purge_pkg
check_purged before-late
log "ok"
