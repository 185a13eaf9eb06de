// The `dashboard_url` annotation of every alert (the monitoring-mixins convention, next to runbook_url): the
// bouncer detail dashboard on the alert's bouncer when it names one (label bouncer, else bouncer_base), else the
// overview on its LAPI when it names one. Rendered by Prometheus from the alert's labels, so an alert added later gets
// it too. _config.grafanaUrl is your Grafana's external URL; the job and instance variables are set to All (the
// alerts merge exporter replicas).
{
  prometheusAlerts+:: {
    local c = $._config,
    local detail = c.grafanaUrl + '/d/crowdsec-bouncer-detail/crowdsec-bouncer-detail?var-job=$__all&var-instance=$__all',
    local overview = c.grafanaUrl + '/d/crowdsec-bouncers/crowdsec-bouncers?var-job=$__all&var-instance=$__all',
    local url =
      '{{ if or $labels.bouncer $labels.bouncer_base }}' + detail
      + '&var-lapi={{ $labels.lapi | urlquery }}&var-bouncer={{ or $labels.bouncer $labels.bouncer_base | urlquery }}'
      + '{{ else }}' + overview + '{{ if $labels.lapi }}&var-lapi={{ $labels.lapi | urlquery }}{{ end }}{{ end }}',
    groups: [
      g {
        rules: [
          if std.objectHas(r, 'alert') then r { annotations+: { dashboard_url: url } } else r
          for r in g.rules
        ],
      }
      for g in super.groups
    ],
  },
}
