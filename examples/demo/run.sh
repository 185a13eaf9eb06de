#!/usr/bin/env bash
# One-command demo on a fresh Debian/Ubuntu machine (Rust toolchain, python3, apt), without CrowdSec installed:
#
#   examples/demo/run.sh
#
# Brings up, all on 127.0.0.1 and in a temp folder (nothing installed, no service, no maintainer script):
#   * the real CrowdSec Local API and the real crowdsec-custom-bouncer, from Debian's packages
#     (scripts/fetch-parts.sh extracts them under target/parts; config from tests/support/*.tmpl);
#   * the exporter (cargo build --release, or DEMO_EXPORTER_BIN);
#   * Prometheus (Debian's) scraping it as job crowdsec-bouncer-exporter, with alerts/crowdsec-bouncers.rules.yml.
# Besides the live bouncer it registers three sample rows and backdates them in the database (late 2 h, offline
# 26 h, never pulled) so every state shows, and adds an unfilled firewall bouncer config (placeholder key) next to
# the live bouncer's config for the configuration checks; DEMO_SAMPLES=0 leaves the samples out.
# Prints where to look, then runs until Ctrl-C, which stops everything it started and deletes the temp folder.
#
# Environment: DEMO_EXIT_AFTER=N (non-interactive: stop after N seconds, exit 0 if everything stayed up),
# DEMO_LAPI_PORT (18080), DEMO_EXPORTER_PORT (10423), DEMO_PROMETHEUS_PORT (19090), DEMO_EXPORTER_BIN,
# DEMO_KEEP=1 (keep the temp folder).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAPI_PORT="${DEMO_LAPI_PORT:-18080}"
EXPORTER_PORT="${DEMO_EXPORTER_PORT:-10423}"
PROM_PORT="${DEMO_PROMETHEUS_PORT:-19090}"
EXIT_AFTER="${DEMO_EXIT_AFTER:-}"
BOUNCER_KEY="demoBouncerKey0123456789abcdefAB"

log() { echo "demo: $*" >&2; }
die() { log "$*"; exit 1; }

command -v python3 >/dev/null || die "python3 is required"
[[ -z "$EXIT_AFTER" || "$EXIT_AFTER" =~ ^[0-9]+$ ]] || die "DEMO_EXIT_AFTER must be a number of seconds"

# ---- parts ------------------------------------------------------------------------------------------------------
"$REPO_DIR/scripts/fetch-parts.sh" demo >/dev/null || die "scripts/fetch-parts.sh failed (see above)"
# shellcheck disable=SC1091
source "$REPO_DIR/target/parts/env.sh"
PARTS_LIBS="${PARTS_LD_LIBRARY_PATH:-}"

if [[ -n "${DEMO_EXPORTER_BIN:-}" ]]; then
  EXPORTER_BIN="$DEMO_EXPORTER_BIN"
else
  command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain or set DEMO_EXPORTER_BIN"
  log "building the exporter (cargo build --release)"
  (cd "$REPO_DIR" && cargo build --release --quiet) || die "cargo build failed"
  EXPORTER_BIN="$REPO_DIR/target/release/crowdsec-bouncer-exporter"
fi
[[ -x "$EXPORTER_BIN" ]] || die "exporter binary $EXPORTER_BIN not found"

port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
for p in "$LAPI_PORT" "$EXPORTER_PORT" "$PROM_PORT"; do
  port_free "$p" || die "port 127.0.0.1:$p is in use: set DEMO_LAPI_PORT / DEMO_EXPORTER_PORT / DEMO_PROMETHEUS_PORT"
done
CS_PROM_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# ---- lifecycle: everything started here is stopped by PID on exit ---------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crowdsec-exporter-demo.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${DEMO_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  log "stopped"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start() { # name command...: runs it in the background, output in $WORK/name.log
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}
alive_or_die() { # name pid
  kill -0 "$2" 2>/dev/null || { tail -n 20 "$WORK/$1.log" >&2; die "$1 exited"; }
}
wait_http() { # url seconds
  python3 - "$1" "$2" <<'EOF'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(1)
EOF
}
render() { # template out: the placeholders of tests/support/REAL_PARTS.md
  sed -e "s|@DIR@|$WORK|g" -e "s|@LAPI_PORT@|$LAPI_PORT|g" -e "s|@PROM_PORT@|$CS_PROM_PORT|g" \
      -e "s|@API_URL@|http://127.0.0.1:$LAPI_PORT/|g" -e "s|@API_KEY@|$BOUNCER_KEY|g" -e "s|@BIN_PATH@|/bin/true|g" \
      "$REPO_DIR/tests/support/$1" >"$2"
}
cscli() { # its start-up notices go to cscli.log; on failure they are shown
  LD_LIBRARY_PATH="$PARTS_LIBS" "$CSCLI_BIN" -c "$WORK/config.yaml" "$@" 2>>"$WORK/cscli.log" \
    || { tail -n 5 "$WORK/cscli.log" >&2; die "cscli $* failed"; }
}

