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
          // 1 h: bouncer pull overdue
          { record: 'crowdsec:early_warning_threshold_seconds', expr: 'vector(%d)' % c.earlyWarningThresholdSeconds },
          // 24 h after registration/creation
          { record: 'crowdsec:never_pulled_grace_seconds', expr: 'vector(%d)' % c.neverPulledGraceSeconds },
          // 1 h: bouncers push usage metrics every ~15 min
          { record: 'crowdsec:usage_metrics_freshness_seconds', expr: 'vector(%d)' % c.usageMetricsFreshnessSeconds },
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
