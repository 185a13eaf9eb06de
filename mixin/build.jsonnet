// The files generated from the mixin, written by scripts/gen-mixin.sh (jsonnet -S -m, which ends each with a newline):
//   alerts/crowdsec-bouncers.rules.yml   prometheusRules + prometheusAlerts, with the header below
//   dashboards/<name>.json               grafanaDashboards
// Overrides for a local build: jsonnet --tla-code config='{ bouncerOfflineThresholdSeconds: 43200 }' ...
function(config={})
  local mixin = (import 'mixin.libsonnet') + { _config+:: config };
  local header = |||
    # GENERATED from mixin/ (mixin/mixin.libsonnet) by scripts/gen-mixin.sh: do not edit, change the mixin and run it.
    # Prometheus alerting rules for crowdsec-bouncer-exporter (metric names: docs/metrics-contract.md).
    # Runbooks: docs/runbooks/<AlertName>.md. Tests: alerts/tests/ (promtool test rules). Check: scripts/check-alerts.sh.
    #
    # ---------------------------------------------------------------------------------------------------------------
    # THRESHOLDS: mixin/config.libsonnet (_config), or edit the vector(N) of group CrowdSecBouncerThresholds below in
    # your copy. That group holds one constant per threshold, as a recording rule `vector(SECONDS)`. Every alert
    # compares against these series (`> on () group_left () crowdsec:..._seconds`), so a single edited line changes
    # every alert that uses it. Defaults follow the CrowdSec Console:
    #   crowdsec:bouncer_offline_threshold_seconds      86400  "offline" = no pull for more than 24 h (critical)
    #   crowdsec:integration_offline_threshold_seconds  = the bouncer one unless you replace it with its own vector(N)
    #   crowdsec:community_integration_offline_threshold_seconds = the integration one + 21600 (6 h margin) for the
    #                                                    integrations of a Community-tier organisation (1 pull / 24 h)
    #   crowdsec:log_processor_offline_threshold_seconds 86400  log processor (machine) without heartbeat for 24 h
    #   crowdsec:early_warning_threshold_seconds         3600  no pull for more than 1 h (warning)
    #   crowdsec:never_pulled_grace_seconds             86400  registered but never pulled for more than 24 h (warning)
    #   crowdsec:usage_metrics_freshness_seconds         3600  usage metrics newer than this = the bouncer is alive
    # `for:` durations stay short (5m-30m): an alert fires at threshold + for (e.g. 24 h + 10 m).
    #
    # How "offline" is decided for a LAPI bouncer:
    #   * rows are grouped by bouncer_base (registered name without a trailing "@<ip>"): CrowdSec >= 1.6.4 creates a new
    #     row "<name>@<ip>" when a bouncer shows up from a new IP and the old row goes stale forever. Only the FRESHEST
    #     row of a base counts, so an abandoned row never pages on its own;
    #   * a row that never pulled (crowdsec_bouncer_pulled == 0) is left to CrowdSecBouncerNeverPulled;
    #   * a bouncer that sent usage metrics within crowdsec:usage_metrics_freshness_seconds is alive: a live-mode bouncer
    #     (nginx/openresty/apache/traefik default) only pulls when its site gets traffic. The metrics carry no mode, so
    #     this applies to any bouncer that sends usage metrics (CrowdSec >= 1.6.3 and recent bouncers);
    #   * bouncers of type crowdsec-firewall-bouncer get their own alert name, CrowdSecFirewallBouncerOffline.
    # ---------------------------------------------------------------------------------------------------------------
  |||;
  {
    'alerts/crowdsec-bouncers.rules.yml': header + std.manifestYamlDoc(
      { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
      indent_array_in_object=true,
      quote_keys=false,
    ),
  } + {
    ['dashboards/' + name]: std.manifestJsonEx(mixin.grafanaDashboards[name], '  ')
    for name in std.objectFields(mixin.grafanaDashboards)
  }
