#!/usr/bin/env python3
"""Generates the Grafana dashboards and the Kubernetes files derived from other files of the repo:

  dashboards/crowdsec-bouncers.json              overview (every bouncer and integration, exporter health)
  dashboards/crowdsec-bouncer-detail.json        one bouncer
  examples/kubernetes/prometheusrule.yaml        alerts/crowdsec-bouncers.rules.yml wrapped in a PrometheusRule
  examples/kubernetes/grafana-dashboards.yaml    the dashboards in a ConfigMap (Grafana sidecar label)
  examples/alertmanager.yml                      a copy of alerts/alertmanager.example.yml (for docker-compose)

  scripts/gen-examples.py          write them
  scripts/gen-examples.py --check  exit 1 if a file differs from what would be written (scripts/check-examples.sh)

Written by code so that panel ids and grid positions stay consistent; edit this file, not the outputs.
No dependency beyond python3.
"""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNBOOKS = "https://github.com/crowdsec-bouncer-exporter/crowdsec-bouncer-exporter/blob/main/docs/runbooks/"
DS = {"type": "prometheus", "uid": "${datasource}"}

# Label filters. `lapi` and `bouncer` use regex matchers: "All" is `.*`, which also matches series without the label.
F = 'job=~"$job",instance=~"$instance"'
FL = F + ',lapi=~"$lapi"'
FB = FL + ',bouncer=~"$bouncer"'
KEY = "job, instance, lapi, bouncer"

# Thresholds come from the alert rules' recording rules (alerts/crowdsec-bouncers.rules.yml), so a changed threshold
# changes the dashboards too; the `or vector(...)` default (the rules' own default) applies where they are not loaded.
EARLY = "scalar(crowdsec:early_warning_threshold_seconds or vector(3600))"
OFFLINE = "scalar(crowdsec:bouncer_offline_threshold_seconds or vector(86400))"


def age(f=FB):
    return f"crowdsec_bouncer_last_pull_age_seconds{{{f}}}"


def pulled(f=FB, v=1):
    return f"(crowdsec_bouncer_pulled{{{f}}} == {v})"


FRESH = "scalar(crowdsec:usage_metrics_freshness_seconds or vector(3600))"


def branch(value, expr, runbook=""):
    return f'label_replace({value} + 0 * {expr}, "runbook", "{runbook}", "", "")'


GRACE = "scalar(crowdsec:never_pulled_grace_seconds or vector(86400))"
BKEY = "job, instance, lapi, bouncer_base"

# The state column: the verdict of src/verdict.rs (one judgement with the alert rules, README "How it reads"), in
# PromQL, per registered row. A bouncer base (the rows of one bouncer: its name and its `<name>@<ip>` rows) is judged
# on ALL its rows, whatever the $bouncer filter: its pull age is its freshest pulled row's, its usage metrics are
# fresh when any row's are. Then each row shows:
#   0 ok, 1 late, 2 offline, 4 alive by usage metrics: the verdict of its base (rows that pulled and are current);
#   5 superseded: it pulled, longer ago than the early warning, and another row of its base pulled since;
#   3 never pulled past the grace (CrowdSecBouncerNeverPulled fires for this row);
#   6 never pulled, no alert: in grace, another row of its base pulls, or no registration time (CrowdSec 1.4).
# Label `runbook` names the page of the alert the state leads to. Thresholds compare as in the rules (`>`, `<=`).
# tests/differential.rs checks this expression against `diagnose` on every scenario of its catalogue.
_INFO_ALL = f"max by ({KEY}, bouncer_base) (crowdsec_bouncer_info{{{FL}}})"
_ROWS = f"max by ({KEY}, bouncer_base) (crowdsec_bouncer_info{{{FB}}})"
_PULLED_AGE_ALL = f"(crowdsec_bouncer_last_pull_age_seconds{{{FL}}} unless on ({KEY}) (crowdsec_bouncer_pulled{{{FL}}} == 0))"
_BASE_AGE = f"min by ({BKEY}) ({_PULLED_AGE_ALL} * on ({KEY}) group_left (bouncer_base) {_INFO_ALL})"
_BASE_FRESH = (f"(min by ({BKEY}) ((time() - crowdsec_bouncer_last_usage_metrics_timestamp_seconds{{{FL}}})"
               f" * on ({KEY}) group_left (bouncer_base) {_INFO_ALL}) <= {FRESH})")
