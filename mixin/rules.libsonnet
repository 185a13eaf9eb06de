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
        ],
      },
      // Each integration's offline threshold: the Community one where its organisation is on the Community tier,
      // else the plain one (also while /info never answered: no crowdsec_integration_subscription_info).
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
        ],
      },
      // Per (lapi, bouncer_base) aggregates the alerts share. `max by`/`min by` also merge the copies that two exporter
      // replicas scraping the same LAPI would produce. Prometheus runs groups concurrently, so an alert may see these one
      // evaluation interval late (the unit tests pin the order with group_eval_order).
      {
        name: "CrowdSecBouncerAggregates",
        rules: [
          // Age of the freshest row of a bouncer base that ever pulled.
          {
            record: "lapi_bouncer_base:crowdsec_bouncer_last_pull_age_seconds:min",
            expr: |||
              min by (lapi, bouncer_base) (
                  (
                      min by (lapi, bouncer) (crowdsec_bouncer_last_pull_age_seconds)
                    unless on (lapi, bouncer)
                      (crowdsec_bouncer_pulled == 0)
                  )
                * on (lapi, bouncer) group_left (bouncer_base)
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
            |||,
          },
          // Last pull time of every row that pulled, with its base and address (ip_address tells IPv4 from IPv6).
          {
            record: "lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max",
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
            record: "lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded",
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
          // Each device's (a row that pulled, not superseded) pull age when it sends no fresh usage metrics of its
          // own. A device's fresh usage metrics vouch for it alone, never for another host sharing the key. Kept per
          // row so that a deleted device keeps its own clock (CrowdSecBouncerDeletedWhileLate).
          {
            record: "lapi_bouncer:crowdsec_bouncer_device_last_pull_age_seconds:max",
            expr: |||
              max by (lapi, bouncer, bouncer_base) (
                  (
                      min by (lapi, bouncer) (crowdsec_bouncer_last_pull_age_seconds)
                    unless on (lapi, bouncer) (crowdsec_bouncer_pulled == 0)
                    unless on (lapi, bouncer) lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:superseded
                    unless on (lapi, bouncer)
                      (
                        time() - max by (lapi, bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds)
                          <= on () group_left () crowdsec:usage_metrics_freshness_seconds
                      )
                  )
                * on (lapi, bouncer) group_left (bouncer_base)
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
            |||,
          },
          // The age the offline and overdue alerts judge: the stalest device of the base without fresh usage metrics
          // of its own. Absent when every device sends fresh usage metrics.
          {
            record: "lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:max",
            expr: "max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_device_last_pull_age_seconds:max)",
          },
          // Each device's last pull time (ip_address aggregated away: a row's address changes when it first pulls).
          // The clock a deleted device keeps in Prometheus (last_over_time in CrowdSecBouncerDeletedWhileLate).
          {
            record: "lapi_bouncer:crowdsec_bouncer_device_last_pull_timestamp_seconds:max",
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
            record: "lapi_bouncer_base:crowdsec_bouncer_pulled_registered_timestamp_seconds:max",
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
            record: "lapi_bouncer_base:crowdsec_bouncer_last_pull_timestamp_seconds:max",
            expr: "max by (lapi, bouncer_base) (lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max)",
          },
          // Age of the newest usage-metrics push of any row of a bouncer base.
          {
            record: "lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:min",
            expr: |||
              min by (lapi, bouncer_base) (
                  (time() - max by (lapi, bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds))
                * on (lapi, bouncer) group_left (bouncer_base)
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
            |||,
          },
        ],
      },
    ],
  },
}
