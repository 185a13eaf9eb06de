#!/usr/bin/env bash
# Check the alerting rules, their unit tests, the example Alertmanager config and the runbooks.
#
#   scripts/check-alerts.sh
#
# Runs, and exits non-zero if any of them fails:
#   1. promtool check rules alerts/*.rules.yml
#   2. promtool test rules alerts/tests/*.yml
#   3. amtool check-config alerts/alertmanager.example.yml, plus routing checks (amtool config routes test); and
#      alerts/tests/restart.test.yml run once per alert with keep_firing_for, that one removed: it must fail;
#   4. a lint of the rule files (python3, no dependency): names prefixed CrowdSec in CamelCase; every alert has
#      `for:`, label severity (critical|warning|info), a static summary ending with '.', a templated description
#      and runbook_url = <RUNBOOK_BASE>/<AlertName>.md whose file exists in docs/runbooks/, a dashboard_url to one
#      of the dashboards; no threshold literal in
#      an alert expression (thresholds live in group CrowdSecBouncerThresholds); every alert has a unit test that
#      expects it to fire and one that expects it silent; docs/runbooks/README.md links every runbook and every
#      runbook belongs to an alert. YAML is read with PyYAML (Debian's python3-yaml).
#
# promtool/amtool: $PROMTOOL_BIN/$AMTOOL_BIN if set, else target/parts/env.sh (written by scripts/fetch-parts.sh,
# which this script runs when env.sh is missing, unless CHECK_ALERTS_NO_FETCH=1), else promtool/amtool on PATH.
set -uo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR" || exit 1

log() { echo "check-alerts: $*" >&2; }

# ---- tools ------------------------------------------------------------------------------------------------------
if [[ -z "${PROMTOOL_BIN:-}" || -z "${AMTOOL_BIN:-}" ]]; then
  ENV_FILE="$REPO_DIR/target/parts/env.sh"
  if [[ ! -f "$ENV_FILE" && "${CHECK_ALERTS_NO_FETCH:-0}" != 1 && -x "$REPO_DIR/scripts/fetch-parts.sh" ]] \
     && ! { command -v promtool >/dev/null && command -v amtool >/dev/null; }; then
    log "target/parts/env.sh missing: running scripts/fetch-parts.sh"
    "$REPO_DIR/scripts/fetch-parts.sh" >/dev/null || { log "scripts/fetch-parts.sh failed"; exit 1; }
  fi
  if [[ -f "$ENV_FILE" ]]; then
    # shellcheck disable=SC1090
    source "$ENV_FILE"
  fi