_BASE_FIREWALL = f'max by ({BKEY}) (crowdsec_bouncer_info{{{FL},bouncer_type="crowdsec-firewall-bouncer"}})'
_BASE_OK = f"({_BASE_AGE} <= {EARLY})"
_BASE_OFFLINE = f"(({_BASE_AGE} > {OFFLINE}) unless on ({BKEY}) {_BASE_FRESH})"
_BASE_STATE = (
    f"(\n"
    f"      {branch(0, _BASE_OK)}\n"
    f"    or {branch(1, f'((({_BASE_AGE} > {EARLY}) <= {OFFLINE}) unless on ({BKEY}) {_BASE_FRESH})', 'CrowdSecBouncerPullOverdue')}\n"
    f"    or {branch(2, f'({_BASE_OFFLINE} unless on ({BKEY}) {_BASE_FIREWALL})', 'CrowdSecBouncerOffline')}\n"
    f"    or {branch(2, f'({_BASE_OFFLINE} and on ({BKEY}) {_BASE_FIREWALL})', 'CrowdSecFirewallBouncerOffline')}\n"
    f"    or {branch(4, f'({_BASE_FRESH} unless on ({BKEY}) {_BASE_OK})')}\n"
    f"  )"
)
_ROW_PULLED = f"({age()} unless on ({KEY}) {pulled(v=0)}) * on ({KEY}) group_left (bouncer_base) {_ROWS}"
_ROW_FRESH = f"(time() - crowdsec_bouncer_last_usage_metrics_timestamp_seconds{{{FB}}} <= {FRESH})"
_SUPERSEDED = (f"((({_ROW_PULLED}) > {EARLY}) > on ({BKEY}) group_left () {_BASE_AGE}"
               f" unless on ({KEY}) {_ROW_FRESH})")
_NEVER = f"({pulled(v=0)} * on ({KEY}) group_left (bouncer_base) {_ROWS})"
_PAST_GRACE = f"({age()} > {GRACE})"
_NEVER_PAST = f"({_NEVER} and on ({KEY}) {_PAST_GRACE} unless on ({BKEY}) {_BASE_AGE})"
STATE = (
    f"max by ({KEY}, runbook) (\n"
    f"    (0 * (({_ROW_PULLED}) unless on ({KEY}) {_SUPERSEDED}) + on ({BKEY}) group_left (runbook) {_BASE_STATE})\n"
    f"  or {branch(5, _SUPERSEDED)}\n"
    f"  or {branch(4, f'({_NEVER} and on ({BKEY}) {_BASE_FRESH})')}\n"
    f"  or {branch(3, f'({_NEVER_PAST} unless on ({BKEY}) {_BASE_FRESH})', 'CrowdSecBouncerNeverPulled')}\n"
    f"  or {branch(6, f'({_NEVER} unless on ({BKEY}) {_BASE_FRESH} unless on ({KEY}) {_NEVER_PAST})')}\n"
    f")"
)


def state_count(*values):
    return "count(" + " or ".join(f"({STATE}) == {v}" for v in values) + ")"


STATE_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "ok", "color": "green", "index": 0},
            "1": {"text": "late", "color": "orange", "index": 1},
            "2": {"text": "offline", "color": "red", "index": 2},
            "3": {"text": "never pulled", "color": "purple", "index": 3},
            "4": {"text": "idle, alive", "color": "blue", "index": 4},
            "5": {"text": "superseded", "color": "text", "index": 5},
            "6": {"text": "never pulled, no alert", "color": "light-purple", "index": 6},
        },
    }
]
UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "down", "color": "red", "index": 0},
            "1": {"text": "up", "color": "green", "index": 1},
        },
    }
]
# Static colours of an age: the rules' default thresholds (1 h, 24 h). The State column follows the rules themselves.
AGE_THRESHOLDS = {
    "mode": "absolute",
    "steps": [
        {"color": "green", "value": None},
        {"color": "orange", "value": 3600},
        {"color": "red", "value": 86400},
    ],
}


def target(expr, ref, legend=None, instant=False, table=False):
    t = {"datasource": DS, "expr": expr, "refId": ref, "range": not instant, "instant": instant}
    if legend:
        t["legendFormat"] = legend
    if table:
        t["format"] = "table"
    return t


