#!/usr/bin/env bash
# End-to-end check of the recipe in tests/support/REAL_PARTS.md with the real Debian parts:
# LAPI alone (crowdsec -no-cs) on loopback + SQLite in a temp folder, cscli bouncers,
# crowdsec-custom-bouncer pulling every 2 s, a bouncer made 25 h stale, prometheus and
# alertmanager starting. Everything it starts is stopped on exit. Needs python3.
# Usage: scripts/real-parts-smoke.sh [--keep]   (--keep leaves the temp folder for reading)
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUPPORT="$REPO_DIR/tests/support"
"$REPO_DIR/scripts/fetch-parts.sh" >/dev/null
# shellcheck disable=SC1091
source "${PARTS_DIR:-$REPO_DIR/target/parts}/env.sh"
[[ -n "$PARTS_LD_LIBRARY_PATH" ]] && export LD_LIBRARY_PATH="$PARTS_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/cs-smoke.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${1:-}" == --keep ]]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap 'cleanup "${KEEP:-}"' EXIT
[[ "${1:-}" == --keep ]] && KEEP=--keep

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
render() { # TEMPLATE OUT
  sed -e "s|@DIR@|$DIR|g" -e "s|@LAPI_PORT@|${LAPI_PORT:-}|g" -e "s|@PROM_PORT@|${PROM_PORT:-}|g" \
      -e "s|@API_URL@|${API_URL:-}|g" -e "s|@API_KEY@|${API_KEY:-}|g" -e "s|@BIN_PATH@|${BIN_PATH:-}|g" "$1" > "$2"
}
wait_http() { # URL TIMEOUT_S -> prints seconds waited
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, limit = sys.argv[1], float(sys.argv[2]); t0 = time.monotonic()
while True:
    try:
        urllib.request.urlopen(url, timeout=0.5); print(f"{time.monotonic()-t0:.3f}"); break
    except Exception:
        if time.monotonic() - t0 > limit: sys.exit(f"timeout waiting for {url}")
        time.sleep(0.01)
PY
}
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True); [print(*r, sep="|") for r in c.execute(sys.argv[2])]' "$DIR/data/crowdsec.db" "$1"; }
ok() { echo "ok: $*"; }

LAPI_PORT=$(free_port); PROM_PORT=$(free_port)
mkdir -p "$DIR/data"
cp "$SUPPORT/profiles.yaml" "$DIR/profiles.yaml"
render "$SUPPORT/lapi-config.yaml.tmpl" "$DIR/config.yaml"
CSCLI=("$CSCLI_BIN" -c "$DIR/config.yaml")

