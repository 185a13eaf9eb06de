#!/usr/bin/env bash
# The monitoring mixin (mixin/) is the source of alerts/ and dashboards/, and its thresholds move the alerts:
#   1. scripts/gen-mixin.sh --check: the committed files are exactly what the mixin generates;
#   2. the mixin built with bouncerOfflineThresholdSeconds and logProcessorOfflineThresholdSeconds 43200 (12 h)
#      instead of 86400: EVERY alert whose expression reads crowdsec:bouncer_offline_threshold_seconds,
#      crowdsec:integration_offline_threshold_seconds (which follows it by default, through each integration's
#      integration:crowdsec_integration_offline_threshold_seconds) or crowdsec:log_processor_offline_threshold_seconds
#      holds for a scenario 13 h stale and does not with the defaults. promtool
#      evaluates each alert's own expression (promql_expr_test, recording rules loaded) on the same input series;
#      the list of alerts comes from the generated rules, so an alert added later is covered or fails this check.
# Needs jsonnet, python3, promtool (target/parts/env.sh, scripts/fetch-parts.sh, or $PROMTOOL_BIN).
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-mixin: $*" >&2; }
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
grep -qx '      - expr: "vector(43200)"' "$work/override/alerts/crowdsec-bouncers.rules.yml" \
  || { log "the override did not reach the threshold recording rule"; exit 1; }

# One scenario where every threshold-bound alert can hold: two bouncers (one firewall) whose last pull is 13 h old,
# the other one's config invalid, and two integrations (remediation component, firewall) 13 h without a pull.
python3 - "$work" <<'EOF'
import json, re, subprocess, sys
work = sys.argv[1]
rules = subprocess.run(["jsonnet", "-J", "mixin", "-e",
                        "local m = import 'mixin.libsonnet'; m.prometheusAlerts.groups"],
                       check=True, capture_output=True, text=True).stdout
alerts = [r for g in json.loads(rules) for r in g["rules"]]
uses = re.compile(r"crowdsec:(bouncer|integration|log_processor)_offline_threshold_seconds"
                  r"|integration:crowdsec_integration_offline_threshold_seconds")
moved = [a for a in alerts if uses.search(a["expr"])]
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
"$PROMTOOL_BIN" test rules "$work/override.test.yml" >"$work/override.out" 2>&1 \
  || { cat "$work/override.out" >&2; log "an alert using the offline threshold does not follow bouncerOfflineThresholdSeconds=43200"; exit 1; }
"$PROMTOOL_BIN" test rules "$work/default.test.yml" >"$work/default.out" 2>&1 \
  || { cat "$work/default.out" >&2; log "with the default threshold (24 h) an alert holds for a 13 h old pull"; exit 1; }
log "bouncerOfflineThresholdSeconds=43200 moves every alert that uses it; the default 86400 keeps them silent at 13 h"
log "ok"
