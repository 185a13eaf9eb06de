#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine with the Rust toolchain and python3:
#   scripts/test.sh
# Fetches the real parts the tests run (CrowdSec 1.4.6 LAPI and cscli, crowdsec-custom-bouncer, Prometheus,
# Alertmanager) from Debian's packages into target/parts without installing them, then checks formatting,
# lints, the alert rules, the Service API fake against CrowdSec's official SDK, and runs every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*" >&2; }

# Every tool a later step needs, checked in the first second rather than after 20 minutes of tests. `.ci/run`
# installs them all; this line says what to install by hand.
step "tools the suite needs"
missing=()
for tool in cargo rustfmt cargo-clippy python3 apt-get dpkg dpkg-deb ldd unshare chroot setsid setfacl jsonnet debootstrap \
            lintian systemd-analyze podman shellcheck chromium; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=("python3-venv")
python3 -c 'import yaml' 2>/dev/null || missing+=("python3-yaml")
if ((${#missing[@]})); then
  echo "test.sh: missing: ${missing[*]}" >&2
  echo "install: apt-get install -y util-linux acl python3-venv python3-yaml debootstrap lintian systemd podman jsonnet shellcheck chromium;" \
       "rustup component add clippy rustfmt (or run .ci/run as root, which does both)" >&2
  exit 1
fi

step "no function over 120 lines outside tests"
scripts/check-function-length.py

step "shellcheck: scripts/, examples/**/*.sh, .ci/run, the package's maintainer scripts"
mapfile -t shell_scripts < <(find scripts examples -name '*.sh' | sort)
shellcheck "${shell_scripts[@]}" .ci/run debian/postinst debian/postrm

step "real parts (Debian packages, extracted under target/parts)"
scripts/fetch-parts.sh >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "no import cycle among top-level modules (the layers of src/lib.rs)"
scripts/module-cycles.sh

step "no file name of src/ repeated across folders (mod.rs and two others allowed)"
scripts/file-names.sh

step "alert rules: promtool check/test rules, amtool check-config, lint"
scripts/check-alerts.sh

step "Service API fake against the official Python SDK"
scripts/check-service-api-sdk.sh

step "documentation: every relative link of the Markdown files leads to a file and heading"
python3 scripts/check-links.py

step "examples and dashboards: generated copies, promtool/amtool configs, systemd unit"; scripts/check-examples.sh

step "cargo test (unit, fixtures, HTTP, Service API fake, end-to-end with the real CrowdSec)"
cargo test --all-targets

# Issue 13: the Prometheus/Alertmanager releases users run, and the package and image proven where CrowdSec runs.
step "Prometheus 2.53 + Alertmanager 0.28 (trixie), 3.5 + 0.33 (sid): rules, rule tests, exposition, alert path"
scripts/check-prometheus-matrix.sh

step "monitoring mixin: alerts/ and dashboards/ generated from mixin/, thresholds move the alerts"
scripts/check-mixin.sh

# The package and the image prove the packaging, not the optimiser: the suite packages the debug build it already
# compiled (a release build from scratch costs ~5 min of CI's 25). Release packages: scripts/package-deb.sh alone.
step "Debian package: lintian, install/run/purge in a debootstrap bookworm root (debug build)"
PACKAGE_DEB_PROFILE=dev scripts/check-deb.sh

step "container image: podman build, entrypoint on a read-only CrowdSec 1.4.6 database"
cargo build --quiet --bin crowdsec-bouncer-exporter
CHECK_IMAGE_BINARY=target/debug/crowdsec-bouncer-exporter scripts/check-image.sh
