#!/usr/bin/env bash
# Write a real CrowdSec 1.4.6 LAPI database (Debian's cscli, extracted by scripts/fetch-parts.sh) for the packaging
# and image checks: two bouncers registered with `cscli bouncers add` (1.4.6 sets last_pull at registration), the firewall one
# pulled 5 minutes ago.
#   scripts/make-crowdsec-db.sh DIR     -> DIR/crowdsec.db (cscli's own mode: 0640), and DIR/config.yaml for cscli
# Prints the database path. Nothing else is written; nothing is started.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:?usage: make-crowdsec-db.sh DIR}"
mkdir -p "$dir/data"
dir="$(cd "$dir" && pwd)"
"$REPO_DIR/scripts/fetch-parts.sh" >/dev/null
# shellcheck disable=SC1091
source "${PARTS_DIR:-$REPO_DIR/target/parts}/env.sh"
sed -e "s|@DIR@|$dir|g" -e "s|@LAPI_PORT@|18080|g" -e "s|@PROM_PORT@|16060|g" \
  "$REPO_DIR/tests/support/lapi-config.yaml.tmpl" >"$dir/config.yaml"
cp "$REPO_DIR/tests/support/profiles.yaml" "$dir/profiles.yaml"
cscli() {
  LD_LIBRARY_PATH="${PARTS_LD_LIBRARY_PATH:-}" "$CSCLI_BIN" -c "$dir/config.yaml" "$@" 2>>"$dir/cscli.log" >/dev/null \
    || { tail -n 5 "$dir/cscli.log" >&2; echo "make-crowdsec-db: cscli $* failed" >&2; exit 1; }
}
cscli bouncers add pkg-firewall -k "pkgFirewallKey0123456789abcdefAB"
cscli bouncers add pkg-nginx -k "pkgNginxKey0123456789abcdefABCD"
# What the firewall bouncer's pull would have written (DOMAIN.md: 1.4.6 sets last_pull on /v1/decisions/stream).
python3 - "$dir/data/crowdsec.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE bouncers SET type='crowdsec-firewall-bouncer', version='v0.0.28', ip_address='127.0.0.1', "
           "last_pull=strftime('%Y-%m-%d %H:%M:%f+00:00','now','-5 minutes') WHERE name='pkg-firewall'")
db.commit()
EOF
echo "$dir/data/crowdsec.db"
