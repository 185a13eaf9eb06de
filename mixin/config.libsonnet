// Every knob of the mixin. Override with: (import 'mixin.libsonnet') + { _config+:: { bouncerOfflineThresholdSeconds: 43200 } }
{
  _config+:: {
    // Thresholds, in seconds. They become the recording rules of group CrowdSecBouncerThresholds, which every alert
    // and dashboard reads, so one value moves every alert that uses it. Defaults follow the CrowdSec Console.
    bouncerOfflineThresholdSeconds: 86400,  // "offline": no pull for more than 24 h (critical)
    earlyWarningThresholdSeconds: 3600,  // "late": no pull for more than 1 h (warning)
    neverPulledGraceSeconds: 86400,  // registered (or created) but never pulled for more than 24 h (warning)
    usageMetricsFreshnessSeconds: 3600,  // usage metrics newer than this: the bouncer is alive
    // CrowdSecBouncerEnforcesPartially: a bouncer whose newest usage report holds fewer than this share of its LAPI's
    // IP decisions (scope Ip/Range, distinct values) of the origins it reports. Half: the LAPI side is an upper
    // bound (a value held by two origins counts under each); docs/decisions.md.
    partialEnforcementRatio: 0.5,
    // Blocklist-as-a-Service integrations; null follows bouncerOfflineThresholdSeconds (a Community device pulls
    // exactly once a day, so some raise it).
    integrationOfflineThresholdSeconds: null,
    // Integrations of a Community-tier organisation (Service API GET /info subscription_type "community" or "free",
    // exported as crowdsec_integration_subscription_info{tier="community"}): their devices may pull at most once per
    // 24 h (crowdsec-docs u/integrations/intro, "Refresh frequency": Community, minimum allowed interval 24 hours,
    // HTTP 429 sooner), so a device set to that minimum sits on the 24 h threshold and the alert would fire on one
    // 10 minutes late. They get the integration threshold plus this margin: 6 h (a quarter of the interval) absorbs
    // a late cron run, a reboot or a pull refused for coming early and retried on a later run, while a device that
    // missed a whole day (48 h) still fires. null: integration threshold + margin; a number replaces both.
    communityIntegrationMarginSeconds: 6 * 3600,
    communityIntegrationOfflineThresholdSeconds: null,
    // Log processors (table machines, source lapi_machines): the Console's "Log Processor Offline", no heartbeat
    // for more than 24 h (crowdsec-docs unversioned/troubleshooting/issue_lp_offline.md). Agents send one a minute.
    logProcessorOfflineThresholdSeconds: 86400,
    // Deleted registrations: how long CrowdSecBouncerRegistrationDeleted (info) shows after every row of a bouncer
    // disappeared, and how long Prometheus remembers a deleted bouncer's last pull for
    // CrowdSecBouncerDeletedWhileLate (range of last_over_time; must exceed bouncerOfflineThresholdSeconds).
    deletedSignalSeconds: 3600,
    deletedMemorySeconds: 2 * self.bouncerOfflineThresholdSeconds,

    // A firing alert stays firing this long once its expression goes empty, so an exporter restart (its series
    // absent for the gap) neither resolves nor re-arms it (restart.libsonnet); a real recovery resolves this late.
    keepFiringFor: '10m',
    // Alerts on Prometheus' own `up`, which has no gap: they resolve at once.
    // Exempt: the two that read Prometheus' own `up`; the deletion alerts, which keep their own memory in
    // Prometheus (last_over_time) and must end on their own clock; the web config reload alert, whose file a
    // restart reads anew.
    keepFiringExempt: [
      'CrowdSecExporterDown',
      'CrowdSecExporterTargetMissing',
      'CrowdSecBouncerDeletedWhileLate',
      'CrowdSecBouncerRegistrationDeleted',
      'CrowdSecExporterWebConfigReloadFailed',
    ],

    // Selector of the exporter's scrape job (CrowdSecExporterDown, CrowdSecExporterTargetMissing).
    exporterSelector: 'job="crowdsec-bouncer-exporter"',
    // Runbook pages: runbookUrlBase + <AlertName> + '.md'.
    runbookUrlBase: 'https://github.com/crowdsec-bouncer-exporter/crowdsec-bouncer-exporter/blob/main/docs/runbooks/',
    // Grafana: where it serves the dashboards (the alerts' dashboard_url annotation, links.libsonnet), and their
    // tags and refresh. Set grafanaUrl to your Grafana's external URL.
    grafanaUrl: 'http://localhost:3000',
    dashboardTags: ['crowdsec', 'bouncer', 'crowdsec-bouncer-exporter'],
    dashboardRefresh: '1m',
  },
}
