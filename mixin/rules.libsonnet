// Recording rules: group CrowdSecBouncerThresholds (one constant per threshold, from _config) and the per
// (lapi, bouncer_base) aggregates the alerts share. Transcribed from alerts/crowdsec-bouncers.rules.yml as it was
// hand-written; that file is now generated from here (mixin/README.md).
{
  prometheusRules+:: {
    local c = $._config,
    groups+: [
      {
        name: 'CrowdSecBouncerThresholds',
        rules: [
          // 24 h: bouncer offline, LAPI with no active bouncer
          { record: 'crowdsec:bouncer_offline_threshold_seconds', expr: 'vector(%d)' % c.bouncerOfflineThresholdSeconds },
          // follows the bouncer threshold unless integrationOfflineThresholdSeconds is set
          {
            record: 'crowdsec:integration_offline_threshold_seconds',
            expr: if c.integrationOfflineThresholdSeconds == null
            then 'crowdsec:bouncer_offline_threshold_seconds'
            else 'vector(%d)' % c.integrationOfflineThresholdSeconds,
          },
          // Community tier: the integration threshold plus a margin (config.libsonnet says why)
          {
            record: 'crowdsec:community_integration_offline_threshold_seconds',
            expr: if c.communityIntegrationOfflineThresholdSeconds == null
            then 'crowdsec:integration_offline_threshold_seconds + %d' % c.communityIntegrationMarginSeconds
            else 'vector(%d)' % c.communityIntegrationOfflineThresholdSeconds,
          },
          // 24 h: log processor offline (no heartbeat)
          { record: 'crowdsec:log_processor_offline_threshold_seconds', expr: 'vector(%d)' % c.logProcessorOfflineThresholdSeconds },
          // 1 h: bouncer pull overdue
          { record: 'crowdsec:early_warning_threshold_seconds', expr: 'vector(%d)' % c.earlyWarningThresholdSeconds },
          // 24 h after registration/creation
          { record: 'crowdsec:never_pulled_grace_seconds', expr: 'vector(%d)' % c.neverPulledGraceSeconds },
          // 1 h: bouncers push usage metrics every ~15 min
          { record: 'crowdsec:usage_metrics_freshness_seconds', expr: 'vector(%d)' % c.usageMetricsFreshnessSeconds },
          // 0.5: a bouncer holding less than half of its LAPI's IP decisions (of the origins it reports)
          { record: 'crowdsec:partial_enforcement_ratio', expr: 'vector(%s)' % c.partialEnforcementRatio },
        ],
      },
      // Each integration's offline threshold: the Community one where its organisation is on the Community tier,
      // else the plain one (also while /info never answered: no crowdsec_integration_subscription_info); then each
      // integration state, recorded once (issue 24), which the integration alerts and the overview dashboard read.
      {
        name: 'CrowdSecIntegrationAggregates',
        rules: [
          {
            record: 'integration:crowdsec_integration_offline_threshold_seconds',
            expr: |||
              (
                  max by (integration_id) (crowdsec_integration_subscription_info{tier="community"}) * 0
                + on () group_left () crowdsec:community_integration_offline_threshold_seconds
              )
              or
              (
                  max by (integration_id) (crowdsec_integration_info) * 0
                + on () group_left () crowdsec:integration_offline_threshold_seconds
              )
            |||,
          },
          // Every integration that pulled, with its entity type and output format: its last pull age.
          {
            record: 'integration:crowdsec_integration_last_pull_age_seconds:pulled',
            expr: |||
              (
                  min by (integration_id, integration) (crowdsec_integration_last_pull_age_seconds)
                unless on (integration_id)
                  (crowdsec_integration_pulled == 0)
              )
              * on (integration_id) group_left (entity_type, output_format)
                max by (integration_id, entity_type, output_format) (crowdsec_integration_info)
            |||,
          },
          // STATE "offline" of an integration (CrowdSecFirewallIntegrationOffline,
          // CrowdSecRemediationComponentIntegrationOffline): it pulled, longer ago than its own threshold (the
          // Community one on that tier). Value: its last pull age.
          {
            record: 'integration:crowdsec_integration_last_pull_age_seconds:offline',
            expr: |||
              integration:crowdsec_integration_last_pull_age_seconds:pulled
                > on (integration_id) group_left ()
                  integration:crowdsec_integration_offline_threshold_seconds
            |||,
          },
          // STATE "never pulled" of an integration (CrowdSecIntegrationNeverPulled): created longer than the grace
          // ago and no device pulled it. Value: its age since creation.
          {
            record: 'integration:crowdsec_integration_last_pull_age_seconds:never_pulled',
            expr: |||
              (
                  min by (integration_id, integration) (crowdsec_integration_last_pull_age_seconds)
                and on (integration_id)
                  (max by (integration_id) (crowdsec_integration_pulled) == 0)
              )
              * on (integration_id) group_left (entity_type, output_format)
                max by (integration_id, entity_type, output_format) (crowdsec_integration_info)
                > on () group_left () crowdsec:never_pulled_grace_seconds
            |||,
          },
          // STATE "pulling zero IPs" of a firewall integration (the Console's "Firewall Integration Pulling Zero
          // IPs", CrowdSecFirewallIntegrationPullingZeroIps): it pulled and its blocklists hold no item (Service API
          // stats.count = 0). Value: its last pull age.
          {
            record: 'integration:crowdsec_integration_last_pull_age_seconds:pulling_zero_ips',
            expr: |||
              integration:crowdsec_integration_last_pull_age_seconds:pulled{entity_type="firewall_integration"}
              and on (integration_id)
                (max by (integration_id) (crowdsec_integration_blocklist_items) == 0)
            |||,
          },
          // STATE "no blocklist" of an integration (CrowdSecIntegrationNoBlocklist): it subscribes to no blocklist.
          // Value: its last pull age (since creation when it never pulled).
          {
            record: 'integration:crowdsec_integration_last_pull_age_seconds:no_blocklist',
            expr: |||
              min by (integration_id, integration) (crowdsec_integration_last_pull_age_seconds)
              and on (integration_id)
                (max by (integration_id) (crowdsec_integration_blocklists) == 0)
            |||,
          },
          // Each integration's state, as the overview dashboard shows it (value = code, `runbook` = the alert it
          // leads to), in diagnose's order (src/crowdsec/verdict/judge.rs judge_integration): offline and never
          // pulled first, then pulling zero IPs (over no blocklist), then no blocklist:
          //   0 ok; 2 offline; 3 never pulled past the grace; 6 never pulled, in the grace (no alert);
          //   7 pulling zero IPs; 8 no blocklist (the codes 1, 4, 5 are bouncer states, the dashboards share one mapping).
          // An offline integration of an entity type CrowdSec does not document has no alert (runbook empty).
          // Composed from the states above only: no threshold here.
          {
            record: 'integration:crowdsec_integration_state:code',
            expr: |||
              max by (integration_id, integration, runbook) (
                  label_replace(
                    2 + 0 * integration:crowdsec_integration_last_pull_age_seconds:offline{entity_type="firewall_integration"},
                    "runbook", "CrowdSecFirewallIntegrationOffline", "", ""
                  )
                or
                  label_replace(
                    2 + 0 * integration:crowdsec_integration_last_pull_age_seconds:offline{entity_type="remediation_component_integration"},
                    "runbook", "CrowdSecRemediationComponentIntegrationOffline", "", ""
                  )
                or
                  label_replace(
                    2 + 0 * integration:crowdsec_integration_last_pull_age_seconds:offline{entity_type!~"firewall_integration|remediation_component_integration"},
                    "runbook", "", "", ""
                  )
                or
                  label_replace(
                    3 + 0 * integration:crowdsec_integration_last_pull_age_seconds:never_pulled,
                    "runbook", "CrowdSecIntegrationNeverPulled", "", ""
                  )
                or
                  label_replace(
                    7 + 0 * integration:crowdsec_integration_last_pull_age_seconds:pulling_zero_ips
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:offline,
                    "runbook", "CrowdSecFirewallIntegrationPullingZeroIps", "", ""
                  )
                or
                  label_replace(
                    8 + 0 * integration:crowdsec_integration_last_pull_age_seconds:no_blocklist
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:offline
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:never_pulled
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:pulling_zero_ips,
                    "runbook", "CrowdSecIntegrationNoBlocklist", "", ""
                  )
                or
                  label_replace(
                    6 + 0 * (
                        min by (integration_id, integration) (crowdsec_integration_last_pull_age_seconds)
                      and on (integration_id)
                        (max by (integration_id) (crowdsec_integration_pulled) == 0)
                    )
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:never_pulled
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:no_blocklist,
                    "runbook", "", "", ""
                  )
                or
                  label_replace(
                    0 * integration:crowdsec_integration_last_pull_age_seconds:pulled
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:offline
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:pulling_zero_ips
                    unless on (integration_id) integration:crowdsec_integration_last_pull_age_seconds:no_blocklist,
                    "runbook", "", "", ""
                  )
              )
            |||,
          },
        ],
      },
      // Per (lapi, bouncer_base) aggregates the alerts share. `max by`/`min by` also merge the copies that two exporter
      // replicas scraping the same LAPI would produce. Prometheus runs groups concurrently, so an alert may see these one
      // evaluation interval late (the unit tests pin the order with group_eval_order).
      {
        name: 'CrowdSecBouncerAggregates',
        rules: [
          // Every row that pulled, with its base: its last pull age.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:pulled',
            expr: |||
              (
                  min by (lapi, bouncer) (crowdsec_bouncer_last_pull_age_seconds)
                unless on (lapi, bouncer)
                  (crowdsec_bouncer_pulled == 0)
              )
              * on (lapi, bouncer) group_left (bouncer_base)
                max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
            |||,
          },
          // Age of the freshest row of a bouncer base that ever pulled.
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_last_pull_age_seconds:min',
            expr: 'min by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:pulled)',
          },
          // Last pull time of every row that pulled, with its base and address (ip_address tells IPv4 from IPv6).
          {
            record: 'lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max',
            expr: |||
              max by (lapi, bouncer) (crowdsec_bouncer_last_pull_timestamp_seconds)
              * on (lapi, bouncer) group_left (bouncer_base, ip_address)
                max by (lapi, bouncer, bouncer_base, ip_address) (crowdsec_bouncer_info)
            |||,
          },
          // Superseded rows (value: their last pull time), no device of their own. Either another row of the base
          // that pulled was created after this row's last pull: LAPI >= 1.6.4 creates `<base>@<ip>` when a key shows
          // up from an IP without a row (crowdsecurity/crowdsec pkg/apiserver/middlewares/v1/api_key.go `authPlain`,
          // v1.7.8), so the device moved (an IP change); rows whose sibling was created BEFORE their last pull pulled
          // side by side and are separate devices. Or a row of the other address family (IPv4/IPv6) pulled after
          // it: a dual-stack host flipping between its addresses keeps two rows (LAPI finds the old one again by
          // key and IP). Without registration times (CrowdSec < 1.6) only the second case applies.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded',
            expr: |||
              max by (lapi, bouncer, bouncer_base) (
                  lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max
                    < on (lapi, bouncer_base) group_left ()
                      max by (lapi, bouncer_base) (
                          (
                              max by (lapi, bouncer) (crowdsec_bouncer_registered_timestamp_seconds)
                            and on (lapi, bouncer) crowdsec_bouncer_last_pull_timestamp_seconds
                          )
                        * on (lapi, bouncer) group_left (bouncer_base)
                          max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
                      )
                or
                  lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max{ip_address!="",ip_address!~".*:.*"}
                    < on (lapi, bouncer_base) group_left ()
                      max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max{ip_address=~".*:.*"})
                or
                  lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max{ip_address=~".*:.*"}
                    < on (lapi, bouncer_base) group_left ()
                      max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max{ip_address!="",ip_address!~".*:.*"})
              )
            |||,
          },
          // STATE "alive by usage metrics" of a row: its own usage metrics are fresher than
          // crowdsec:usage_metrics_freshness_seconds (value: their age). A row's fresh metrics vouch for it alone,
          // never for another host sharing the key.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_usage_metrics_age_seconds:fresh',
            expr: |||
              time() - max by (lapi, bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds)
                <= on () group_left () crowdsec:usage_metrics_freshness_seconds
            |||,
          },
          // STATE "current" of a row: it pulled and is not superseded (a device), with its base.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:current',
            expr: |||
              lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:pulled
              unless on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded
            |||,
          },
          // Each device's pull age when it sends no fresh usage metrics of its own. Kept per row so that a deleted
          // device keeps its own clock (CrowdSecBouncerDeletedWhileLate).
          {
            record: 'lapi_bouncer:crowdsec_bouncer_device_last_pull_age_seconds:max',
            expr: |||
              max by (lapi, bouncer, bouncer_base) (
                  lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:current
                unless on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_usage_metrics_age_seconds:fresh
              )
            |||,
          },
          // The age the offline and overdue alerts judge: the stalest device of the base without fresh usage metrics
          // of its own. Absent when every device sends fresh usage metrics.
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:max',
            expr: 'max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_device_last_pull_age_seconds:max)',
          },
          // Each device's last pull time (ip_address aggregated away: a row's address changes when it first pulls).
          // The clock a deleted device keeps in Prometheus (last_over_time in CrowdSecBouncerDeletedWhileLate).
          {
            record: 'lapi_bouncer:crowdsec_bouncer_device_last_pull_timestamp_seconds:max',
            expr: |||
              max by (lapi, bouncer, bouncer_base) (
                  lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max
                unless on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded
              )
            |||,
          },
          // The newest registration time of a base's rows that pulled: a row created after a deleted device's last
          // pull is where that device went (an IP change, or its host re-registered and pulls again).
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_pulled_registered_timestamp_seconds:max',
            expr: |||
              max by (lapi, bouncer_base) (
                  (
                      max by (lapi, bouncer) (crowdsec_bouncer_registered_timestamp_seconds)
                    and on (lapi, bouncer) crowdsec_bouncer_last_pull_timestamp_seconds
                  )
                * on (lapi, bouncer) group_left (bouncer_base)
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
            |||,
          },
          // The base's last pull time: the clock a deleted registration keeps in Prometheus (last_over_time in the
          // deletion alerts), across exporter restarts.
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_last_pull_timestamp_seconds:max',
            expr: 'max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max)',
          },
          // Age of the newest usage-metrics push of any row of a bouncer base.
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:min',
            expr: |||
              min by (lapi, bouncer_base) (
                  (time() - max by (lapi, bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds))
                * on (lapi, bouncer) group_left (bouncer_base)
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
            |||,
          },
          // ---- The states: each judged here once, read by the alerts (alerts.libsonnet) and by the dashboards'
          // state column (lapi_bouncer:crowdsec_bouncer_state:code). The Rust twin, src/crowdsec/verdict (diagnose),
          // is held to them by tests/it/differential.rs. Values are ages, so an alert's $value is the age it judges.
          //
          // STATE "alive by usage metrics" of a base: its newest usage-metrics push is fresh (value: its age).
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh',
            expr: |||
              lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:min
                <= on () group_left () crowdsec:usage_metrics_freshness_seconds
            |||,
          },
          // STATE "late" of a base (CrowdSecBouncerPullOverdue): its judged age is past the early warning. Includes
          // "offline" (the warning keeps firing; Alertmanager inhibits it under the critical alert).
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:late',
            expr: |||
              lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:max
                > on () group_left () crowdsec:early_warning_threshold_seconds
            |||,
          },
          // STATE "offline" of a base (CrowdSecBouncerOffline, CrowdSecFirewallBouncerOffline).
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline',
            expr: |||
              lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:max
                > on () group_left () crowdsec:bouncer_offline_threshold_seconds
            |||,
          },
          // STATE "idle but alive" of a base: a device past the early warning that sends fresh usage metrics of its
          // own (a live-mode bouncer on a site without traffic pulls only on requests). Value: its pull age.
          {
            record: 'lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:alive_by_usage_metrics',
            expr: |||
              max by (lapi, bouncer_base) (
                  lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:current
                    > on () group_left () crowdsec:early_warning_threshold_seconds
                and on (lapi, bouncer)
                  lapi_bouncer:crowdsec_bouncer_usage_metrics_age_seconds:fresh
              )
            |||,
          },
          // STATE "never pulled" of a row (CrowdSecBouncerNeverPulled): registered longer than the grace ago, never
          // pulled, no row of its base pulled (it would work under another name@ip) and its base sends no fresh usage
          // metrics. Value: its age since registration. On CrowdSec < 1.6 (no registration time) it cannot hold.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:never_pulled',
            expr: |||
              (
                  min by (lapi, bouncer) (crowdsec_bouncer_last_pull_age_seconds)
                and on (lapi, bouncer)
                  (max by (lapi, bouncer) (crowdsec_bouncer_pulled) == 0)
              )
              * on (lapi, bouncer) group_left (bouncer_base)
                max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
                > on () group_left () crowdsec:never_pulled_grace_seconds
              unless on (lapi, bouncer_base)
                lapi_bouncer_base:crowdsec_bouncer_last_pull_age_seconds:min
              unless on (lapi, bouncer_base)
                lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh
            |||,
          },
          // Each registered row's state, as the dashboards show it (value = code, `runbook` = the alert it leads to):
          //   0 ok, 1 late, 2 offline, 4 idle but alive: the state of its base (rows that pulled and are current);
          //   5 superseded (a row that pulled and was replaced by a newer row of its base);
          //   3 never pulled past the grace (CrowdSecBouncerNeverPulled fires for this row);
          //   4 never pulled, its base alive by usage metrics;
          //   6 never pulled, no alert: in grace, another row of its base pulls, or no registration time (CrowdSec 1.4).
          // Composed from the states above only: no threshold here.
          {
            record: 'lapi_bouncer:crowdsec_bouncer_state:code',
            expr: |||
              max by (lapi, bouncer, bouncer_base, runbook) (
                  (
                      0 * lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:current
                    + on (lapi, bouncer_base) group_left (runbook)
                      (
                          label_replace(
                            0 * lapi_bouncer_base:crowdsec_bouncer_last_pull_age_seconds:min
                            unless on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:late
                            unless on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:alive_by_usage_metrics,
                            "runbook", "", "", ""
                          )
                        or
                          label_replace(
                            1 + 0 * lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:late
                            unless on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline,
                            "runbook", "CrowdSecBouncerPullOverdue", "", ""
                          )
                        or
                          label_replace(
                            2 + 0 * lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline
                            unless on (lapi, bouncer_base) crowdsec_bouncer_info{bouncer_type="crowdsec-firewall-bouncer"},
                            "runbook", "CrowdSecBouncerOffline", "", ""
                          )
                        or
                          label_replace(
                            2 + 0 * lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline
                            and on (lapi, bouncer_base) crowdsec_bouncer_info{bouncer_type="crowdsec-firewall-bouncer"},
                            "runbook", "CrowdSecFirewallBouncerOffline", "", ""
                          )
                        or
                          label_replace(
                            4 + 0 * lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:alive_by_usage_metrics
                            unless on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:late,
                            "runbook", "", "", ""
                          )
                      )
                  )
                or
                  label_replace(
                    5 + 0 * lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:pulled
                    and on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded,
                    "runbook", "", "", ""
                  )
                or
                  label_replace(
                    3 + 0 * lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:never_pulled,
                    "runbook", "CrowdSecBouncerNeverPulled", "", ""
                  )
                or
                  label_replace(
                    4 + 0 * (
                        (max by (lapi, bouncer) (crowdsec_bouncer_pulled) == 0)
                      * on (lapi, bouncer) group_left (bouncer_base)
                        max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
                    )
                    and on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh,
                    "runbook", "", "", ""
                  )
                or
                  label_replace(
                    6 + 0 * (
                        (max by (lapi, bouncer) (crowdsec_bouncer_pulled) == 0)
                      * on (lapi, bouncer) group_left (bouncer_base)
                        max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
                    )
                    unless on (lapi, bouncer_base) lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh
                    unless on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:never_pulled,
                    "runbook", "", "", ""
                  )
              )
            |||,
          },
        ],
      },
    ],
  },
}
