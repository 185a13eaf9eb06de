// crowdsec-bouncer-exporter monitoring mixin (the ecosystem's convention: _config, prometheusRules,
// prometheusAlerts, grafanaDashboards). Generated files: alerts/crowdsec-bouncers.rules.yml and dashboards/*.json
// (mixin/build.jsonnet). Use it in your own jsonnet:
//   local mixin = (import 'crowdsec-bouncer-exporter/mixin/mixin.libsonnet') + { _config+:: { bouncerOfflineThresholdSeconds: 43200 } };
//   { 'rules.yml': std.manifestYamlDoc(mixin.prometheusRules + { groups+: mixin.prometheusAlerts.groups }) }
(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'alerts.libsonnet') +
(import 'restart.libsonnet') +
(import 'selector.libsonnet') +
(import 'links.libsonnet') +
(import 'dashboards.libsonnet')