"$CROWDSEC_BIN" -no-cs -c "$DIR/config.yaml" >"$DIR/lapi.out" 2>"$DIR/lapi.err" & PIDS+=($!)
t=$(wait_http "http://127.0.0.1:$LAPI_PORT/health" 15); ok "LAPI /health answered after ${t}s"
[[ "$(curl -s "http://127.0.0.1:$LAPI_PORT/health")" == '{"status":"up"}' ]] && ok "/health body {\"status\":\"up\"}"

{
  "${CSCLI[@]}" bouncers add pulling -k pulling-key-0001 -o raw >/dev/null
  "${CSCLI[@]}" bouncers add never-pulled -k never-key-0002 -o raw >/dev/null
  "${CSCLI[@]}" bouncers add stale -k stale-key-0003 -o raw >/dev/null
  "${CSCLI[@]}" machines add tester -p tester-password-1 >/dev/null
  "${CSCLI[@]}" decisions add --ip 192.0.2.7 --duration 1h --reason smoke >/dev/null
} 2>>"$DIR/cscli.err"
ok "3 bouncers, 1 machine, 1 decision added"

cat > "$DIR/on-decision.sh" <<SH
#!/bin/sh
echo "\$*" >> "$DIR/decisions.log"
SH
chmod +x "$DIR/on-decision.sh"
start_bouncer() { # NAME KEY
  API_URL="http://127.0.0.1:$LAPI_PORT/" API_KEY="$2" BIN_PATH="$DIR/on-decision.sh" \
    render "$SUPPORT/custom-bouncer.yaml.tmpl" "$DIR/$1.yaml"
  "$CUSTOM_BOUNCER_BIN" -c "$DIR/$1.yaml" >"$DIR/$1.out" 2>"$DIR/$1.err" & PIDS+=($!)
}
start_bouncer pulling pulling-key-0001
start_bouncer stale stale-key-0003; STALE_PID=${PIDS[-1]}
sleep 1
p1=$(sql "select last_pull from bouncers where name='pulling'")
sleep 4.2
p2=$(sql "select last_pull from bouncers where name='pulling'")
[[ "$p1" != "$p2" ]] || { echo "FAIL: last_pull did not move ($p1)"; exit 1; }
ok "last_pull moved: $p1 -> $p2"
grep -q '^add 192.0.2.7 ' "$DIR/decisions.log" && ok "bin_path got: $(head -c 60 "$DIR/decisions.log")..."
[[ "$(sql "select type||'/'||version from bouncers where name='pulling'")" == "crowdsec-custom-bouncer/-" ]] && ok "type/version crowdsec-custom-bouncer/-"

kill "$STALE_PID"; wait "$STALE_PID" 2>/dev/null || true
python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
with c: c.execute("UPDATE bouncers SET last_pull = strftime(\"%Y-%m-%d %H:%M:%f+00:00\",\"now\",\"-25 hours\") WHERE name = ?", ("stale",))' "$DIR/data/crowdsec.db"
"${CSCLI[@]}" bouncers list -o json 2>/dev/null > "$DIR/list.json"
python3 - "$DIR/list.json" <<'PY'
import json, re, sys, datetime as dt
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))}
m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z", rows["stale"]["last_pull"])
lp = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=dt.timezone.utc)
age = dt.datetime.now(dt.timezone.utc) - lp
assert dt.timedelta(hours=24, minutes=59) < age < dt.timedelta(hours=25, minutes=1), age
assert rows["never-pulled"]["type"] == "" and rows["never-pulled"]["last_pull"]
print(f"ok: cscli bouncers list -o json shows 'stale' last_pull {rows['stale']['last_pull']} (age {age})")
PY
[[ "$(sql 'pragma journal_mode')" == delete ]] && ok "journal_mode delete"

# prometheus + alertmanager from the extracted tree
P_PORT=$(free_port); A_PORT=$(free_port)
printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: crowdsec\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$PROM_PORT" > "$DIR/prometheus.yml"
"$PROMTOOL_BIN" check config "$DIR/prometheus.yml" >/dev/null
"$PROMETHEUS_BIN" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prom-data" \
  --web.listen-address="127.0.0.1:$P_PORT" --rules.alert.resend-delay=1s >"$DIR/prom.log" 2>&1 & PIDS+=($!)
t=$(wait_http "http://127.0.0.1:$P_PORT/-/ready" 15); ok "prometheus ready after ${t}s"
printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' > "$DIR/alertmanager.yml"
"$AMTOOL_BIN" check-config "$DIR/alertmanager.yml" >/dev/null
"$ALERTMANAGER_NS_WRAPPER" --config.file="$DIR/alertmanager.yml" --storage.path="$DIR/am-data" \
  --web.listen-address="127.0.0.1:$A_PORT" --cluster.listen-address= >"$DIR/am.log" 2>&1 & PIDS+=($!)
t=$(wait_http "http://127.0.0.1:$A_PORT/-/ready" 15); ok "alertmanager ready after ${t}s"
sleep 1
if grep -q 'default.tmpl' "$DIR/am.log"; then echo "FAIL: alertmanager template"; grep default.tmpl "$DIR/am.log"; exit 1; fi
ok "alertmanager loaded its config (default.tmpl found)"
echo "smoke: all ok"
