#!/usr/bin/env bash
# The monitoring mixin (mixin/) is the source of alerts/ and dashboards/, and its thresholds move the alerts:
#   0. jsonnetfmt --test on every file of mixin/ (Debian's jsonnet package ships jsonnetfmt);
#   1. scripts/gen-mixin.sh --check: the committed files are exactly what the mixin generates;
#   2. the mixin built with bouncerOfflineThresholdSeconds and logProcessorOfflineThresholdSeconds 43200 (12 h)
#      instead of 86400: EVERY alert whose expression reads crowdsec:bouncer_offline_threshold_seconds,
#      crowdsec:integration_offline_threshold_seconds (which follows it by default, through each integration's
#      integration:crowdsec_integration_offline_threshold_seconds) or crowdsec:log_processor_offline_threshold_seconds
#      holds for a scenario 13 h stale and does not with the defaults. promtool
#      evaluates each alert's own expression (promql_expr_test, recording rules loaded) on the same input series;
#      the list of alerts comes from the generated rules, so an alert added later is covered or fails this check.
#      An alert "uses" a threshold when it reads it or a recording rule that does (the states of rules.libsonnet);
#   3. no dashboard query holds a threshold literal, and the 12 h build and a build with every threshold of _config
#      moved (the integrations' own, their Community margin and the grace included) have the very same dashboard
#      queries: the dashboards read the bouncer and integration states and the thresholds from the recording rules
#      (docs/monitoring-mixin.md);
#   4. every series selector of the rules, of the queries in their annotation templates and of the dashboards is
#      scoped by _config.exporterSelector;
#   5. every dashboard rate()/increase() across a 3-minute exporter restart with a counter reset: no false spike
#      (CHECK_MIXIN_RESTART_VALUES, default 0+10x16, is what the counters do after it: 5000+10x16, a backlog counted
#      again, fails the check).
# Needs jsonnet, python3, promtool (target/parts/env.sh, scripts/fetch-parts.sh, or $PROMTOOL_BIN).
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-mixin: $*" >&2; }
command -v jsonnetfmt >/dev/null || { log "needs jsonnetfmt (apt-get install jsonnet)"; exit 1; }
unformatted=()
for f in mixin/*.libsonnet mixin/*.jsonnet; do
  jsonnetfmt --test "$f" || unformatted+=("$f")
done
if ((${#unformatted[@]})); then
  log "not formatted (run: jsonnetfmt -i mixin/*.libsonnet mixin/*.jsonnet): ${unformatted[*]}"
  exit 1
fi
scripts/gen-mixin.sh --check
if [[ -z "${PROMTOOL_BIN:-}" ]]; then
  scripts/fetch-parts.sh >/dev/null
  # shellcheck disable=SC1091
  source target/parts/env.sh
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build() { # dir config
  mkdir -p "$1/alerts" "$1/dashboards"
  jsonnet -J mixin -S -m "$1" --tla-code "config=$2" mixin/build.jsonnet >/dev/null
}
build "$work/default" '{}'
build "$work/override" '{ bouncerOfflineThresholdSeconds: 43200, logProcessorOfflineThresholdSeconds: 43200 }'
build "$work/selector" '{ exporterSelector: "job=\"other\"" }'
# Every threshold of _config moved, the integrations' included (their own, the Community margin, the grace).
build "$work/thresholds" '{ bouncerOfflineThresholdSeconds: 43200, earlyWarningThresholdSeconds: 1800,
  neverPulledGraceSeconds: 7200, usageMetricsFreshnessSeconds: 1800, partialEnforcementRatio: 0.25,
  integrationOfflineThresholdSeconds: 50000, communityIntegrationMarginSeconds: 7200,
  logProcessorOfflineThresholdSeconds: 43200 }'

# Every expression of the rules, every query of the alerts' annotation templates ({{ with query "..." }}, printf
# formats piped to query) and every dashboard query is scoped by _config.exporterSelector: each raw series of the
# exporter (crowdsec_*, and Prometheus' up and scrape_duration_seconds of its target) starts with the selector, and a
# build with another selector holds no trace of the default one.
python3 - "$work" <<'EOF'
import glob, json, os, re, sys
work = sys.argv[1]
def exprs(root):
    out = []
    rules = __import__("yaml").safe_load(open(os.path.join(root, "alerts/crowdsec-bouncers.rules.yml")))
    for g in rules["groups"]:
        for r in g["rules"]:
            out.append((r.get("alert") or r.get("record"), r["expr"]))
            # The queries of the annotation templates: every string literal inside an action {{ ... }}, unescaped as
            # Go reads it (a raw `...` literal as it is), e.g. {{ with printf "max(crowdsec_bouncers{lapi=%q})" ... }}.
            for k, text in (r.get("annotations") or {}).items():
                for a in re.finditer(r"\{\{(.*?)\}\}", text, re.S):
                    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|`([^`]*)`', a.group(1)):
                        q = re.sub(r"\\(.)", r"\1", m.group(1)) if m.group(1) is not None else m.group(2)
                        out.append(("%s annotation %s" % (r["alert"], k), q))
    for f in sorted(glob.glob(os.path.join(root, "dashboards/*.json"))):
        d = json.load(open(f))
        def walk(v, at):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "expr" or (k == "query" and isinstance(x, str)):
                        out.append((os.path.basename(f) + " " + at, x))
                    else:
                        walk(x, at + "." + k)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    walk(x, "%s[%d]" % (at, i))
        walk(d["panels"], "panels")
        walk(d["templating"], "templating")
    return out
raw = re.compile(r"(?<![\w:])(crowdsec_\w+|up|scrape_duration_seconds)(?![\w:(])(\{[^}]*\})?")
bad, n = [], 0
for sel, root in (('job="crowdsec-bouncer-exporter"', os.path.join(work, "default")), ('job="other"', os.path.join(work, "selector"))):
    for where, e in exprs(root):
        for m in raw.finditer(e):
            n += 1
            if not (m.group(2) or "").startswith("{" + sel):
                bad.append("%s: %s not scoped by %s in %s" % (where, m.group(0), sel, e))
        if sel == 'job="other"' and "crowdsec-bouncer-exporter" in e:
            bad.append("%s: the default selector is written in: %s" % (where, e))
if bad:
    sys.exit("check-mixin: " + "\ncheck-mixin: ".join(bad[:20]))
assert n > 200, n
m = sum(1 for where, e in exprs(os.path.join(work, "default")) if " annotation " in where for _ in raw.finditer(e))
assert m > 20, m
print("check-mixin: %d series selectors in the rules, their annotation queries (%d) and the dashboards, every one scoped by exporterSelector" % (n, m), file=sys.stderr)
EOF
grep -qx '      - expr: "vector(43200)"' "$work/override/alerts/crowdsec-bouncers.rules.yml" \
  || { log "the override did not reach the threshold recording rule"; exit 1; }

# The dashboards read the states from the recording rules (lapi_bouncer:crowdsec_bouncer_state:code,
# integration:crowdsec_integration_state:code) and the threshold lines from group CrowdSecBouncerThresholds: no query
# holds a threshold (a number of 3+ digits, or a duration in hours/days), and builds with other thresholds have the
# very same queries.
python3 - "$work" <<'EOF'
import glob, json, os, re, sys
work = sys.argv[1]
literal = re.compile(r"(?<![\w.:\"$])\d{3,}(?![\w\"])|\b\d+[hd]\b")
def queries(d):
    out = []
    def walk(v, at):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("expr", "definition") and isinstance(x, str):
                    out.append((at + "." + k, x))
                elif k == "query" and isinstance(x, str) and at.startswith("templating"):
                    out.append((at + "." + k, x))
                else:
                    walk(x, at + "." + k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, "%s[%d]" % (at, i))
    for k in ("panels", "templating"):
        walk(d.get(k), k)
    return out
bad, n = [], 0
for f in sorted(glob.glob("dashboards/*.json")):
    got = queries(json.load(open(f)))
    n += len(got)
    for at, q in got:
        for m in literal.finditer(q):
            bad.append("%s %s: threshold literal %r in %s" % (f, at, m.group(0), q))
    for variant in ("override", "thresholds"):
        other = queries(json.load(open(os.path.join(work, variant, f))))
        if other != got:
            bad.append("%s: its queries change with the thresholds of build %s" % (f, variant))
assert n > 50, n
if bad:
    sys.exit("check-mixin: " + "\ncheck-mixin: ".join(bad))
print("check-mixin: %d dashboard queries, none holds a threshold" % n, file=sys.stderr)
EOF

# One scenario where every threshold-bound alert can hold: two bouncers (one firewall) whose last pull is 13 h old,
# the other one's config invalid, and two integrations (remediation component, firewall) 13 h without a pull.
python3 - "$work" <<'EOF'
import json, re, subprocess, sys
work = sys.argv[1]
rules = subprocess.run(["jsonnet", "-J", "mixin", "-e",
                        "local m = import 'mixin.libsonnet'; m.prometheusAlerts.groups"],
                       check=True, capture_output=True, text=True).stdout
alerts = [r for g in json.loads(rules) for r in g["rules"]]
records = subprocess.run(["jsonnet", "-J", "mixin", "-e",
                          "local m = import 'mixin.libsonnet'; m.prometheusRules.groups"],
                         check=True, capture_output=True, text=True).stdout
records = [r for g in json.loads(records) for r in g["rules"]]
# An alert uses the offline threshold when its expression reads it, or reads a recording rule that does (the states
# of rules.libsonnet, e.g. ...:offline): the names that depend on it, to a fixed point.
names = {"crowdsec:bouncer_offline_threshold_seconds", "crowdsec:integration_offline_threshold_seconds",
         "crowdsec:log_processor_offline_threshold_seconds"}
def reads(expr, names):
    return any(re.search(r"(?<![\w:])" + re.escape(n) + r"(?![\w:])", expr) for n in names)
grown = True
while grown:
    grown = False
    for r in records:
        if r["record"] not in names and reads(r["expr"], names):
            names.add(r["record"]); grown = True
moved = [a for a in alerts if reads(a["expr"], names)]
assert len(moved) >= 6, [a["alert"] for a in moved]
age = "46800x30"  # 13 h: above 12 h, below 24 h
iid_rc, iid_fw = "a" * 24, "b" * 24
series = [
    ('crowdsec_bouncer_info{lapi="l",bouncer="fw",bouncer_base="fw",bouncer_type="crowdsec-firewall-bouncer"}', "1x30"),
    ('crowdsec_bouncer_info{lapi="l",bouncer="ng",bouncer_base="ng",bouncer_type="crowdsec-nginx-bouncer"}', "1x30"),
    ('crowdsec_bouncer_last_pull_age_seconds{lapi="l",bouncer="fw"}', age),
    ('crowdsec_bouncer_last_pull_age_seconds{lapi="l",bouncer="ng"}', age),
    ('crowdsec_bouncer_pulled{lapi="l",bouncer="fw"}', "1x30"),
    ('crowdsec_bouncer_pulled{lapi="l",bouncer="ng"}', "1x30"),
    ('crowdsec_bouncers{lapi="l"}', "2x30"),
    ('crowdsec_bouncer_config_valid{path="/etc/crowdsec/bouncers/ng.conf",bouncer="ng"}', "0x30"),
    (f'crowdsec_integration_info{{integration_id="{iid_rc}",integration="rc",entity_type="remediation_component_integration",output_format="remediation_component"}}', "1x30"),
    (f'crowdsec_integration_info{{integration_id="{iid_fw}",integration="fw",entity_type="firewall_integration",output_format="plain_text"}}', "1x30"),
    (f'crowdsec_integration_last_pull_age_seconds{{integration_id="{iid_rc}",integration="rc"}}', age),
    (f'crowdsec_integration_last_pull_age_seconds{{integration_id="{iid_fw}",integration="fw"}}', age),
    (f'crowdsec_integration_pulled{{integration_id="{iid_rc}"}}', "1x30"),
    (f'crowdsec_integration_pulled{{integration_id="{iid_fw}"}}', "1x30"),
    # A late bouncer (13 h) whose row is deleted at 5m: CrowdSecBouncerDeletedWhileLate from Prometheus' memory.
    ('crowdsec_bouncer_info{lapi="l",bouncer="gone",bouncer_base="gone",bouncer_type="crowdsec-nginx-bouncer",ip_address="192.0.2.1"}', "1x5 stale"),
    ('crowdsec_bouncer_pulled{lapi="l",bouncer="gone"}', "1x5 stale"),
    ('crowdsec_bouncer_last_pull_age_seconds{lapi="l",bouncer="gone"}', "46800+60x5 stale"),
    ('crowdsec_bouncer_last_pull_timestamp_seconds{lapi="l",bouncer="gone"}', "-46800x5 stale"),
    # A log processor whose last heartbeat is 13 h old (logProcessorOfflineThresholdSeconds moved with it).
    ('crowdsec_machine_last_heartbeat_age_seconds{lapi="l",machine="agent"}', age),
    # bouncers_autodelete of about 14 h: shorter than the default 24 h (fires), longer than 12 h (silent).
    ('crowdsec_lapi_bouncers_autodelete_seconds{lapi="l",auth_type="api-key"}', "50000x30"),
]
# The exporter's scrape job, as the rules' selector (_config.exporterSelector) requires.
series = [(s.replace("{", '{job="crowdsec-bouncer-exporter",', 1), v) for s, v in series]
# Alerts that fire when the threshold is LONGER than a setting: they fire by default and not with the override.
inverse = {"CrowdSecBouncersAutodeleteShort"}
for variant, fires in (("override", True), ("default", False)):
    test = {
        "rule_files": [f"{work}/{variant}/alerts/crowdsec-bouncers.rules.yml"],
        "evaluation_interval": "1m",
        # Aggregates read the threshold group's output: evaluate in file order, as the shipped tests do.
        "group_eval_order": ["CrowdSecBouncerThresholds", "CrowdSecBouncerAggregates",
                             "CrowdSecIntegrationAggregates"],
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "promql_expr_test": [
                {"expr": f"count({a['expr']}) > 0", "eval_time": "20m",
                 "exp_samples": [{"labels": "{}", "value": 1}] if fires != (a["alert"] in inverse) else []}
                for a in moved
            ],
        }],
    }
    # YAML is a superset of JSON: promtool reads this as it is.
    open(f"{work}/{variant}.test.yml", "w").write(json.dumps(test, indent=1))
print(" ".join(a["alert"] for a in moved))
EOF
# The dashboards' rates across an exporter restart (issue 22): every rate()/increase() query, variables at All and
# $__rate_interval at Grafana's 4 scrape intervals, on counters that grow 10 a minute, vanish at 70m for 3 minutes
# (staleness) and start again from 0 (a counter reset), evaluated by promtool (Prometheus' own engine): the rate never
# exceeds 1.25x the truth over the 30 minutes around the restart (no false spike), and the query has data after it.
python3 - "$work" "${CHECK_MIXIN_RESTART_VALUES:-0+10x16}" <<'EOF'
import glob, json, re, sys
work, after = sys.argv[1], sys.argv[2]
L = 'job="crowdsec-bouncer-exporter",instance="exporter:10423",lapi="local",bouncer="web",origin="crowdsec",remediation="ban",ip_type="ipv4",source="lapi_db",name="local",reason="timeout"'
vals = {"$job": ".*", "$instance": ".*", "$lapi": ".*", "$bouncer": ".*", "$__rate_interval": "4m"}
tests, counters = [], set()
for f in sorted(glob.glob("dashboards/*.json")):
    for p in json.load(open(f))["panels"]:
        for t in p.get("targets", []):
            q = t["expr"]
            if "rate(" not in q and "increase(" not in q:
                continue
            for k, v in vals.items():
                q = q.replace(k, v)
            counters.update(re.findall(r"crowdsec_\w+_total", q))
            bound = 50 if "increase(" in q else 1.25 * 10 / 60
            tests.append({"expr": "count(max_over_time((%s)[30m:1m]) > %g)" % (q, bound), "eval_time": "89m", "exp_samples": []})
            tests.append({"expr": "count((%s) > 0)" % q, "eval_time": "80m", "exp_samples": [{"labels": "{}", "value": 1}]})
assert len(tests) >= 16, len(tests)
series = [{"series": "%s{%s}" % (c, L), "values": "1000+10x69 stale _x2 " + after} for c in sorted(counters)]
test = {"rule_files": [], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}]}
open(work + "/rates.test.yml", "w").write(json.dumps(test, indent=1))
print("check-mixin: %d rate/increase queries over %d counters across a restart" % (len(tests) // 2, len(counters)), file=sys.stderr)
EOF
"$PROMTOOL_BIN" test rules "$work/rates.test.yml" >"$work/rates.out" 2>&1 \
  || { cat "$work/rates.out" >&2; log "a dashboard rate spikes (or has no data) across an exporter restart"; exit 1; }

"$PROMTOOL_BIN" test rules "$work/override.test.yml" >"$work/override.out" 2>&1 \
  || { cat "$work/override.out" >&2; log "an alert using the offline threshold does not follow bouncerOfflineThresholdSeconds=43200"; exit 1; }
"$PROMTOOL_BIN" test rules "$work/default.test.yml" >"$work/default.out" 2>&1 \
  || { cat "$work/default.out" >&2; log "with the default threshold (24 h) an alert holds for a 13 h old pull"; exit 1; }
log "bouncerOfflineThresholdSeconds=43200 moves every alert that uses it; the default 86400 keeps them silent at 13 h"
log "ok"