class Board:
    def __init__(self):
        self.panels = []
        self.next_id = 1

    def add(self, kind, title, pos, targets, description="", **extra):
        x, y, w, h = pos
        panel = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": targets,
        }
        panel.update(extra)
        self.next_id += 1
        self.panels.append(panel)
        return panel

    def row(self, title, y):
        self.panels.append(
            {
                "id": self.next_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self.next_id += 1


def stat(board, title, pos, expr, description, color="green", no_value="0", unit="none", mappings=None, legend=None):
    defaults = {
        "unit": unit,
        "noValue": no_value,
        "color": {"mode": "fixed", "fixedColor": color} if color else {"mode": "thresholds"},
        "thresholds": AGE_THRESHOLDS if unit == "s" else {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
        "mappings": mappings or [],
    }
    if mappings:
        defaults["color"] = {"mode": "thresholds"}
    return board.add(
        "stat",
        title,
        pos,
        [target(expr, "A", legend=legend, instant=True)],
        description,
        fieldConfig={"defaults": defaults, "overrides": []},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if (mappings or color is None) else "value",
            "graphMode": "none",
            "textMode": "auto",
            "justifyMode": "auto",
            "orientation": "auto",
        },
    )


def timeseries(board, title, pos, targets, description, unit="s", log=False, overrides=None):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0, "showPoints": "never", "spanNulls": False}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    return board.add(
        "timeseries",
        title,
        pos,
        targets,
        description,
        fieldConfig={
            "defaults": {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}},
            "overrides": overrides or [],
        },
        options={"legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull"]},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
    )


def threshold_line(name, color):
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": color}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
        ],
    }


def table(board, title, pos, targets, description, exclude, rename, overrides):
    return board.add(
        "table",
        title,
        pos,
        targets,
        description,
        fieldConfig={"defaults": {"custom": {"align": "auto", "filterable": True}}, "overrides": overrides},
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {k: True for k in exclude}, "renameByName": rename}},
        ],
    )


def by_name(name, *props):
    return {"matcher": {"id": "byName", "options": name}, "properties": list(props)}


def coloured_age(name):
    return by_name(
        name,
        {"id": "unit", "value": "s"},
        {"id": "thresholds", "value": AGE_THRESHOLDS},
        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
    )


def state_column(name):
    return by_name(
        name,
        {"id": "mappings", "value": STATE_MAPPINGS},
        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
    )


CONFIG_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "invalid", "color": "red", "index": 0},
            "1": {"text": "valid", "color": "green", "index": 1},
        },
    }
]


def config_column(name):
    return by_name(
        name,
        {"id": "mappings", "value": CONFIG_MAPPINGS},
        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
        {"id": "links", "value": [{"title": "Runbook CrowdSecBouncerConfigInvalid",
                                   "url": RUNBOOKS + "CrowdSecBouncerConfigInvalid.md", "targetBlank": True}]},
    )


def runbook_column(name):
    return by_name(
        name,
        {"id": "links", "value": [{"title": "Runbook ${__value.text}", "url": RUNBOOKS + "${__value.raw}.md",
                                   "targetBlank": True}]},
    )


def variable_query(name, label, query, multi=True, include_all=True, hide=0):
    v = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"var-{name}"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "current": {},
        "options": [],
        "hide": hide,
    }
    if include_all:
        v["allValue"] = ".*"
    return v


def templating(single_bouncer=False):
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {"text": "Prometheus", "value": "${DS_PROMETHEUS}"},
                "options": [],
                "hide": 0,
                "refresh": 1,
                "regex": "",
            },
            variable_query("job", "Job", "label_values(crowdsec_exporter_build_info, job)"),
            variable_query("instance", "Instance", 'label_values(crowdsec_exporter_build_info{job=~"$job"}, instance)'),
            variable_query("lapi", "LAPI", f"label_values(crowdsec_bouncer_info{{{F}}}, lapi)"),
            variable_query(
                "bouncer",
                "Bouncer",
                f"label_values(crowdsec_bouncer_info{{{FL}}}, bouncer)",
                multi=not single_bouncer,
                include_all=not single_bouncer,
            ),
        ]
    }


def dashboard(uid, title, description, board, single_bouncer=False, links=()):
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "The Prometheus that scrapes crowdsec-bouncer-exporter",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "table", "name": "Table", "version": ""},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["crowdsec", "bouncer", "crowdsec-bouncer-exporter"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "annotations": {"list": []},
        "links": list(links),
        "panels": board.panels,
        "templating": templating(single_bouncer),
    }


