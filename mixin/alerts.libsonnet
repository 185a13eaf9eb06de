// Alerting rules. Transcribed from alerts/crowdsec-bouncers.rules.yml as it was hand-written (same expressions and
// texts); that file is now generated from here (mixin/README.md). Thresholds are read from the recording rules of
// rules.libsonnet, never written here: check-alerts.sh's lint enforces it.
// The failing checks of the configuration files that belong to the alert's bouncer (lapi, bouncer_base): files
// whose crowdsec_bouncer_config_valid names one of its rows (key, certificate CN or .id file; absent, hence no
// file, when the key could not be compared), each check exported as 0 (fail or warning). Nothing is said when
// there is none. crowdsec-bouncer-exporter diagnose lists the same checks (tests/differential.rs) and orders them:
// stopped > key refused > unreachable > invalid file.
// The failing checks and log errors of the device's files on the exporter host, for an integration alert (issue 20
// #5): the files whose URL names the integration (crowdsec_bouncer_config_integration).
local integrationCauses = '{{ with printf "crowdsec_bouncer_config_check == 0 and on (instance, path) crowdsec_bouncer_config_integration{integration_id=%q}" $labels.integration_id | query | sortByLabel "check" }} Failing checks of its device\'s configuration files on the exporter host:{{ range . }} {{ .Labels.check }} ({{ .Labels.path }}){{ end }}{{ with printf "crowdsec_bouncer_log_errors > 0 and on (instance, path) crowdsec_bouncer_config_integration{integration_id=%q}" $labels.integration_id | query | sortByLabel "class" }}; errors in its log:{{ range . }} {{ .Labels.class }} ({{ .Labels.path }}){{ end }}{{ end }}; `crowdsec-bouncer-exporter diagnose` names the likely cause first.{{ end }}';
// The self-ban cause of an offline or never-pulled bouncer (issue 21): active bans on its LAPI covering one of its rows'
// ip_address (crowdsec_lapi_self_ban_bouncer_decisions); diagnose ranks it first.
local selfBanCause = '{{ with printf "crowdsec_lapi_self_ban_bouncer_decisions > 0 and on (lapi, bouncer) crowdsec_bouncer_info{lapi=%q,bouncer_base=%q}" $labels.lapi $labels.bouncer_base | query | sortByLabel "bouncer" }} Its LAPI holds active bans covering the address of its rows:{{ range . }} {{ .Labels.bouncer }} ({{ .Value }}){{ end }}, so it cannot reach the LAPI (CrowdSecSecurityEngineSelfBan).{{ end }}';
local causes = '{{ with printf "crowdsec_bouncer_config_check == 0 and on (instance, path) (crowdsec_bouncer_config_valid and on (bouncer) crowdsec_bouncer_info{lapi=%q,bouncer_base=%q})" $labels.lapi $labels.bouncer_base | query | sortByLabel "check" }} Failing checks of its configuration files on the exporter host:{{ range . }} {{ .Labels.check }} ({{ .Labels.path }}){{ end }}; `crowdsec-bouncer-exporter diagnose` names the likely cause first.{{ end }}';
{
  prometheusAlerts+:: {
    local c = $._config,
    groups+: [
      {
        name: 'CrowdSecBouncers',
        rules: [
          {
            alert: 'CrowdSecBouncerOffline',
            expr: |||
              lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline
              unless on (lapi, bouncer_base)
                crowdsec_bouncer_info{bouncer_type="crowdsec-firewall-bouncer"}
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec bouncer has stopped pulling decisions from its LAPI.',
              description: 'Bouncer {{ $labels.bouncer_base }} on LAPI {{ $labels.lapi }} last pulled decisions {{ $value | humanizeDuration }} ago (threshold {{ with query "crowdsec:bouncer_offline_threshold_seconds" }}{{ . | first | value | humanizeDuration }}{{ end }}) and sends no fresh usage metrics: it is not applying new decisions. Where hosts share its key (rows `name@ip` that pulled side by side), this is its stalest host; `crowdsec-bouncer-exporter diagnose` lists the rows.' + selfBanCause + causes,
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerOffline.md',
            },
          },
          {
            alert: 'CrowdSecFirewallBouncerOffline',
            expr: |||
              lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:offline
              and on (lapi, bouncer_base)
                crowdsec_bouncer_info{bouncer_type="crowdsec-firewall-bouncer"}
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec firewall bouncer has stopped pulling decisions from its LAPI.',
              description: 'Firewall bouncer {{ $labels.bouncer_base }} on LAPI {{ $labels.lapi }} last pulled decisions {{ $value | humanizeDuration }} ago (threshold {{ with query "crowdsec:bouncer_offline_threshold_seconds" }}{{ . | first | value | humanizeDuration }}{{ end }}): the host firewall no longer receives new bans.' + selfBanCause + causes,
              runbook_url: c.runbookUrlBase + 'CrowdSecFirewallBouncerOffline.md',
            },
          },
          // Early warning. Keeps firing past the offline threshold: Alertmanager inhibits it while the critical alert
          // for the same (lapi, bouncer_base) fires (alerts/alertmanager.example.yml).
          {
            alert: 'CrowdSecBouncerPullOverdue',
            expr: 'lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:late',
            'for': '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A CrowdSec bouncer has not pulled decisions for longer than the early-warning threshold.',
              description: 'Bouncer {{ $labels.bouncer_base }} on LAPI {{ $labels.lapi }} last pulled decisions {{ $value | humanizeDuration }} ago (early warning after {{ with query "crowdsec:early_warning_threshold_seconds" }}{{ . | first | value | humanizeDuration }}{{ end }}, offline after {{ with query "crowdsec:bouncer_offline_threshold_seconds" }}{{ . | first | value | humanizeDuration }}{{ end }}).',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerPullOverdue.md',
            },
          },
          // A device (a row that pulled, not superseded) whose row disappeared (cscli bouncers delete/prune,
          // db_config.flush.bouncers_autodelete) while it was late: it keeps its last pull time in Prometheus
          // (last_over_time of the recording rule, which survives exporter restarts), and this pages 24 h after that
          // pull, as the offline alert would have. Per row, not per base: a dead host sharing its key with a live one
          // is a device of its own. Silent when the row shows up again (re-registered under its name, pulling) or
          // when a row of its base that pulled was created after its last pull (the device moved to a new IP, or
          // came back under a new `<base>@<ip>` row); a row without a registration time (CrowdSec < 1.6) that pulled
          // after it counts as one, so as not to page for a bouncer that came back. Only while the LAPI is still read (crowdsec_bouncers present):
          // an exporter or source outage is no deletion. Resolves by itself once the last sample is older than the
          // range (2x the offline threshold).
          {
            alert: 'CrowdSecBouncerDeletedWhileLate',
            expr: |||
              time() - last_over_time(lapi_bouncer:crowdsec_bouncer_device_last_pull_timestamp_seconds:max[%(w)ds])
                > on () group_left () crowdsec:bouncer_offline_threshold_seconds
              and on (lapi, bouncer)
                (
                  last_over_time(lapi_bouncer:crowdsec_bouncer_device_last_pull_age_seconds:max[%(w)ds])
                    > on () group_left () crowdsec:early_warning_threshold_seconds
                )
              unless on (lapi, bouncer)
                lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max
              unless on (lapi, bouncer)
                (
                  last_over_time(lapi_bouncer:crowdsec_bouncer_device_last_pull_timestamp_seconds:max[%(w)ds])
                    < on (lapi, bouncer_base) group_left ()
                      lapi_bouncer_base:crowdsec_bouncer_pulled_registered_timestamp_seconds:max
                )
              unless on (lapi, bouncer)
                (
                  last_over_time(lapi_bouncer:crowdsec_bouncer_device_last_pull_timestamp_seconds:max[%(w)ds])
                    < on (lapi, bouncer_base) group_left ()
                      max by (lapi, bouncer_base) (
                          lapi_bouncer:crowdsec_bouncer_last_pull_timestamp_seconds:max
                        unless on (lapi, bouncer) crowdsec_bouncer_registered_timestamp_seconds
                      )
                )
              and on (lapi)
                max by (lapi) (crowdsec_bouncers)
            ||| % { w: c.deletedMemorySeconds },
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec bouncer whose registration was deleted while it was late has not pulled for longer than the offline threshold.',
              description: 'Bouncer {{ $labels.bouncer }} (base {{ $labels.bouncer_base }}) on LAPI {{ $labels.lapi }} last pulled decisions {{ $value | humanizeDuration }} ago; its row was deleted (cscli bouncers delete/prune, or db_config.flush.bouncers_autodelete) while it was already late, and no row of its base that pulled has been registered since: its key no longer authenticates, or, when other rows share it, a live host would have pulled again under a new <base>@<ip> row. Nothing proves it protects anything.',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerDeletedWhileLate.md',
            },
          },
          // Every row of a bouncer base that pulled disappeared within the last hour while its LAPI is still read:
          // a visible signal that ends by itself (info, never a page). A row deleted while late also pages later
          // (CrowdSecBouncerDeletedWhileLate).
          {
            alert: 'CrowdSecBouncerRegistrationDeleted',
            expr: |||
              last_over_time(lapi_bouncer_base:crowdsec_bouncer_last_pull_timestamp_seconds:max[%(w)ds])
              unless on (lapi, bouncer_base)
                lapi_bouncer_base:crowdsec_bouncer_last_pull_timestamp_seconds:max
              and on (lapi)
                max by (lapi) (crowdsec_bouncers)
            ||| % { w: c.deletedSignalSeconds },
            'for': '0m',
            labels: { severity: 'info' },
            annotations: {
              summary: "A CrowdSec bouncer's registration was deleted from its LAPI.",
              description: 'Every row of bouncer {{ $labels.bouncer_base }} disappeared from LAPI {{ $labels.lapi }} within the last hour (last pull {{ $value | humanizeTimestamp }}): deleted by cscli bouncers delete/prune or by db_config.flush.bouncers_autodelete. Its key no longer authenticates. This signal ends after an hour.',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerRegistrationDeleted.md',
            },
          },
          // CrowdSec's own clean-up deletes a stopped bouncer's row before the offline alert can fire
          // (db_config.flush.bouncers_autodelete, crowdsecurity/crowdsec pkg/database/flush.go: every minute, rows of
          // that auth_type whose last_pull is at least that old). CrowdSecBouncerDeletedWhileLate still pages; this
          // says why rows vanish. diagnose warns the same way.
          {
            alert: 'CrowdSecBouncersAutodeleteShort',
            expr: |||
              max by (lapi, auth_type) (crowdsec_lapi_bouncers_autodelete_seconds)
                <= on () group_left () crowdsec:bouncer_offline_threshold_seconds
            |||,
            'for': '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'CrowdSec deletes idle bouncer registrations before they can be called offline.',
              description: "LAPI {{ $labels.lapi }} deletes {{ $labels.auth_type }} bouncer rows whose last pull is {{ $value | humanizeDuration }} old (db_config.flush.bouncers_autodelete), no longer than the offline threshold ({{ with query \"crowdsec:bouncer_offline_threshold_seconds\" }}{{ . | first | value | humanizeDuration }}{{ end }}): a bouncer that stops loses its row before CrowdSecBouncerOffline can fire; only CrowdSecBouncerDeletedWhileLate, from Prometheus' memory, still pages.",
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncersAutodeleteShort.md',
            },
          },
          // A registered row that never pulled, older than the grace period. Silent when another row of the same base
          // pulled (the bouncer works under another name@ip) or when the base sends fresh usage metrics (a live-mode
          // bouncer on a site without traffic never pulls). The age is counted from registration; on CrowdSec < 1.6
          // the exporter cannot tell a never-pulled bouncer, so this alert cannot fire there.
          {
            alert: 'CrowdSecBouncerNeverPulled',
            expr: 'lapi_bouncer:crowdsec_bouncer_last_pull_age_seconds:never_pulled',
            'for': '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A registered CrowdSec bouncer has never pulled decisions.',
              description: 'Bouncer {{ $labels.bouncer }} on LAPI {{ $labels.lapi }} was registered {{ $value | humanizeDuration }} ago and has never pulled decisions: it was never started, or it uses another API URL or key.' + selfBanCause + causes,
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerNeverPulled.md',
            },
          },
          // The Console's "Security Engine No Active RC": no row of the LAPI pulled (or, for a never-pulled row, was
          // registered) within the offline threshold, and none sends fresh usage metrics. The value mixes both ages, so
          // the description asks for the freshest pull and the newest never-pulled registration apart.
          {
            alert: 'CrowdSecSecurityEngineNoActiveBouncer',
            expr: |||
              min by (lapi) (crowdsec_bouncer_last_pull_age_seconds)
                > on () group_left () crowdsec:bouncer_offline_threshold_seconds
              unless on (lapi)
                lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'No bouncer of a CrowdSec LAPI is active; its decisions are enforced nowhere.',
              description: 'Every bouncer registered on LAPI {{ $labels.lapi }} ({{ with printf "max(crowdsec_bouncers{lapi=%q})" $labels.lapi | query }}{{ . | first | value }}{{ else }}?{{ end }} in total) is inactive: {{ with printf "min(crowdsec_bouncer_last_pull_age_seconds{lapi=%q} and on (lapi, bouncer) (crowdsec_bouncer_pulled{lapi=%q} == 1))" $labels.lapi $labels.lapi | query }}the most recent pull by any of them was {{ . | first | value | humanizeDuration }} ago{{ else }}none of them has ever pulled decisions{{ end }}{{ with printf "min(crowdsec_bouncer_last_pull_age_seconds{lapi=%q} and on (lapi, bouncer) (crowdsec_bouncer_pulled{lapi=%q} == 0))" $labels.lapi $labels.lapi | query }}; the newest never-pulled one was registered {{ . | first | value | humanizeDuration }} ago{{ end }}.',
              runbook_url: c.runbookUrlBase + 'CrowdSecSecurityEngineNoActiveBouncer.md',
            },
          },
          {
            alert: 'CrowdSecSecurityEngineNoBouncer',
            expr: 'max by (lapi) (crowdsec_bouncers) == 0',
            'for': '30m',
            labels: { severity: 'info' },
            annotations: {
              summary: 'A CrowdSec LAPI has no bouncer registered.',
              description: 'LAPI {{ $labels.lapi }} has had no registered bouncer for at least 30m (source: its database or cscli): its decisions are enforced nowhere unless a Blocklist integration applies them.',
              runbook_url: c.runbookUrlBase + 'CrowdSecSecurityEngineNoBouncer.md',
            },
          },
          {
            alert: 'CrowdSecLapiDown',
            expr: 'max by (lapi) (crowdsec_lapi_up) == 0',
            'for': '5m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec LAPI does not answer its health check.',
              description: 'LAPI {{ $labels.lapi }} has failed GET /health from the exporter for at least 5m; bouncers cannot pull decisions from it. Freshest bouncer pull on it: {{ with printf "min(crowdsec_bouncer_last_pull_age_seconds{lapi=%q})" $labels.lapi | query }}{{ . | first | value | humanizeDuration }} ago{{ else }}unknown{{ end }}.',
              runbook_url: c.runbookUrlBase + 'CrowdSecLapiDown.md',
            },
          },
          // The LAPI-side twin of the Console's "Firewall Integration Pulling Zero IPs": a bouncer alive by its usage
          // reports (the newest one is fresh) whose newest report counts no active decision while its LAPI has some.
          // A bouncer that never reported active_decisions has no crowdsec_bouncer_active_decisions series: no alert.
          // The LAPI side counts the decisions a firewall enforces (scope Ip/Range), not Country/AS ones (issue 21 #3).
          {
            alert: 'CrowdSecBouncerEnforcesNothing',
            expr: |||
              sum by (lapi, bouncer) (
                max by (lapi, bouncer, origin, ip_type) (crowdsec_bouncer_active_decisions)
              ) == 0
              and on (lapi, bouncer)
                lapi_bouncer:crowdsec_bouncer_usage_metrics_age_seconds:fresh
              and on (lapi)
                (sum by (lapi) (max by (lapi, origin) (crowdsec_lapi_active_ip_decisions)) > 0)
            |||,
            'for': '1h',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A CrowdSec bouncer is alive but enforces no decision while its LAPI has some.',
              description: 'Bouncer {{ $labels.bouncer }} on LAPI {{ $labels.lapi }} reports 0 active decisions in its usage reports for at least 1h, while the LAPI has {{ with printf "sum(max by (origin) (crowdsec_lapi_active_ip_decisions{lapi=%q}))" $labels.lapi | query }}{{ . | first | value }}{{ else }}some{{ end }} IP decisions (scope Ip or Range): it pulls (or reports) but blocks nothing (origins filtered out, a failing firewall backend, or a key of another LAPI).',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerEnforcesNothing.md',
            },
          },
          // Issue 21 #3: alive by its usage reports, it holds some decisions but fewer than partialEnforcementRatio of
          // its LAPI's IP decisions of the origins its newest report names (the origins it pulls: one its configuration
          // filters out is not counted against it). 0 held is CrowdSecBouncerEnforcesNothing. The value is what it holds.
          {
            alert: 'CrowdSecBouncerEnforcesPartially',
            expr: |||
              (
                sum by (lapi, bouncer) (
                  max by (lapi, bouncer, origin, ip_type) (crowdsec_bouncer_active_decisions)
                ) > 0
              )
              < on (lapi, bouncer)
                (
                  sum by (lapi, bouncer) (
                      max by (lapi, bouncer, origin) (crowdsec_bouncer_active_decisions) * 0
                    + on (lapi, origin) group_left ()
                      max by (lapi, origin) (crowdsec_lapi_active_ip_decisions)
                  )
                  * on () group_left () crowdsec:partial_enforcement_ratio
                )
              and on (lapi, bouncer)
                lapi_bouncer:crowdsec_bouncer_usage_metrics_age_seconds:fresh
            |||,
            'for': '1h',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A CrowdSec bouncer enforces far fewer decisions than its LAPI holds for the origins it pulls.',
              description: 'Bouncer {{ $labels.bouncer }} on LAPI {{ $labels.lapi }} holds {{ $value }} active decisions in its newest usage report for at least 1h, while the LAPI has {{ with printf "sum(max by (origin) (crowdsec_lapi_active_ip_decisions{lapi=%q}) and on (origin) max by (origin) (crowdsec_bouncer_active_decisions{lapi=%q,bouncer=%q}))" $labels.lapi $labels.lapi $labels.bouncer | query }}{{ . | first | value }}{{ else }}more{{ end }} IP decisions (scope Ip or Range, distinct values) of the origins it reports (alert below {{ with query "crowdsec:partial_enforcement_ratio" }}{{ . | first | value }}{{ end }} of them): a full firewall set (ipset maxelem, nftables), decisions dropped by its filters, or a stale stream.',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerEnforcesPartially.md',
            },
          },
          // Issue 21 #1, the Console's "Security Engine Self-Report" (crowdsec-docs unversioned/troubleshooting/
          // issue_se_self_report.md): an active, non-simulated ban on loopback, the LAPI host, a registered bouncer's
          // or machine's address. One alert per target, origin and scenario (counts only, never the address).
          {
            alert: 'CrowdSecSecurityEngineSelfBan',
            expr: |||
              max by (lapi, target, origin, scenario) (crowdsec_lapi_self_ban_decisions) > 0
            |||,
            'for': '5m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec LAPI holds an active ban on the stack itself (loopback, its host, a bouncer or a machine).',
              description: "LAPI {{ $labels.lapi }} holds {{ $value }} active ban(s) from origin {{ $labels.origin }}, scenario {{ $labels.scenario }}, on {{ if eq $labels.target \"loopback\" }}a loopback address (127.0.0.0/8 or ::1): its own host and local bouncers{{ else if eq $labels.target \"lapi_host\" }}an address of the LAPI's own host{{ else if eq $labels.target \"bouncer\" }}the address of registered bouncers{{ with printf \"crowdsec_lapi_self_ban_bouncer_decisions{lapi=%q} > 0\" $labels.lapi | query | sortByLabel \"bouncer\" }}{{ range . }} {{ .Labels.bouncer }}{{ end }}{{ end }}, which can no longer reach it{{ else }}a registered machine's address: that log processor can no longer reach it{{ end }}. Remediation components may drop the LAPI's own traffic. `cscli decisions list` on the LAPI host shows it; delete it and whitelist the address.",
              runbook_url: c.runbookUrlBase + 'CrowdSecSecurityEngineSelfBan.md',
            },
          },
        ],
      },
      // Blocklist-as-a-Service integrations, read from the CrowdSec Service API (source service_api). Each reads its
      // state from a recording rule of group CrowdSecIntegrationAggregates (rules.libsonnet): judged once.
      {
        name: 'CrowdSecIntegrations',
        rules: [
          {
            alert: 'CrowdSecRemediationComponentIntegrationOffline',
            expr: |||
              max by (integration_id, integration, output_format) (
                integration:crowdsec_integration_last_pull_age_seconds:offline{entity_type="remediation_component_integration"}
              )
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec remediation component integration has stopped pulling its blocklists.',
              description: "Remediation component integration {{ $labels.integration }} (id {{ $labels.integration_id }}) last pulled from the CrowdSec Service API {{ $value | humanizeDuration }} ago (threshold {{ with printf \"integration:crowdsec_integration_offline_threshold_seconds{integration_id=%q}\" $labels.integration_id | query }}{{ . | first | value | humanizeDuration }}{{ end }}{{ with printf \"crowdsec_integration_subscription_info{integration_id=%q,tier=\\\"community\\\"}\" $labels.integration_id | query }}, the Community tier\'s: one pull per 24 h plus a margin{{ end }})." + integrationCauses,
              runbook_url: c.runbookUrlBase + 'CrowdSecRemediationComponentIntegrationOffline.md',
            },
          },
          {
            alert: 'CrowdSecFirewallIntegrationOffline',
            expr: |||
              max by (integration_id, integration, output_format) (
                integration:crowdsec_integration_last_pull_age_seconds:offline{entity_type="firewall_integration"}
              )
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec firewall integration has stopped pulling its blocklists.',
              description: "Firewall integration {{ $labels.integration }} (id {{ $labels.integration_id }}, format {{ $labels.output_format }}) last pulled from the CrowdSec Service API {{ $value | humanizeDuration }} ago (threshold {{ with printf \"integration:crowdsec_integration_offline_threshold_seconds{integration_id=%q}\" $labels.integration_id | query }}{{ . | first | value | humanizeDuration }}{{ end }}{{ with printf \"crowdsec_integration_subscription_info{integration_id=%q,tier=\\\"community\\\"}\" $labels.integration_id | query }}, the Community tier\'s: one pull per 24 h plus a margin{{ end }}).",
              runbook_url: c.runbookUrlBase + 'CrowdSecFirewallIntegrationOffline.md',
            },
          },
          {
            alert: 'CrowdSecIntegrationNeverPulled',
            expr: 'integration:crowdsec_integration_last_pull_age_seconds:never_pulled',
            'for': '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A CrowdSec blocklist integration has never been pulled.',
              description: 'Integration {{ $labels.integration }} (id {{ $labels.integration_id }}, {{ $labels.entity_type }}) was created in the CrowdSec Service API {{ $value | humanizeDuration }} ago and no device has pulled it yet.' + integrationCauses,
              runbook_url: c.runbookUrlBase + 'CrowdSecIntegrationNeverPulled.md',
            },
          },
          // The value is the age of the last pull, the filter is stats.count == 0.
          {
            alert: 'CrowdSecFirewallIntegrationPullingZeroIps',
            expr: |||
              max by (integration_id, integration) (
                integration:crowdsec_integration_last_pull_age_seconds:pulling_zero_ips
              )
            |||,
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'A CrowdSec firewall integration serves an empty blocklist.',
              description: 'Firewall integration {{ $labels.integration }} (id {{ $labels.integration_id }}) gives its device zero IPs (Service API stats.count = 0); its last pull was {{ $value | humanizeDuration }} ago.',
              runbook_url: c.runbookUrlBase + 'CrowdSecFirewallIntegrationPullingZeroIps.md',
            },
          },
          // The value is the age of the last pull (of the creation when it never pulled).
          {
            alert: 'CrowdSecIntegrationNoBlocklist',
            expr: 'integration:crowdsec_integration_last_pull_age_seconds:no_blocklist',
            'for': '30m',
            labels: { severity: 'info' },
            annotations: {
              summary: 'A CrowdSec blocklist integration subscribes to no blocklist.',
              description: 'Integration {{ $labels.integration }} (id {{ $labels.integration_id }}) subscribes to no blocklist in the CrowdSec Service API, so it serves nothing; {{ $pulled := 1.0 }}{{ with printf "max(crowdsec_integration_pulled{integration_id=%q})" $labels.integration_id | query }}{{ $pulled = . | first | value }}{{ end }}{{ if eq $pulled 0.0 }}it was created {{ $value | humanizeDuration }} ago and never pulled{{ else }}its last pull was {{ $value | humanizeDuration }} ago{{ end }}.',
              runbook_url: c.runbookUrlBase + 'CrowdSecIntegrationNoBlocklist.md',
            },
          },
        ],
      },
      // Log processors (table machines, source lapi_machines): the Console's "Log Processor Offline".
      {
        name: 'CrowdSecLogProcessors',
        rules: [
          {
            alert: 'CrowdSecLogProcessorOffline',
            expr: |||
              max by (lapi, machine) (crowdsec_machine_last_heartbeat_age_seconds)
                > on () group_left () crowdsec:log_processor_offline_threshold_seconds
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec log processor has stopped checking in with its LAPI.',
              description: 'Log processor {{ $labels.machine }} of LAPI {{ $labels.lapi }} sent its last heartbeat {{ $value | humanizeDuration }} ago (threshold {{ with query "crowdsec:log_processor_offline_threshold_seconds" }}{{ . | first | value | humanizeDuration }}{{ end }}; a running agent sends one a minute): the logs it reads are no longer analysed, so no new decision comes from them.{{ with printf "crowdsec_machine_info{lapi=%q,machine=%q,validated=\\"false\\"}" $labels.lapi $labels.machine | query }} It is not validated: `cscli machines validate` on the LAPI host.{{ end }} `crowdsec-bouncer-exporter diagnose` lists the log processors.',
              runbook_url: c.runbookUrlBase + 'CrowdSecLogProcessorOffline.md',
            },
          },
        ],
      },
      // Bouncer configuration files checked by the exporter (source bouncer_config).
      {
        name: 'CrowdSecBouncerConfig',
        rules: [
          // "No registered bouncer matches its key" only when the key was compared (check key_registered failed): an
          // unreadable file, or a database the exporter cannot read, leaves the key unknown.
          {
            alert: 'CrowdSecBouncerConfigInvalid',
            expr: 'max by (path, bouncer) (crowdsec_bouncer_config_valid) == 0',
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: "A CrowdSec bouncer configuration file fails the exporter's checks.",
              description: '{{ $failed := "" }}{{ range printf "crowdsec_bouncer_config_check{path=%q,check!~%q} == 0" $labels.path "running|log|endpoint_reachable" | query | sortByLabel "check" }}{{ $failed = printf "%s %s" $failed .Labels.check }}{{ end }}Bouncer config {{ $labels.path }} ({{ if $labels.bouncer }}bouncer {{ $labels.bouncer }}{{ else }}{{ with printf "crowdsec_bouncer_config_check{path=%q,check=%q} == 0" $labels.path "key_registered" | query }}no registered bouncer matches its key{{ else }}no registered bouncer linked: its key was not compared{{ end }}{{ end }}) fails the checks:{{ if $failed }}{{ $failed }}{{ else }} unknown{{ end }}. Last pull of its bouncer: {{ with printf "min(crowdsec_bouncer_last_pull_age_seconds{bouncer=%q})" $labels.bouncer | query }}{{ . | first | value | humanizeDuration }} ago{{ else }}unknown{{ end }}.',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerConfigInvalid.md',
            },
          },
          // Invalid config AND its bouncer is offline by the rule of CrowdSecBouncerOffline. One alert per bouncer row
          // that a config file names (labels lapi, bouncer, bouncer_base); the value is the age of the base's freshest pull.
          {
            alert: 'CrowdSecBouncerConfigInvalidAndOffline',
            expr: |||
              (
                (
                    lapi_bouncer_base:crowdsec_bouncer_last_pull_age_seconds:min
                      > on () group_left () crowdsec:bouncer_offline_threshold_seconds
                  unless on (lapi, bouncer_base)
                    lapi_bouncer_base:crowdsec_bouncer_usage_metrics_age_seconds:fresh
                )
                * on (lapi, bouncer_base) group_right ()
                  max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info)
              )
              and on (bouncer)
                (crowdsec_bouncer_config_valid == 0)
            |||,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'A CrowdSec bouncer is offline and its configuration file is invalid.',
              description: 'Bouncer {{ $labels.bouncer }} on LAPI {{ $labels.lapi }} last pulled decisions {{ $value | humanizeDuration }} ago and its config {{ range printf "crowdsec_bouncer_config_valid{bouncer=%q} == 0" $labels.bouncer | query | sortByLabel "path" }}{{ .Labels.path }} {{ end }}fails the checks:{{ range printf "crowdsec_bouncer_config_check{check!~%q} == 0 and on (path) crowdsec_bouncer_config_valid{bouncer=%q} == 0" "running|log|endpoint_reachable" $labels.bouncer | query | sortByLabel "check" }} {{ .Labels.check }}{{ end }}.',
              runbook_url: c.runbookUrlBase + 'CrowdSecBouncerConfigInvalidAndOffline.md',
            },
          },
        ],
      },
      // The exporter's own blindness: without these, a dead exporter silences every alert above.
      {
        name: 'CrowdSecExporter',
        rules: [
          // Value: seconds since the source's last successful read, 0 when it never succeeded. The series carry
          // `lapi` (empty, so absent from the alert, for service_api and bouncer_config), so Alertmanager can
          // route it with that LAPI's alerts and inhibit them.
          {
            alert: 'CrowdSecExporterSourceDown',
            expr: |||
              (
                  time() - max by (source, name, lapi) (crowdsec_exporter_source_last_success_timestamp_seconds > 0)
                and on (source, name, lapi)
                  (max by (source, name, lapi) (crowdsec_exporter_source_up) == 0)
              )
              or
              (max by (source, name, lapi) (crowdsec_exporter_source_up) == 0)
            |||,
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'The CrowdSec bouncer exporter cannot read one of its sources.',
              description: 'Source {{ $labels.source }} "{{ $labels.name }}" of the exporter has failed for at least 15m; {{ if gt $value 0.0 }}its last successful read was {{ $value | humanizeDuration }} ago{{ else }}it has not been read successfully since the exporter started{{ end }}. The alerts that depend on it may be stale or silent.',
              runbook_url: c.runbookUrlBase + 'CrowdSecExporterSourceDown.md',
            },
          },
          // A refused --web.config.file reload (issue 23): the previous file is still served, so nothing is exposed,
          // but the operator's change (a rotated certificate, new users) is not in force. As Prometheus' own
          // PrometheusBadConfig (prometheus-mixin), on the exporter's crowdsec_exporter_web_config_last_reload_successful.
          {
            alert: 'CrowdSecExporterWebConfigReloadFailed',
            expr: ('max by (job, instance) (crowdsec_exporter_web_config_last_reload_successful{%(exporterSelector)s}) == 0') % c,
            'for': '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'The CrowdSec bouncer exporter refused its changed web config file and still serves the previous one.',
              description: 'The last reload of --web.config.file on {{ $labels.instance }} failed at least 10m ago: the file is unusable or protects less than the running one (TLS or basic auth dropped, a lower min_version or client_auth_type). The previous configuration is still served; a rotated certificate or new users are not in force.',
              runbook_url: c.runbookUrlBase + 'CrowdSecExporterWebConfigReloadFailed.md',
            },
          },
          {
            alert: 'CrowdSecExporterDown',
            expr: ('up{%(exporterSelector)s} == 0') % c,
            'for': '5m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus cannot scrape the CrowdSec bouncer exporter; every CrowdSec bouncer alert is blind.',
              description: 'Target {{ $labels.instance }} of job {{ $labels.job }} has failed every scrape for at least 5m; bouncer and integration ages are unknown while it is down.',
              runbook_url: c.runbookUrlBase + 'CrowdSecExporterDown.md',
            },
          },
          {
            alert: 'CrowdSecExporterTargetMissing',
            expr: ('absent(up{%(exporterSelector)s})') % c,
            'for': '10m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus has no CrowdSec bouncer exporter target; every CrowdSec bouncer alert is blind.',
              description: 'No target of job {{ $labels.job }} has been scraped for at least 10m: the scrape job is missing, or service discovery finds no exporter. Bouncer and integration ages are unknown.',
              runbook_url: c.runbookUrlBase + 'CrowdSecExporterTargetMissing.md',
            },
          },
        ],
      },
    ],
  },
}
