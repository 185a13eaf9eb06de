#!/usr/bin/env bash
# Build the Debian package:
#   scripts/package-deb.sh   -> target/debian/crowdsec-bouncer-exporter_<version>_<arch>.deb (path printed)
# Installs cargo-deb (pinned) into cargo's default bin dir (~/.cargo/bin) only when `cargo deb --version` is missing
# or another version (it takes minutes to build: a machine that has it keeps it), turns examples/systemd's unit into the
# package's (/usr/bin, settings from /etc/default, optional CrowdSec folders), then runs cargo-deb
# with Cargo.toml's [package.metadata.deb] (release build). PACKAGE_DEB_NO_BUILD=1 packages the existing binary
# without building it. PACKAGE_DEB_TARGET: see below.
# What is in it and how it is proven: docs/install.md "Install options"; scripts/check-deb.sh installs it in a Debian 12 root.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "package-deb: $*" >&2; }

CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -qF "cargo-deb $CARGO_DEB_VERSION"; then
  log "cargo install cargo-deb $CARGO_DEB_VERSION (into cargo's bin dir)"
  cargo install --quiet --locked --version "$CARGO_DEB_VERSION" cargo-deb
fi

# The packaged unit is the example unit with the identity and paths a package gives it. Each edit is checked, so a
# change to the example that breaks one fails here instead of shipping a unit that silently differs.
unit_in=examples/systemd/crowdsec-bouncer-exporter.service
assets=target/debian-assets
mkdir -p "$assets"
python3 - "$unit_in" "$assets/crowdsec-bouncer-exporter.service" <<'EOF'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
body = text[text.index("[Unit]"):]
header = """# systemd unit of the Debian package crowdsec-bouncer-exporter, made by scripts/package-deb.sh from
# examples/systemd/crowdsec-bouncer-exporter.service (same hardening). The service runs as the system user
# crowdsec-bouncer-exporter, which the package created and allowed to read CrowdSec's database by ACL. If it cannot
# read it, the one step is in its log (journalctl -u crowdsec-bouncer-exporter) and in
# /usr/share/doc/crowdsec-bouncer-exporter/docs/install.md, "Permissions: one step at most".
# Settings: /etc/default/crowdsec-bouncer-exporter. Override: systemctl edit crowdsec-bouncer-exporter.

"""
def sub(pattern, repl):
    global body
    body, n = re.subn(pattern, repl, body, flags=re.M)
    if n != 1:
        sys.exit(f"package-deb: the example unit no longer has {pattern!r}: update scripts/package-deb.sh")
# ExecStart: the packaged binary, flags from /etc/default (every flag also has an environment variable there).
sub(r"^ExecStart=(?:.*\\\n)*.*$", "EnvironmentFile=-/etc/default/crowdsec-bouncer-exporter\nExecStart=/usr/bin/crowdsec-bouncer-exporter $ARGS")
# The same system user as the example's, created by the package's postinst (which also sets the ACLs).
sub(r"^# Identity:.*\n", "# Identity: the package's system user, allowed to read CrowdSec's database by ACL (postinst).\n")
sub(r"^User=crowdsec-bouncer-exporter$", "User=crowdsec-bouncer-exporter")
# CrowdSec may be installed after this package: a missing folder must not stop the service from starting.
sub(r"^ReadOnlyPaths=/etc/crowdsec /var/lib/crowdsec/data$", "ReadOnlyPaths=-/etc/crowdsec -/var/lib/crowdsec/data")
open(dst, "w").write(header + body)
EOF

gzip -9n <debian/crowdsec-bouncer-exporter.1 >"$assets/crowdsec-bouncer-exporter.1.gz"

args=()
[[ "${PACKAGE_DEB_NO_BUILD:-0}" == 1 ]] && args+=(--no-build)
# PACKAGE_DEB_PROFILE=dev packages the debug build (quick checks of the packaging itself; never for release).
[[ -n "${PACKAGE_DEB_PROFILE:-}" ]] && args+=(--profile "$PACKAGE_DEB_PROFILE")
# PACKAGE_DEB_TARGET=aarch64-unknown-linux-gnu cross-builds the arm64 package (the release workflow: the linker and C
# compiler from Debian's gcc-aarch64-linux-gnu, set in CARGO_TARGET_*_LINKER and CC_*); cargo-deb reads the binary
# from target/<triple>/release and names the package's architecture.
[[ -n "${PACKAGE_DEB_TARGET:-}" ]] && args+=(--target "$PACKAGE_DEB_TARGET")
out="$(cargo deb ${args[@]+"${args[@]}"} --locked 2>&1)" || { echo "$out" >&2; exit 1; }
deb="$(tail -n1 <<<"$out")"
[[ -f "$deb" ]] || { echo "$out" >&2; log "cargo-deb printed no package path"; exit 1; }
log "wrote $deb"
echo "$deb"