DETAIL_URL = (
    "/d/crowdsec-bouncer-detail/crowdsec-bouncer-detail?${datasource:queryparam}&${job:queryparam}"
    "&${instance:queryparam}&var-lapi=${__data.fields.lapi}&var-bouncer=${__value.raw}"
)


def overview():
    b = Board()
    b.row("Bouncers (LAPI)", 0)
    stat(b, "Registered", (0, 1, 4, 4), f"count(crowdsec_bouncer_info{{{FB}}})",
         "Registered bouncer rows (as `cscli bouncers list`).", color="blue")
    stat(b, "OK", (4, 1, 4, 4), state_count(0, 4),
         "Pulled within the early-warning threshold (crowdsec:early_warning_threshold_seconds, default 1 h), or "
         "idle but alive: usage metrics fresher than crowdsec:usage_metrics_freshness_seconds (a live-mode bouncer "
         "on a site without traffic pulls only on requests).")
    stat(b, "Late", (8, 1, 4, 4), state_count(1),
         "Last pull older than the early-warning threshold (default 1 h), younger than the offline one (24 h).",
         color="orange")
    stat(b, "Offline", (12, 1, 4, 4), state_count(2),
         "Last pull beyond crowdsec:bouncer_offline_threshold_seconds (default 24 h, the Console's 'offline').",
         color="red")
    stat(b, "Never pulled", (16, 1, 4, 4), state_count(3, 6),
         "Registered rows that never pulled decisions: past the grace (crowdsec:never_pulled_grace_seconds, default "
         "24 h, an alert fires) or not (in grace, another row of the bouncer pulls, or CrowdSec 1.4 keeps no "
         "registration time).", color="purple")
    stat(b, "Integrations", (20, 1, 4, 4), f"count(crowdsec_integration_info{{{F}}})",
         "Blocklist-as-a-Service integrations (only with a Service API key).", color="blue")
    table(
        b, "Bouncers", (0, 5, 24, 10),
        [
            target(f"max by ({KEY}, bouncer_type, version, auth_type, ip_address) (crowdsec_bouncer_info{{{FB}}})",
                   "A", instant=True, table=True),
            target(f"max by ({KEY}) ({age()})", "B", instant=True, table=True),
            target(STATE, "C", instant=True, table=True),
            target(f"min by (job, instance, bouncer) (crowdsec_bouncer_config_valid{{{F},bouncer=~\"$bouncer\",bouncer!=\"\"}})",
                   "D", instant=True, table=True),
        ],
        "One row per registered bouncer. State follows the alert rules' thresholds; the age colours are their "
        "defaults (orange from 1 h, red from 24 h). Config: its configuration file passes the exporter's checks "
        "(empty: no file found in --bouncers.config-dir). The bouncer name opens its detail dashboard; runbook "
        "opens the runbook of its alert.",
        exclude=["Time", "Value #A", "job"],
        rename={"Value #B": "Last pull age", "Value #C": "State", "Value #D": "Config", "bouncer_type": "type"},
        overrides=[
            coloured_age("Last pull age"),
            state_column("State"),
            config_column("Config"),
            runbook_column("runbook"),
            by_name("bouncer", {"id": "links", "value": [{"title": "Bouncer detail", "url": DETAIL_URL}]}),
        ],
    )
    timeseries(
        b, "Last pull age", (0, 15, 24, 9),
        [
            target(f"max by (lapi, bouncer) ({age()} and on ({KEY}) {pulled()})", "A", legend="{{lapi}} / {{bouncer}}"),
            target("crowdsec:early_warning_threshold_seconds or vector(3600)", "B", legend="late threshold"),
            target("crowdsec:bouncer_offline_threshold_seconds or vector(86400)", "C", legend="offline threshold"),
        ],
        "Seconds since each bouncer's last pull (log scale), with the alert thresholds. A saw-tooth is normal: "
        "it drops at every pull.",
        log=True,
        overrides=[threshold_line("late threshold", "orange"), threshold_line("offline threshold", "red")],
    )

    b.row("LAPI and bouncer configuration files", 24)
    stat(b, "LAPI health", (0, 25, 4, 8), f"max by (lapi) (crowdsec_lapi_up{{{FL}}})",
         "The LAPI answers GET /health (asked by the exporter, no key sent). Down: no bouncer can pull.",
         color=None, no_value="not checked", mappings=UP_MAPPINGS, legend="{{lapi}}")
    timeseries(
        b, "LAPI /health duration", (4, 25, 8, 8),
        [target(f"max by (lapi) (crowdsec_lapi_health_duration_seconds{{{FL}}})", "A", legend="{{lapi}}")],
        "Duration of the exporter's GET /health on each LAPI.",
    )
    table(
        b, "Bouncer configuration files", (12, 25, 12, 8),
        [
            target(f"min by (job, instance, path, bouncer) (crowdsec_bouncer_config_valid{{{F},bouncer=~\"$bouncer\"}})",
                   "A", instant=True, table=True),
            target(f"sum by (job, instance, path) (1 - crowdsec_bouncer_config_check{{{F}}})", "B", instant=True,
                   table=True),
        ],
        "Each file of --bouncers.config-dir with the exporter's checks (readable, parses, api_url, api_key, "
        "key_registered, lapi_reachable, ...). bouncer: the registered bouncer its key belongs to (empty: none). "
        "The failing checks are listed on the bouncer detail dashboard and by `crowdsec-bouncer-exporter diagnose`.",
        exclude=["Time", "job"],
        rename={"Value #A": "Config", "Value #B": "Failing checks"},
        overrides=[config_column("Config")],
    )

    b.row("Blocklist-as-a-Service integrations", 33)
    table(
        b, "Integrations by last pull", (0, 34, 16, 8),
        [
            target(f"max by (job, instance, integration_id, integration, entity_type, output_format) "
                   f"(crowdsec_integration_info{{{F}}})", "A", instant=True, table=True),
            target(f"max by (job, instance, integration_id, integration) "
                   f"(crowdsec_integration_last_pull_age_seconds{{{F}}})", "B", instant=True, table=True),
            target(f"max by (job, instance, integration_id, integration) "
                   f"(crowdsec_integration_blocklist_items{{{F}}})", "C", instant=True, table=True),
            target(f"max by (job, instance, integration_id, integration) "
                   f"(crowdsec_integration_blocklists{{{F}}})", "D", instant=True, table=True),
            target(f"max by (job, instance, integration_id, integration) "
                   f"(crowdsec_integration_pulled{{{F}}})", "E", instant=True, table=True),
        ],
        "From the CrowdSec Service API (exporter flag --service-api.key-file). 0 items = the Console's 'Pulling "
        "Zero IPs'. Age since the last pull (since creation when never pulled).",
        exclude=["Time", "Value #A", "job"],
        rename={"Value #B": "Last pull age", "Value #C": "Blocklist items", "Value #D": "Blocklists",
                "Value #E": "Pulled"},
        overrides=[
            coloured_age("Last pull age"),
            by_name("Pulled", {"id": "mappings", "value": [{"type": "value", "options": {
                "0": {"text": "never", "color": "purple", "index": 0},
                "1": {"text": "yes", "color": "green", "index": 1}}}]},
                    {"id": "custom.cellOptions", "value": {"type": "color-text"}}),
        ],
    )
    timeseries(
        b, "Blocklist items", (16, 34, 8, 8),
        [target(f"max by (integration) (crowdsec_integration_blocklist_items{{{F}}})", "A", legend="{{integration}}")],
        "Items each integration serves its devices.", unit="none",
    )

    b.row("Exporter", 42)
    stat(b, "Exporter up", (0, 43, 4, 6), f"up{{{F}}}", "Prometheus reaches the exporter (up).",
         color=None, no_value="no target", mappings=UP_MAPPINGS, legend="{{instance}}")
    stat(b, "Sources", (4, 43, 8, 6), f"max by (instance, source, name) (crowdsec_exporter_source_up{{{F}}})",
         "1 if the source's last read succeeded (lapi_db: the LAPI database, service_api: the Service API). On "
         "failure the last good data is still served.", color=None, no_value="no source", mappings=UP_MAPPINGS,
         legend="{{source}} {{name}}")
    timeseries(
        b, "Source read duration", (12, 43, 12, 6),
        [target(f"max by (instance, source, name) (crowdsec_exporter_source_duration_seconds{{{F}}})", "A",
                legend="{{source}} {{name}}")],
        "Duration of each source's last read.",
    )
    timeseries(
        b, "Source errors", (0, 49, 12, 6),
        [target(f"sum by (source, name, reason) (increase(crowdsec_exporter_source_errors_total{{{F}}}"
                f"[$__rate_interval]))", "A", legend="{{source}} {{name}}: {{reason}}")],
        "Failed reads by reason (missing_file, permission, locked, unauthorized, timeout, ...).", unit="none",
    )
    timeseries(
        b, "Scrape duration", (12, 49, 12, 6),
        [target(f"scrape_duration_seconds{{{F}}}", "A", legend="{{instance}}")],
        "How long Prometheus' scrape of the exporter took.",
    )
    return dashboard(
        "crowdsec-bouncers",
        "CrowdSec bouncers",
        "Every CrowdSec bouncer and Blocklist-as-a-Service integration: last pull, state, configuration files, LAPI "
        "health and the exporter's health "
        "(crowdsec-bouncer-exporter).",
        b,
        links=[{"title": "Bouncer detail", "type": "link", "url": "/d/crowdsec-bouncer-detail/crowdsec-bouncer-detail",
                "includeVars": True, "keepTime": True}],
    )


