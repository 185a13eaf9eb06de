// Alerts that survive a restart of the exporter (issue 22). While the exporter restarts, Prometheus' failed scrapes
// write staleness markers: every exporter series vanishes for the gap, an alert's expression goes empty, the alert
// resolves, and once the exporter is back its `for:` starts over: a firing "offline" page resolved and fired again
// 10 minutes later for nothing. `keep_firing_for` (Prometheus >= 2.42, what Debian 12 ships) keeps a firing alert
// firing while its expression is empty for up to _config.keepFiringFor, so a gap shorter than that changes nothing.
// Chosen over the alternatives: `max_over_time(...[15m])` in the expressions would bridge the gap too but change
// every $value and delay firing, and break the equality with `diagnose` (tests/it/differential.rs); raising `for:`
// delays every page and still resets; Alertmanager cannot tell a restart from a recovery. The cost: an alert whose
// condition really clears resolves keepFiringFor later.
// Every alert read from the exporter's series gets it; CrowdSecExporterDown and CrowdSecExporterTargetMissing read
// Prometheus' own `up`, which has no gap (it is 0 during the restart), and must resolve as soon as it is back;
// the deletion alerts bridge restarts with last_over_time themselves and end on their own clock; a restart
// re-reads the web config, so its reload alert must not outlive it (_config.keepFiringExempt).
{
  prometheusAlerts+:: {
    local c = $._config,
    groups: [
      g {
        rules: [
          if std.objectHas(r, 'alert') && !std.member(c.keepFiringExempt, r.alert)
          then r { keep_firing_for: c.keepFiringFor }
          else r
          for r in g.rules
        ],
      }
      for g in super.groups
    ],
  },
}