fi
PROMTOOL_BIN="${PROMTOOL_BIN:-$(command -v promtool || true)}"
AMTOOL_BIN="${AMTOOL_BIN:-$(command -v amtool || true)}"
[[ -n "$PROMTOOL_BIN" && -x "$PROMTOOL_BIN" ]] || { log "promtool not found (run scripts/fetch-parts.sh or set PROMTOOL_BIN)"; exit 1; }
[[ -n "$AMTOOL_BIN" && -x "$AMTOOL_BIN" ]] || { log "amtool not found (run scripts/fetch-parts.sh or set AMTOOL_BIN)"; exit 1; }
command -v python3 >/dev/null || { log "python3 not found"; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { log "PyYAML not found (apt-get install python3-yaml)"; exit 1; }
if [[ -n "${PARTS_LD_LIBRARY_PATH:-}" ]]; then export LD_LIBRARY_PATH="$PARTS_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

shopt -s nullglob
RULE_FILES=(alerts/*.rules.yml)
TEST_FILES=(alerts/tests/*.yml)
AM_CONFIG=alerts/alertmanager.example.yml

passed=0
failed=0
step() { # name cmd...
  local name="$1"; shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1)); echo "-- ok: $name"
  else
    failed=$((failed + 1)); echo "-- FAILED: $name"
  fi
}

need_files() { ((${#RULE_FILES[@]})) && ((${#TEST_FILES[@]})) && [[ -f "$AM_CONFIG" ]]; }
if ! need_files; then
  log "missing files: need alerts/*.rules.yml, alerts/tests/*.yml and $AM_CONFIG"
  exit 1
fi

# ---- 1-3: Prometheus and Alertmanager's own tools ----------------------------------------------------------------
step "promtool check rules" "$PROMTOOL_BIN" check rules "${RULE_FILES[@]}"
step "promtool test rules" "$PROMTOOL_BIN" test rules "${TEST_FILES[@]}"
step "amtool check-config" "$AMTOOL_BIN" check-config "$AM_CONFIG"

# Each keep_firing_for is needed (issue 22): alerts/tests/restart.test.yml fails when one alert's keep_firing_for is
# removed, every alert that has one in turn (an alert added without a case of its own in the restart test fails here).
keep_firing_needed() {
  local tmp rc=0 alert
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/alerts/tests"
  cp alerts/tests/restart.test.yml "$tmp/alerts/tests/"
  while read -r alert; do
    python3 - "$alert" "$tmp/alerts/crowdsec-bouncers.rules.yml" <<'PYEOF'
import sys
alert, out = sys.argv[1], sys.argv[2]
lines, cur, kept = open("alerts/crowdsec-bouncers.rules.yml", encoding="utf-8").read().split("\n"), None, []
for line in lines:
    s = line.strip()
    if s.startswith(("- alert:", "- record:")):
        cur = s.split(":", 1)[1].strip().strip('"')
    if cur == alert and s.startswith("keep_firing_for:"):
        continue
    kept.append(line)
assert len(kept) == len(lines) - 1, alert
open(out, "w", encoding="utf-8").write("\n".join(kept))
PYEOF
    if "$PROMTOOL_BIN" test rules "$tmp/alerts/tests/restart.test.yml" >/dev/null 2>&1; then
      echo "restart.test.yml passes without the keep_firing_for of $alert: give it a case across the exporter gap"
      rc=1
    fi
  done < <(python3 -c '
import yaml
for g in yaml.safe_load(open("alerts/crowdsec-bouncers.rules.yml"))["groups"]:
    for r in g["rules"]:
        if "keep_firing_for" in r:
            print(r["alert"])')
  rm -rf "$tmp"
  return $rc
}
step "restart test needs every keep_firing_for" keep_firing_needed

routes() {
  local rc=0 expect labels
  while IFS='|' read -r expect labels; do
    [[ -z "$expect" ]] && continue
    # shellcheck disable=SC2086
    if ! "$AMTOOL_BIN" config routes test --config.file="$AM_CONFIG" --verify.receivers="$expect" $labels >/dev/null 2>&1; then
      echo "route: {$labels} does not reach $expect (got: $("$AMTOOL_BIN" config routes test --config.file="$AM_CONFIG" $labels 2>/dev/null))"
      rc=1
    fi
  done <<'EOF'
crowdsec-critical|alertname=CrowdSecBouncerOffline severity=critical lapi=local bouncer_base=nginx
crowdsec-critical|alertname=CrowdSecExporterDown severity=critical job=crowdsec-bouncer-exporter
crowdsec-warning|alertname=CrowdSecBouncerPullOverdue severity=warning lapi=local bouncer_base=nginx
crowdsec-warning|alertname=CrowdSecExporterSourceDown severity=warning source=lapi_db name=local lapi=local
crowdsec-info|alertname=CrowdSecIntegrationNoBlocklist severity=info integration=draft
default|alertname=SomethingElse severity=critical
EOF
  return $rc
}
step "alertmanager routing" routes

# ---- 4: lint ------------------------------------------------------------------------------------------------------
lint() {
  python3 - "${RULE_FILES[@]}" -- "${TEST_FILES[@]}" <<'PYEOF'
import os, re, sys

import yaml  # Debian's python3-yaml (PyYAML)

RUNBOOK_BASE = "https://github.com/crowdsec-bouncer-exporter/crowdsec-bouncer-exporter/blob/main/docs/runbooks/"
RUNBOOK_DIR = "docs/runbooks"
NAME_RE = re.compile(r"^CrowdSec(?:[A-Z][a-z0-9]*)+$")
SEVERITIES = {"critical", "warning", "info"}
THRESHOLD_GROUP = "CrowdSecBouncerThresholds"

errors = []
def err(msg):
    errors.append(msg)

def load(path):
    with open(path, encoding="utf-8") as f:
        try:
            return yaml.safe_load(f)
        except yaml.YAMLError as e:
            err("%s: not YAML: %s" % (path, e))
            return None

argv = sys.argv[1:]
sep = argv.index("--")
rule_files, test_files = argv[:sep], argv[sep + 1:]

alerts = {}
for rf in rule_files:
    doc = load(rf) or {}
    for g in doc.get("groups") or []:
        gname = g.get("name", "")
        if not NAME_RE.match(gname):
            err("%s: group %r: name must be CrowdSec + CamelCase" % (rf, gname))
        for r in g.get("rules") or []:
            if "alert" not in r:
                if gname != THRESHOLD_GROUP and str(r.get("expr", "")).strip().startswith("vector("):
                    err("%s: record %s is a constant outside group %s" % (rf, r.get("record"), THRESHOLD_GROUP))
                continue
            name = r["alert"]
            where = "%s: alert %s" % (rf, name)
            if not NAME_RE.match(name):
                err(where + ": name must be CrowdSec + CamelCase")
            if name in alerts:
                err(where + ": duplicate alert name")
            alerts[name] = r
            if gname == THRESHOLD_GROUP:
                err(where + ": alerts do not belong in " + THRESHOLD_GROUP)
            if not r.get("for"):
                err(where + ": no `for:` duration")
            labels = r.get("labels") or {}
            ann = r.get("annotations") or {}
            if labels.get("severity") not in SEVERITIES:
                err(where + ": label severity must be one of critical|warning|info, got %r" % labels.get("severity"))
            summary = ann.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                err(where + ": annotation summary missing")
            else:
                if not summary.rstrip().endswith("."):
                    err(where + ": summary must end with a period")
                if "{{" in summary:
                    err(where + ": summary must be static (no template)")
            desc = ann.get("description")
            if not isinstance(desc, str) or not desc.strip():
                err(where + ": annotation description missing")
            elif "{{" not in desc:
                err(where + ": description must be templated")
            url = ann.get("runbook_url")
            if url != RUNBOOK_BASE + name + ".md":
                err(where + ": runbook_url must be %s%s.md, got %r" % (RUNBOOK_BASE, name, url))
            elif not os.path.isfile(os.path.join(RUNBOOK_DIR, name + ".md")):
                err(where + ": runbook %s/%s.md does not exist" % (RUNBOOK_DIR, name))
            if "/d/crowdsec-bouncer" not in str(ann.get("dashboard_url", "")):
                err(where + ": annotation dashboard_url must link a dashboard of dashboards/ (mixin/links.libsonnet)")
            expr = str(r.get("expr", ""))
            if re.search(r"(?<![\w.:\"])\d{3,}(?![\w\"])|\b\d+[hd]\b", expr):
                err(where + ": threshold literal in expr; use the records of group " + THRESHOLD_GROUP)

if not alerts:
    err("no alert found in " + ", ".join(rule_files))

# every alert is tested firing and silent
fires, silent = set(), set()
for tf in test_files:
    doc = load(tf) or {}
    for t in doc.get("tests") or []:
        for a in t.get("alert_rule_test") or []:
            n = a.get("alertname")
            if a.get("exp_alerts"):
                fires.add(n)
            else:
                silent.add(n)
for name in sorted(alerts):
    if name not in fires:
        err("alert %s: no unit test expects it to fire" % name)
    if name not in silent:
        err("alert %s: no unit test expects it to stay silent" % name)
for n in sorted((fires | silent) - set(alerts)):
    err("tests name unknown alert %s" % n)

# runbooks: one per alert, all indexed
readme = os.path.join(RUNBOOK_DIR, "README.md")
index = open(readme, encoding="utf-8").read() if os.path.isfile(readme) else ""
if not index:
    err(readme + " missing")
rows = {m.group(1): (m.group(2), m.group(3)) for m in
        re.finditer(r"^\|\s*(CrowdSec\w+)\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|", index, re.M)}
for name in sorted(alerts):
    if "(%s.md)" % name not in index:
        err("%s does not link %s.md" % (readme, name))
    r = alerts[name]
    want = ((r.get("labels") or {}).get("severity"), str(r.get("for")))
    if rows.get(name) != want:
        err("%s: row of %s says severity/for %s, the rule says %s" % (readme, name, rows.get(name), want))
if os.path.isdir(RUNBOOK_DIR):
    for f in sorted(os.listdir(RUNBOOK_DIR)):
        if f.endswith(".md") and f != "README.md" and f[:-3] not in alerts:
            err("runbook %s/%s matches no alert" % (RUNBOOK_DIR, f))

for e in errors:
    print("lint: " + e)
print("lint: %d alerts, %d test files: %s"
      % (len(alerts), len(test_files), "%d problem(s)" % len(errors) if errors else "clean"))
sys.exit(1 if errors else 0)
PYEOF
}
step "lint rules, tests and runbooks" lint

echo "check-alerts: $passed passed, $failed failed"
((failed == 0))