def detail():
    b = Board()
    stat(b, "State", (0, 0, 6, 5), STATE, "ok / late / offline / never pulled / idle but alive (fresh usage metrics) / superseded registration, as the alert rules judge it (README: How it reads).",
         color=None, no_value="unknown", mappings=STATE_MAPPINGS)
    stat(b, "Last pull", (6, 0, 6, 5), f"max({age()})",
         "Seconds since the last pull (since registration when it never pulled, CrowdSec 1.6+).", color=None,
         no_value="unknown", unit="s")
    stat(b, "Usage metrics", (12, 0, 6, 5),
         f"time() - max(crowdsec_bouncer_last_usage_metrics_timestamp_seconds{{{FB}}})",
         "Age of the newest usage-metrics push (CrowdSec 1.6.3+, about every 15 min). A live-mode bouncer on an "
         "idle site pulls only on traffic; fresh usage metrics show it is alive.", color=None, no_value="none sent",
         unit="s")
    stat(b, "Registered rows of this bouncer", (18, 0, 6, 5),
         f"count(crowdsec_bouncer_info{{{FL}}} and on (job, instance, lapi, bouncer_base) "
         f"crowdsec_bouncer_info{{{FB}}})",
         "Rows sharing its name before '@<ip>' (CrowdSec adds one per new IP from 1.6.4).", color="blue")
    table(
        b, "Registration", (0, 5, 24, 4),
        [target(f"max by (lapi, bouncer, bouncer_base, bouncer_type, version, auth_type, ip_address, os, auto_created,"
                f" revoked) (crowdsec_bouncer_info{{{FB}}})", "A", instant=True, table=True)],
        "crowdsec_bouncer_info: what the LAPI database holds for this bouncer.",
        exclude=["Time", "Value"], rename={"bouncer_type": "type"}, overrides=[],
    )
    timeseries(
        b, "Last pull age", (0, 9, 24, 9),
        [
            target(f"max by (bouncer) ({age()})", "A", legend="{{bouncer}}"),
            target("crowdsec:early_warning_threshold_seconds or vector(3600)", "B", legend="late threshold"),
            target("crowdsec:bouncer_offline_threshold_seconds or vector(86400)", "C", legend="offline threshold"),
        ],
        "Seconds since its last pull (log scale), with the alert thresholds.",
        log=True,
        overrides=[threshold_line("late threshold", "orange"), threshold_line("offline threshold", "red")],
    )
    table(
        b, "Rows of the same bouncer", (0, 18, 12, 7),
        [target(f"max by (lapi, bouncer) ({age(FL)}) * on (lapi, bouncer) group_left (bouncer_base) "
                f"(max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info{{{FL}}}) and on (lapi, bouncer_base) "
                f"crowdsec_bouncer_info{{{FB}}})", "A", instant=True, table=True)],
        "Every row of its bouncer_base (name@ip duplicates): the alerts only count the freshest.",
        exclude=["Time"], rename={"Value": "Last pull age"}, overrides=[coloured_age("Last pull age")],
    )
    timeseries(
        b, "Usage metrics age", (12, 18, 12, 7),
        [target(f"time() - max by (bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds{{{FB}}})", "A",
                legend="{{bouncer}}"),
         target("crowdsec:usage_metrics_freshness_seconds or vector(3600)", "B", legend="freshness threshold")],
        "Age of its newest usage-metrics push; under the freshness threshold the offline alerts stay silent.",
        overrides=[threshold_line("freshness threshold", "orange")],
    )
    table(
        b, "Configuration checks", (0, 25, 16, 8),
        [target(f"max by (path, check) (crowdsec_bouncer_config_check{{{F}}} and on (job, instance, path) "
                f"crowdsec_bouncer_config_valid{{{F},bouncer=~\"$bouncer\"}})", "A", instant=True, table=True)],
        "The checks of the configuration file whose key belongs to this bouncer (a warning counts as 0). "
        "`crowdsec-bouncer-exporter diagnose` prints the fix for each failed one.",
        exclude=["Time"], rename={"Value": "Result"},
        overrides=[by_name("Result", {"id": "mappings", "value": [{"type": "value", "options": {
            "0": {"text": "fail", "color": "red", "index": 0},
            "1": {"text": "pass", "color": "green", "index": 1}}}]},
            {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            {"id": "links", "value": [{"title": "Runbook CrowdSecBouncerConfigInvalid",
                                       "url": RUNBOOKS + "CrowdSecBouncerConfigInvalid.md", "targetBlank": True}]})],
    )
    stat(b, "LAPI health", (16, 25, 8, 8), f"max by (lapi) (crowdsec_lapi_up{{{FL}}})",
         "Its LAPI answers GET /health.", color=None, no_value="not checked", mappings=UP_MAPPINGS,
         legend="{{lapi}}")
    return dashboard(
        "crowdsec-bouncer-detail",
        "CrowdSec bouncer detail",
        "One CrowdSec bouncer: state, pull history, registration rows, usage-metrics liveness, configuration checks "
        "(crowdsec-bouncer-exporter).",
        b,
        single_bouncer=True,
        links=[{"title": "All bouncers", "type": "link", "url": "/d/crowdsec-bouncers/crowdsec-bouncers",
                "includeVars": True, "keepTime": True}],
    )


def dump_json(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def indent(text, n):
    pad = " " * n
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def prometheus_rule():
    rules = (REPO / "alerts/crowdsec-bouncers.rules.yml").read_text()
    return (
        "# GENERATED by scripts/gen-examples.py from alerts/crowdsec-bouncers.rules.yml: do not edit, run the script.\n"
        "# Prometheus Operator: picked up by a Prometheus whose ruleSelector matches these labels.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: crowdsec-bouncer-exporter\n"
        "  namespace: crowdsec\n"
        "  labels:\n"
        "    app.kubernetes.io/name: crowdsec-bouncer-exporter\n"
        "    release: prometheus\n"
        "spec:\n" + indent(rules, 2)
    )


def dashboards_configmap(boards):
    out = (
        "# GENERATED by scripts/gen-examples.py from dashboards/*.json: do not edit, run the script.\n"
        "# Grafana's dashboard sidecar (kube-prometheus-stack) loads ConfigMaps labelled grafana_dashboard=\"1\".\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: crowdsec-bouncer-dashboards\n"
        "  namespace: crowdsec\n"
        "  labels:\n"
        "    grafana_dashboard: \"1\"\n"
        "data:\n"
    )
    for name, text in boards:
        out += f"  {name}: |\n" + indent(text, 4)
    return out


def outputs():
    boards = [
        ("crowdsec-bouncers.json", dump_json(overview())),
        ("crowdsec-bouncer-detail.json", dump_json(detail())),
    ]
    files = {f"dashboards/{n}": t for n, t in boards}
    files["examples/kubernetes/prometheusrule.yaml"] = prometheus_rule()
    files["examples/kubernetes/grafana-dashboards.yaml"] = dashboards_configmap(boards)
    files["examples/alertmanager.yml"] = (
        "# GENERATED by scripts/gen-examples.py: a copy of alerts/alertmanager.example.yml, mounted by\n"
        "# examples/docker-compose.yml. Edit the original and run the script.\n"
        + (REPO / "alerts/alertmanager.example.yml").read_text()
    )
    return files


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for rel, text in outputs().items():
        path = REPO / rel
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("gen-examples: out of date (run scripts/gen-examples.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