# ---- CrowdSec LAPI + bouncers -----------------------------------------------------------------------------------------
mkdir -p "$WORK/data"
cp "$REPO_DIR/tests/support/profiles.yaml" "$WORK/profiles.yaml"
render lapi-config.yaml.tmpl "$WORK/config.yaml"
cscli bouncers add demo-custom-bouncer -k "$BOUNCER_KEY" >/dev/null
# The folder of bouncer configuration files the exporter checks (--bouncers.config-dir). The live bouncer is started
# with its file there, as on a host (/etc/crowdsec/bouncers/): check `running` looks for a process whose `-c` names
# the checked file, so a copy would make the first `diagnose` say FAIL running for a bouncer that runs (issue 25).
mkdir -p "$WORK/bouncers"
BOUNCER_CONFIG="$WORK/bouncers/crowdsec-custom-bouncer.yaml"
render custom-bouncer.yaml.tmpl "$BOUNCER_CONFIG"
chmod 0600 "$BOUNCER_CONFIG"
if [[ "${DEMO_SAMPLES:-1}" == 1 ]]; then
  for name in demo-late-firewall demo-offline-nginx demo-never-started; do
    cscli bouncers add "$name" >/dev/null
  done
  # Backdated rows, as CrowdSec writes them (what a bouncer's requests would have set).
  python3 - "$WORK/data/crowdsec.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ts = "strftime('%Y-%m-%d %H:%M:%f+00:00','now',?)"
for name, typ, ver, ago in [("demo-late-firewall", "crowdsec-firewall-bouncer", "v0.0.28", "-2 hours"),
                            ("demo-offline-nginx", "crowdsec-nginx-bouncer", "v1.0.8", "-26 hours")]:
    db.execute(f"UPDATE bouncers SET type=?, version=?, ip_address='127.0.0.1', last_pull={ts} WHERE name=?",
               (typ, ver, ago, name))
db.commit()
EOF
  # A firewall bouncer config never filled in: the placeholder key fails the exporter's checks.
  printf 'api_url: http://127.0.0.1:%s/\napi_key: <API_KEY>\nmode: nftables\n' "$LAPI_PORT" \
    >"$WORK/bouncers/crowdsec-firewall-bouncer.yaml"
  chmod 0600 "$WORK/bouncers/crowdsec-firewall-bouncer.yaml"
fi

# shellcheck disable=SC2153 # CROWDSEC_BIN comes from target/parts/env.sh
start crowdsec env LD_LIBRARY_PATH="$PARTS_LIBS" "$CROWDSEC_BIN" -no-cs -c "$WORK/config.yaml"
CROWDSEC_PID=$!
wait_http "http://127.0.0.1:$LAPI_PORT/health" 30 || { alive_or_die crowdsec "$CROWDSEC_PID"; die "LAPI not healthy"; }
# Only after /health answers: started earlier, the custom bouncer never retries (REAL_PARTS.md).
start custom-bouncer "$CUSTOM_BOUNCER_BIN" -c "$BOUNCER_CONFIG"
BOUNCER_PID=$!

# ---- exporter + Prometheus ------------------------------------------------------------------------------------------
start exporter "$EXPORTER_BIN" --crowdsec.config "$WORK/config.yaml" --lapi.name demo \
  --bouncers.config-dir "$WORK/bouncers" --web.listen-address "127.0.0.1:$EXPORTER_PORT"
EXPORTER_PID=$!
wait_http "http://127.0.0.1:$EXPORTER_PORT/metrics" 15 || { alive_or_die exporter "$EXPORTER_PID"; die "exporter not up"; }

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - $REPO_DIR/alerts/crowdsec-bouncers.rules.yml
scrape_configs:
  - job_name: crowdsec-bouncer-exporter
    static_configs:
      - targets: ['127.0.0.1:$EXPORTER_PORT']
EOF
start prometheus "$PROMETHEUS_BIN" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT"
PROM_PID=$!
wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30 || { alive_or_die prometheus "$PROM_PID"; die "Prometheus not ready"; }

cat <<EOF

CrowdSec bouncer exporter demo is running (logs in $WORK):
  exporter metrics    http://127.0.0.1:$EXPORTER_PORT/metrics
  Prometheus          http://127.0.0.1:$PROM_PORT/graph?g0.expr=crowdsec_bouncer_last_pull_age_seconds&g0.tab=1
  alert rules         http://127.0.0.1:$PROM_PORT/alerts  (offline/late fire after their 'for:' of 10 min)
  CrowdSec LAPI       http://127.0.0.1:$LAPI_PORT/health
  bouncers            $CSCLI_BIN -c $WORK/config.yaml bouncers list
  diagnose            $EXPORTER_BIN --crowdsec.config $WORK/config.yaml --bouncers.config-dir $WORK/bouncers diagnose
  Grafana             import dashboards/crowdsec-bouncers.json with a Prometheus datasource at http://127.0.0.1:$PROM_PORT
Stop with Ctrl-C.
EOF

# ---- run ----------------------------------------------------------------------------------------------------------------
START=$SECONDS
while :; do
  alive_or_die crowdsec "$CROWDSEC_PID"
  alive_or_die custom-bouncer "$BOUNCER_PID"
  alive_or_die exporter "$EXPORTER_PID"
  alive_or_die prometheus "$PROM_PID"
  if [[ -n "$EXIT_AFTER" ]] && (( SECONDS - START >= EXIT_AFTER )); then
    log "DEMO_EXIT_AFTER=$EXIT_AFTER reached"
    exit 0
  fi
  sleep 1
done
