// Grafana dashboards: overview (every bouncer and integration, exporter health) and one bouncer's detail.
// Transcribed from the Python generator that wrote them before (scripts/gen-examples.py); same panels, queries,
// ids and grid positions. The dashboards read the states and the thresholds from the rules' recording rules and
// hold no threshold (scripts/check-mixin.sh): they need the rule file loaded (docs/monitoring-mixin.md).
{
  local c = $._config,
  local RUNBOOKS = c.runbookUrlBase,
  local DS = { type: 'prometheus', uid: '${datasource}' },

  // Label filters. `lapi` and `bouncer` use regex matchers: "All" is `.*`, which also matches series without them.
  // Every query starts with the exporter's selector (_config.exporterSelector), then the variables.
  local F = c.exporterSelector + ',job=~"$job",instance=~"$instance"',
  local FL = F + ',lapi=~"$lapi"',
  local FB = FL + ',bouncer=~"$bouncer"',
  local KEY = 'job, instance, lapi, bouncer',

  // Threshold lines: the rules' own constants (no default here: the dashboards need the rules loaded).
  local earlyLine = 'crowdsec:early_warning_threshold_seconds',
  local offlineLine = 'crowdsec:bouncer_offline_threshold_seconds',
  local freshLine = 'crowdsec:usage_metrics_freshness_seconds',
  local lpOfflineLine = 'crowdsec:log_processor_offline_threshold_seconds',

  local age(f=FB) = 'crowdsec_bouncer_last_pull_age_seconds{%s}' % f,
  local pulled(f=FB, v=1) = '(crowdsec_bouncer_pulled{%s} == %d)' % [f, v],

  // The state column: each registered row's state as the rules judge it, recording rule
  // lapi_bouncer:crowdsec_bouncer_state:code (rules.libsonnet: 0 ok, 1 late, 2 offline, 3 never pulled past the
  // grace, 4 idle but alive, 5 superseded, 6 never pulled without alert; label `runbook` names the page of the alert
  // the state leads to). The rules judge a base on all its rows, whatever the $bouncer filter; the dashboards only
  // pick the rows of the selected exporters (job, instance) and bouncers. No threshold here (check-mixin.sh).
  // tests/it/differential.rs checks this expression against `diagnose` on every scenario of its catalogue.
  local STATE =
    'max by (%s, runbook) (\n' % KEY
    + '    0 * max by (%s) (crowdsec_bouncer_info{%s})\n' % [KEY, FB]
    + '  + on (lapi, bouncer) group_left (runbook)\n'
    + '    lapi_bouncer:crowdsec_bouncer_state:code{lapi=~"$lapi",bouncer=~"$bouncer"}\n'
    + ')',
  // The integrations' state column: recording rule integration:crowdsec_integration_state:code (rules.libsonnet:
  // 0 ok, 2 offline, 3 never pulled past the grace, 6 never pulled in the grace, 7 pulling zero IPs, 8 no blocklist;
  // `runbook` names the page of its alert), on the integrations of the selected exporters. No threshold here.
  local INTEGRATION_STATE =
    'max by (job, instance, integration_id, integration, runbook) (\n'
    + '    0 * max by (job, instance, integration_id, integration) (crowdsec_integration_info{%s})\n' % F
    + '  + on (integration_id) group_left (runbook)\n'
    + '    integration:crowdsec_integration_state:code\n'
    + ')',
  local stateCount(values) = 'count(' + std.join(' or ', ['(%s) == %d' % [STATE, v] for v in values]) + ')',

  local valueMap(pairs) = [{
    type: 'value',
    options: {
      [std.toString(i)]: { text: pairs[i][0], color: pairs[i][1], index: i }
      for i in std.range(0, std.length(pairs) - 1)
    },
  }],
  local STATE_MAPPINGS = valueMap([['ok', 'green'], ['late', 'orange'], ['offline', 'red'], ['never pulled', 'purple'], ['idle, alive', 'blue'], ['superseded', 'text'], ['never pulled, no alert', 'light-purple'], ['pulling zero IPs', 'orange'], ['no blocklist', 'light-blue']]),
  local UP_MAPPINGS = valueMap([['down', 'red'], ['up', 'green']]),
  local CONFIG_MAPPINGS = valueMap([['invalid', 'red'], ['valid', 'green']]),
  // Static colours of an age: the thresholds' defaults. The State column follows the rules themselves.
  local AGE_THRESHOLDS = {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'orange', value: c.earlyWarningThresholdSeconds },
      { color: 'red', value: c.bouncerOfflineThresholdSeconds },
    ],
  },

  local target(expr, ref, legend=null, instant=false, table=false) =
    { datasource: DS, expr: expr, refId: ref, range: !instant, instant: instant }
    + (if legend != null then { legendFormat: legend } else {})
    + (if table then { format: 'table' } else {}),

  // A panel without its id: ids are numbered in order by `board`.
  local panel(kind, title, pos, targets, description='', extra={}) = {
    type: kind,
    title: title,
    description: description,
    datasource: DS,
    gridPos: { x: pos[0], y: pos[1], w: pos[2], h: pos[3] },
    targets: targets,
  } + extra,
  local row(title, y) = {
    type: 'row',
    title: title,
    collapsed: false,
    gridPos: { x: 0, y: y, w: 24, h: 1 },
    panels: [],
  },
  local board(panels) = [panels[i] { id: i + 1 } for i in std.range(0, std.length(panels) - 1)],

  local stat(title, pos, expr, description, color='green', noValue='0', unit='none', mappings=null, legend=null) =
    panel('stat', title, pos, [target(expr, 'A', legend=legend, instant=true)], description, {
      fieldConfig: {
        defaults: {
          unit: unit,
          noValue: noValue,
          color: if mappings != null then { mode: 'thresholds' }
          else if color != null then { mode: 'fixed', fixedColor: color } else { mode: 'thresholds' },
          thresholds: if unit == 's' then AGE_THRESHOLDS else { mode: 'absolute', steps: [{ color: 'green', value: null }] },
          mappings: if mappings != null then mappings else [],
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: if mappings != null || color == null then 'background' else 'value',
        graphMode: 'none',
        textMode: 'auto',
        justifyMode: 'auto',
        orientation: 'auto',
      },
    }),

  local timeseries(title, pos, targets, description, unit='s', log=false, overrides=[]) =
    panel('timeseries', title, pos, targets, description, {
      fieldConfig: {
        defaults: {
          unit: unit,
          custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0, showPoints: 'never', spanNulls: false }
                  + (if log then { scaleDistribution: { type: 'log', log: 10 } } else {}),
          color: { mode: 'palette-classic' },
        },
        overrides: overrides,
      },
      options: {
        legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    }),

  local thresholdLine(name, color) = {
    matcher: { id: 'byName', options: name },
    properties: [
      { id: 'color', value: { mode: 'fixed', fixedColor: color } },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    ],
  },

  local table(title, pos, targets, description, exclude, rename, overrides) =
    panel('table', title, pos, targets, description, {
      fieldConfig: { defaults: { custom: { align: 'auto', filterable: true } }, overrides: overrides },
      options: { showHeader: true, cellHeight: 'sm', footer: { show: false } },
      transformations: [
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { [k]: true for k in exclude }, renameByName: rename } },
      ],
    }),

  local byName(name, props) = { matcher: { id: 'byName', options: name }, properties: props },
  local colouredAge(name) = byName(name, [
    { id: 'unit', value: 's' },
    { id: 'thresholds', value: AGE_THRESHOLDS },
    { id: 'custom.cellOptions', value: { type: 'color-background' } },
  ]),
  local stateColumn(name) = byName(name, [
    { id: 'mappings', value: STATE_MAPPINGS },
    { id: 'custom.cellOptions', value: { type: 'color-background' } },
  ]),
  local configRunbookLink = { title: 'Runbook CrowdSecBouncerConfigInvalid', url: RUNBOOKS + 'CrowdSecBouncerConfigInvalid.md', targetBlank: true },
  local configColumn(name) = byName(name, [
    { id: 'mappings', value: CONFIG_MAPPINGS },
    { id: 'custom.cellOptions', value: { type: 'color-text' } },
    { id: 'links', value: [configRunbookLink] },
  ]),
  local runbookColumn(name) = byName(name, [
    { id: 'links', value: [{ title: 'Runbook ${__value.text}', url: RUNBOOKS + '${__value.raw}.md', targetBlank: true }] },
  ]),

  local variableQuery(name, label, query, multi=true, includeAll=true) = {
    name: name,
    label: label,
    type: 'query',
    datasource: DS,
    query: { query: query, refId: 'var-' + name },
    definition: query,
    refresh: 2,
    sort: 1,
    multi: multi,
    includeAll: includeAll,
    current: {},
    options: [],
    hide: 0,
  } + (if includeAll then { allValue: '.*' } else {}),

  local templating(singleBouncer=false) = {
    list: [
      {
        name: 'datasource',
        label: 'Data source',
        type: 'datasource',
        query: 'prometheus',
        current: { text: 'Prometheus', value: '${DS_PROMETHEUS}' },
        options: [],
        hide: 0,
        refresh: 1,
        regex: '',
      },
      variableQuery('job', 'Job', 'label_values(crowdsec_exporter_build_info{%s}, job)' % c.exporterSelector),
      variableQuery('instance', 'Instance', 'label_values(crowdsec_exporter_build_info{%s,job=~"$job"}, instance)' % c.exporterSelector),
      variableQuery('lapi', 'LAPI', 'label_values(crowdsec_bouncer_info{%s}, lapi)' % F),
      variableQuery('bouncer',
                    'Bouncer',
                    'label_values(crowdsec_bouncer_info{%s}, bouncer)' % FL,
                    multi=!singleBouncer,
                    includeAll=!singleBouncer),
    ],
  },

  local dashboard(uid, title, description, panels, singleBouncer=false, links=[]) = {
    __inputs: [{
      name: 'DS_PROMETHEUS',
      label: 'Prometheus',
      description: 'The Prometheus that scrapes crowdsec-bouncer-exporter',
      type: 'datasource',
      pluginId: 'prometheus',
      pluginName: 'Prometheus',
    }],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      { type: 'panel', id: 'stat', name: 'Stat', version: '' },
      { type: 'panel', id: 'table', name: 'Table', version: '' },
      { type: 'panel', id: 'timeseries', name: 'Time series', version: '' },
    ],
    uid: uid,
    title: title,
    description: description,
    tags: c.dashboardTags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: c.dashboardRefresh,
    time: { from: 'now-24h', to: 'now' },
    timepicker: {},
    timezone: '',
    annotations: { list: [] },
    links: links,
    panels: board(panels),
    templating: templating(singleBouncer),
  },

  // Remediation metrics (issue 14). `max by` merges exporter replicas before summing.
  local DROPPED(unit, f) = 'sum by (origin, remediation) (max by (lapi, bouncer, origin, remediation) (rate(crowdsec_bouncer_dropped_%s_total{%s}[$__rate_interval])))' % [unit, f],
  local BOUNCER_ACTIVE(f) = 'sum by (lapi, bouncer) (max by (lapi, bouncer, origin, ip_type) (crowdsec_bouncer_active_decisions{%s}))' % f,
  local LAPI_ACTIVE(f) = 'sum by (lapi) (max by (lapi, origin) (crowdsec_lapi_active_decisions{%s}))' % f,
  // Partial enforcement (issue 21 #3), as CrowdSecBouncerEnforcesPartially counts: the LAPI's IP decisions (scope
  // Ip/Range, distinct values) of the origins the bouncer's newest report names, and the rules' ratio.
  local LAPI_IP_OF_ORIGINS(fb, fl) = 'sum by (lapi, bouncer) (max by (lapi, bouncer, origin) (crowdsec_bouncer_active_decisions{%s}) * 0 + on (lapi, origin) group_left () max by (lapi, origin) (crowdsec_lapi_active_ip_decisions{%s}))' % [fb, fl],
  // `held` is the bouncer side: all of them (a column), or those holding some (the alert's: 0 is EnforcesNothing).
  local BELOW_RATIO(op, held=BOUNCER_ACTIVE(FB)) = '(%s) %s on (lapi, bouncer) (%s * on () group_left () crowdsec:partial_enforcement_ratio)' % [held, op, LAPI_IP_OF_ORIGINS(FB, FL)],
  local SELF_BANS = 'max by (job, instance, lapi, target, origin, scenario) (crowdsec_lapi_self_ban_decisions{%s})' % FL,
  local BANNED_BOUNCERS = 'max by (job, instance, lapi, bouncer) (crowdsec_lapi_self_ban_bouncer_decisions{%s}) > 0' % FB,
  local DETAIL_URL = '/d/crowdsec-bouncer-detail/crowdsec-bouncer-detail?${datasource:queryparam}&${job:queryparam}'
                     + '&${instance:queryparam}&var-lapi=${__data.fields.lapi}&var-bouncer=${__value.raw}',
  local overview = dashboard(
    'crowdsec-bouncers',
    'CrowdSec bouncers',
    "Every CrowdSec bouncer and Blocklist-as-a-Service integration: last pull, state, configuration files, LAPI health and the exporter's health (crowdsec-bouncer-exporter).",
    [
      row('Bouncers (LAPI)', 0),
      stat('Registered',
           [0, 1, 4, 4],
           'count(crowdsec_bouncer_info{%s})' % FB,
           'Registered bouncer rows (as `cscli bouncers list`).',
           color='blue'),
      stat('OK',
           [4, 1, 4, 4],
           stateCount([0, 4]),
           'Pulled within the early-warning threshold (crowdsec:early_warning_threshold_seconds, default 1 h), or idle but alive: usage metrics fresher than crowdsec:usage_metrics_freshness_seconds (a live-mode bouncer on a site without traffic pulls only on requests).'),
      stat('Late',
           [8, 1, 4, 4],
           stateCount([1]),
           'Last pull older than the early-warning threshold (default 1 h), younger than the offline one (24 h).',
           color='orange'),
      stat('Offline',
           [12, 1, 4, 4],
           stateCount([2]),
           "Last pull beyond crowdsec:bouncer_offline_threshold_seconds (default 24 h, the Console's 'offline').",
           color='red'),
      stat('Never pulled',
           [16, 1, 4, 4],
           stateCount([3, 6]),
           'Registered rows that never pulled decisions: past the grace (crowdsec:never_pulled_grace_seconds, default 24 h, an alert fires) or not (in grace, another row of the bouncer pulls, or CrowdSec 1.4 keeps no registration time).',
           color='purple'),
      stat('Integrations',
           [20, 1, 4, 4],
           'count(crowdsec_integration_info{%s})' % F,
           'Blocklist-as-a-Service integrations (only with a Service API key).',
           color='blue'),
      table(
        'Bouncers',
        [0, 5, 24, 10],
        [
          target('max by (%s, bouncer_type, version, auth_type, ip_address) (crowdsec_bouncer_info{%s})' % [KEY, FB], 'A', instant=true, table=true),
          target('max by (%s) (%s)' % [KEY, age()], 'B', instant=true, table=true),
          target(STATE, 'C', instant=true, table=true),
          target('min by (job, instance, bouncer) (crowdsec_bouncer_config_valid{%s,bouncer=~"$bouncer",bouncer!=""})' % F, 'D', instant=true, table=true),
        ],
        "One row per registered bouncer. State follows the alert rules' thresholds; the age colours are their defaults (orange from 1 h, red from 24 h). Config: its configuration file passes the exporter's checks (empty: no file found in --bouncers.config-dir). The bouncer name opens its detail dashboard; runbook opens the runbook of its alert.",
        ['Time', 'Value #A', 'job'],
        { 'Value #B': 'Last pull age', 'Value #C': 'State', 'Value #D': 'Config', bouncer_type: 'type' },
        [
          colouredAge('Last pull age'),
          stateColumn('State'),
          configColumn('Config'),
          runbookColumn('runbook'),
          byName('bouncer', [{ id: 'links', value: [{ title: 'Bouncer detail', url: DETAIL_URL }] }]),
        ],
      ),
      timeseries(
        'Last pull age',
        [0, 15, 24, 9],
        [
          target('max by (lapi, bouncer) (%s and on (%s) %s)' % [age(), KEY, pulled()], 'A', legend='{{lapi}} / {{bouncer}}'),
          target(earlyLine, 'B', legend='late threshold'),
          target(offlineLine, 'C', legend='offline threshold'),
        ],
        "Seconds since each bouncer's last pull (log scale), with the alert thresholds. A saw-tooth is normal: it drops at every pull.",
        log=true,
        overrides=[thresholdLine('late threshold', 'orange'), thresholdLine('offline threshold', 'red')],
      ),

      row('LAPI and bouncer configuration files', 24),
      stat('LAPI health',
           [0, 25, 4, 8],
           'max by (lapi) (crowdsec_lapi_up{%s})' % FL,
           'The LAPI answers GET /health (asked by the exporter, no key sent). Down: no bouncer can pull.',
           color=null,
           noValue='not checked',
           mappings=UP_MAPPINGS,
           legend='{{lapi}}'),
      timeseries('LAPI /health duration',
                 [4, 25, 8, 8],
                 [target('max by (lapi) (crowdsec_lapi_health_duration_seconds{%s})' % FL, 'A', legend='{{lapi}}')],
                 "Duration of the exporter's GET /health on each LAPI."),
      table(
        'Bouncer configuration files',
        [12, 25, 12, 8],
        [
          target('min by (job, instance, path, bouncer) (crowdsec_bouncer_config_valid{%s,bouncer=~"$bouncer"})' % F, 'A', instant=true, table=true),
          // The file's own checks: the host evidence (running, log, endpoint_reachable) names causes of an outage,
          // not faults of the file (Check::judges_file), as crowdsec_bouncer_config_valid.
          target('sum by (job, instance, path) (1 - crowdsec_bouncer_config_check{%s,check!~"running|log|endpoint_reachable"})' % F, 'B', instant=true, table=true),
        ],
        "Each file of --bouncers.config-dir with the exporter's checks (readable, parses, api_url, api_key, key_registered, lapi_reachable, ...). bouncer: the registered bouncer its key belongs to (empty: none). The failing checks are listed on the bouncer detail dashboard and by `crowdsec-bouncer-exporter diagnose`.",
        ['Time', 'job'],
        { 'Value #A': 'Config', 'Value #B': 'Failing checks' },
        [configColumn('Config')],
      ),

      row('Blocklist-as-a-Service integrations', 33),
      table(
        'Integrations by last pull',
        [0, 34, 16, 8],
        [
          target('max by (job, instance, integration_id, integration, entity_type, output_format) (crowdsec_integration_info{%s})' % F, 'A', instant=true, table=true),
          target('max by (job, instance, integration_id, integration) (crowdsec_integration_last_pull_age_seconds{%s})' % F, 'B', instant=true, table=true),
          target('max by (job, instance, integration_id, integration) (crowdsec_integration_blocklist_items{%s})' % F, 'C', instant=true, table=true),
          target('max by (job, instance, integration_id, integration) (crowdsec_integration_blocklists{%s})' % F, 'D', instant=true, table=true),
          target('max by (job, instance, integration_id, integration) (crowdsec_integration_pulled{%s})' % F, 'E', instant=true, table=true),
          target(INTEGRATION_STATE, 'F', instant=true, table=true),
        ],
        "From the CrowdSec Service API (exporter flag --service-api.key-file). State follows the alert rules (their recording rule integration:crowdsec_integration_state:code, the Community tier's threshold included): ok, offline, never pulled (past the grace or not), pulling zero IPs (the Console's 'Firewall Integration Pulling Zero IPs'), no blocklist; runbook opens the runbook of its alert. Age since the last pull (since creation when never pulled); its colours are the bouncer thresholds' defaults.",
        ['Time', 'Value #A', 'job'],
        { 'Value #B': 'Last pull age', 'Value #C': 'Blocklist items', 'Value #D': 'Blocklists', 'Value #E': 'Pulled', 'Value #F': 'State' },
        [
          colouredAge('Last pull age'),
          stateColumn('State'),
          runbookColumn('runbook'),
          byName('Pulled', [
            { id: 'mappings', value: valueMap([['never', 'purple'], ['yes', 'green']]) },
            { id: 'custom.cellOptions', value: { type: 'color-text' } },
          ]),
        ],
      ),
      timeseries('Blocklist items',
                 [16, 34, 8, 8],
                 [target('max by (integration) (crowdsec_integration_blocklist_items{%s})' % F, 'A', legend='{{integration}}')],
                 'Items each integration serves its devices.',
                 unit='none'),

      row("Remediation (bouncers' usage reports, CrowdSec 1.6.3+)", 42),
      timeseries('Dropped bytes by origin and remediation',
                 [0, 43, 8, 8],
                 [target(DROPPED('bytes', FB), 'A', legend='{{origin}} {{remediation}}')],
                 "Bytes the bouncers dropped per second, from their usage reports (firewall bouncer), by the decision's origin (CAPI = community blocklist, cscli = manual, crowdsec = this engine, lists:<name> = a blocklist) and remediation.",
                 unit='Bps'),
      timeseries('Dropped packets by origin and remediation',
                 [8, 43, 8, 8],
                 [target(DROPPED('packets', FB), 'A', legend='{{origin}} {{remediation}}')],
                 'Packets the bouncers dropped per second, from their usage reports (firewall bouncer).',
                 unit='pps'),
      timeseries('Blocked requests by origin and remediation',
                 [16, 43, 8, 8],
                 [target(DROPPED('requests', FB), 'A', legend='{{origin}} {{remediation}}')],
                 'Requests the bouncers blocked per second (ban, captcha, ...), from their usage reports (nginx/openresty and other web bouncers).',
                 unit='reqps'),
      table(
        'Active decisions per bouncer against the LAPI',
        [0, 51, 24, 8],
        [
          target(BOUNCER_ACTIVE(FB), 'A', instant=true, table=true),
          target('%s * 0 + on (lapi) group_left () %s' % [BOUNCER_ACTIVE(FB), LAPI_ACTIVE(FL)], 'B', instant=true, table=true),
        ],
        "Decisions each bouncer enforces (its newest usage report's active_decisions) next to its LAPI's active decisions (until later than now, not simulated). 0 against a LAPI that has some: the bouncer blocks nothing (alert CrowdSecBouncerEnforcesNothing). Bouncers that never reported active decisions are not listed.",
        ['Time'],
        { 'Value #A': 'Bouncer active decisions', 'Value #B': 'LAPI active decisions' },
        [byName('Bouncer active decisions', [
          { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] } },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])],
      ),

      row('Exporter', 59),
      stat('Exporter up',
           [0, 60, 4, 6],
           'up{%s}' % F,
           'Prometheus reaches the exporter (up).',
           color=null,
           noValue='no target',
           mappings=UP_MAPPINGS,
           legend='{{instance}}'),
      stat('Sources',
           [4, 60, 8, 6],
           'max by (instance, source, name) (crowdsec_exporter_source_up{%s})' % F,
           "1 if the source's last read succeeded (lapi_db: the LAPI database, lapi_decisions: its active decisions, service_api: the Service API). On failure the last good data is still served.",
           color=null,
           noValue='no source',
           mappings=UP_MAPPINGS,
           legend='{{source}} {{name}}'),
      timeseries('Source read duration',
                 [12, 60, 12, 6],
                 [target('max by (instance, source, name) (crowdsec_exporter_source_duration_seconds{%s})' % F, 'A', legend='{{source}} {{name}}')],
                 "Duration of each source's last read."),
      timeseries('Source errors',
                 [0, 66, 12, 6],
                 [target('sum by (source, name, reason) (increase(crowdsec_exporter_source_errors_total{%s}[$__rate_interval]))' % F, 'A', legend='{{source}} {{name}}: {{reason}}')],
                 'Failed reads by reason (missing_file, permission, locked, unauthorized, timeout, ...).',
                 unit='none'),
      timeseries('Scrape duration',
                 [12, 66, 12, 6],
                 [target('scrape_duration_seconds{%s}' % F, 'A', legend='{{instance}}')],
                 "How long Prometheus' scrape of the exporter took."),
      // Log processors (issue 21 #2, source lapi_machines): who detects, next to who enforces.
      row('Log processors (LAPI machines)', 72),
      stat('Log processors',
           [0, 73, 4, 4],
           'count(crowdsec_machine_info{%s})' % FL,
           'Registered machines (as `cscli machines list`): log processors, and the credentials cscli uses.',
           color='blue'),
      stat('Log processors offline',
           [4, 73, 4, 4],
           'count(max by (job, instance, lapi, machine) (crowdsec_machine_last_heartbeat_age_seconds{%s}) > on () group_left () %s)' % [FL, lpOfflineLine],
           "No heartbeat for longer than crowdsec:log_processor_offline_threshold_seconds (default 24 h, the Console's 'Log Processor Offline'); a running agent sends one a minute.",
           color='red'),
      stat('Not validated',
           [8, 73, 4, 4],
           'count(crowdsec_machine_info{%s,validated="false"})' % FL,
           'Machines waiting for `cscli machines validate` (self-registered with `cscli lapi register`): refused by the LAPI until then.',
           color='orange'),
      table(
        'Log processors by last heartbeat',
        [0, 77, 24, 8],
        [
          target('max by (job, instance, lapi, machine, version, ip_address, validated) (crowdsec_machine_info{%s})' % FL, 'A', instant=true, table=true),
          target('max by (job, instance, lapi, machine) (crowdsec_machine_last_heartbeat_age_seconds{%s})' % FL, 'B', instant=true, table=true),
          target('time() - max by (job, instance, lapi, machine) (crowdsec_machine_last_push_timestamp_seconds{%s})' % FL, 'C', instant=true, table=true),
        ],
        "Each machine of the LAPI's `machines` table. Heartbeat age: an agent sends one a minute (red past the offline threshold, alert CrowdSecLogProcessorOffline); empty for a machine that never logged in or never sent one (cscli's credentials). Last push: its last alert sent (quiet hosts push rarely).",
        ['Time', 'Value #A', 'job'],
        { 'Value #B': 'Heartbeat age', 'Value #C': 'Last alert push' },
        [
          byName('Heartbeat age', [
            { id: 'unit', value: 's' },
            { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 300 }, { color: 'red', value: c.logProcessorOfflineThresholdSeconds }] } },
            { id: 'custom.cellOptions', value: { type: 'color-background' } },
          ]),
          byName('Last alert push', [{ id: 'unit', value: 's' }]),
        ],
      ),

      // Issue 21 #1 and #3: bans on the stack itself, and bouncers that hold only part of their LAPI's decisions.
      row('Self-bans and partial enforcement (LAPI decisions)', 85),
      stat('Self-bans',
           [0, 86, 4, 4],
           'sum(%s)' % SELF_BANS,
           "Active, non-simulated bans on the stack's own addresses (loopback, the LAPI host, a bouncer's or a machine's address): the Console's 'Security Engine Self-Report' (alert CrowdSecSecurityEngineSelfBan).",
           color='red'),
      stat('Bouncers cut off by a ban',
           [4, 86, 4, 4],
           'count(%s)' % BANNED_BOUNCERS,
           "Bouncer rows whose ip_address an active ban of their LAPI covers: they can no longer reach it (a cause of 'offline').",
           color='red'),
      stat('Enforcing partially',
           [8, 86, 4, 4],
           'count(%s)' % BELOW_RATIO('<', BOUNCER_ACTIVE(FB) + ' > 0'),
           "Bouncers whose newest usage report holds fewer active decisions than crowdsec:partial_enforcement_ratio of their LAPI's IP decisions of the origins they report (alert CrowdSecBouncerEnforcesPartially, after 1 h, on bouncers with fresh usage metrics; 0 held is CrowdSecBouncerEnforcesNothing).",
           color='orange'),
      table(
        'Self-bans by target, origin and scenario',
        [12, 86, 12, 8],
        [target(SELF_BANS, 'A', instant=true, table=true)],
        'Active bans on the stack itself, counts only (never the addresses): target loopback (127.0.0.0/8, ::1), lapi_host, bouncer or machine. `cscli decisions list` on the LAPI host shows them; delete them and whitelist the address.',
        ['Time', 'job'],
        { Value: 'Bans' },
        [],
      ),
      table(
        'Bouncers banned by their LAPI',
        [0, 90, 12, 4],
        [target(BANNED_BOUNCERS, 'A', instant=true, table=true)],
        'Each bouncer row whose address an active ban covers (crowdsec_lapi_self_ban_bouncer_decisions): it cannot pull, and its offline alert names the ban as the cause.',
        ['Time', 'job'],
        { Value: 'Bans' },
        [],
      ),
      table(
        'Partial enforcement per bouncer',
        [0, 94, 24, 8],
        [
          target(BOUNCER_ACTIVE(FB), 'A', instant=true, table=true),
          target(LAPI_IP_OF_ORIGINS(FB, FL), 'B', instant=true, table=true),
          target('%s / on (lapi, bouncer) %s' % [BOUNCER_ACTIVE(FB), LAPI_IP_OF_ORIGINS(FB, FL)], 'C', instant=true, table=true),
          target(BELOW_RATIO('< bool'), 'D', instant=true, table=true),
        ],
        "Decisions each bouncer holds (its newest usage report's active_decisions) against its LAPI's IP decisions (scope Ip/Range, distinct values) of the origins that report names; an upper bound, as a value held by two origins counts under each (docs/decisions.md). Below ratio: fewer than crowdsec:partial_enforcement_ratio of them (alert CrowdSecBouncerEnforcesPartially once it lasts 1 h with fresh usage metrics).",
        ['Time'],
        { 'Value #A': 'Bouncer active decisions', 'Value #B': 'LAPI IP decisions of its origins', 'Value #C': 'Share', 'Value #D': 'Below ratio' },
        [
          byName('Share', [{ id: 'unit', value: 'percentunit' }]),
          byName('Below ratio', [
            { id: 'mappings', value: valueMap([['no', 'green'], ['yes', 'orange']]) },
            { id: 'custom.cellOptions', value: { type: 'color-text' } },
          ]),
        ],
      ),
    ],
    links=[{ title: 'Bouncer detail', type: 'link', url: '/d/crowdsec-bouncer-detail/crowdsec-bouncer-detail', includeVars: true, keepTime: true }],
  ),

  local detail = dashboard(
    'crowdsec-bouncer-detail',
    'CrowdSec bouncer detail',
    'One CrowdSec bouncer: state, pull history, registration rows, usage-metrics liveness, configuration checks (crowdsec-bouncer-exporter).',
    [
      stat('State',
           [0, 0, 6, 5],
           STATE,
           'ok / late / offline / never pulled / idle but alive (fresh usage metrics) / superseded registration, as the alert rules judge it (docs/how-it-works.md, How each state is decided).',
           color=null,
           noValue='unknown',
           mappings=STATE_MAPPINGS),
      stat('Last pull',
           [6, 0, 6, 5],
           'max(%s)' % age(),
           'Seconds since the last pull (since registration when it never pulled, CrowdSec 1.6+).',
           color=null,
           noValue='unknown',
           unit='s'),
      stat('Usage metrics',
           [12, 0, 6, 5],
           'time() - max(crowdsec_bouncer_last_usage_metrics_timestamp_seconds{%s})' % FB,
           'Age of the newest usage-metrics push (CrowdSec 1.6.3+, about every 15 min). A live-mode bouncer on an idle site pulls only on traffic; fresh usage metrics show it is alive.',
           color=null,
           noValue='none sent',
           unit='s'),
      stat('Registered rows of this bouncer',
           [18, 0, 6, 5],
           'count(crowdsec_bouncer_info{%s} and on (job, instance, lapi, bouncer_base) crowdsec_bouncer_info{%s})' % [FL, FB],
           "Rows sharing its name before '@<ip>' (CrowdSec adds one per new IP from 1.6.4).",
           color='blue'),
      table(
        'Registration',
        [0, 5, 24, 4],
        [target('max by (lapi, bouncer, bouncer_base, bouncer_type, version, auth_type, ip_address, os, auto_created, revoked) (crowdsec_bouncer_info{%s})' % FB, 'A', instant=true, table=true)],
        'crowdsec_bouncer_info: what the LAPI database holds for this bouncer.',
        ['Time', 'Value'],
        { bouncer_type: 'type' },
        [],
      ),
      timeseries(
        'Last pull age',
        [0, 9, 24, 9],
        [
          target('max by (bouncer) (%s)' % age(), 'A', legend='{{bouncer}}'),
          target(earlyLine, 'B', legend='late threshold'),
          target(offlineLine, 'C', legend='offline threshold'),
        ],
        'Seconds since its last pull (log scale), with the alert thresholds.',
        log=true,
        overrides=[thresholdLine('late threshold', 'orange'), thresholdLine('offline threshold', 'red')],
      ),
      table(
        'Rows of the same bouncer',
        [0, 18, 12, 7],
        [target('max by (lapi, bouncer) (%s) * on (lapi, bouncer) group_left (bouncer_base) (max by (lapi, bouncer, bouncer_base) (crowdsec_bouncer_info{%s}) and on (lapi, bouncer_base) crowdsec_bouncer_info{%s})' % [age(FL), FL, FB], 'A', instant=true, table=true)],
        'Every row of its bouncer_base (name@ip duplicates): the alerts only count the freshest.',
        ['Time'],
        { Value: 'Last pull age' },
        [colouredAge('Last pull age')],
      ),
      timeseries(
        'Usage metrics age',
        [12, 18, 12, 7],
        [
          target('time() - max by (bouncer) (crowdsec_bouncer_last_usage_metrics_timestamp_seconds{%s})' % FB, 'A', legend='{{bouncer}}'),
          target(freshLine, 'B', legend='freshness threshold'),
        ],
        'Age of its newest usage-metrics push; under the freshness threshold the offline alerts stay silent.',
        overrides=[thresholdLine('freshness threshold', 'orange')],
      ),
      table(
        'Configuration checks',
        [0, 25, 16, 8],
        [target('max by (path, check) (crowdsec_bouncer_config_check{%s} and on (job, instance, path) crowdsec_bouncer_config_valid{%s,bouncer=~"$bouncer"})' % [F, F], 'A', instant=true, table=true)],
        'The checks of the configuration file whose key belongs to this bouncer (a warning counts as 0). `crowdsec-bouncer-exporter diagnose` prints the fix for each failed one.',
        ['Time'],
        { Value: 'Result' },
        [byName('Result', [
          { id: 'mappings', value: valueMap([['fail', 'red'], ['pass', 'green']]) },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
          { id: 'links', value: [configRunbookLink] },
        ])],
      ),
      stat('LAPI health',
           [16, 25, 8, 8],
           'max by (lapi) (crowdsec_lapi_up{%s})' % FL,
           'Its LAPI answers GET /health.',
           color=null,
           noValue='not checked',
           mappings=UP_MAPPINGS,
           legend='{{lapi}}'),
      stat('Active decisions',
           [0, 33, 6, 5],
           'sum(max by (origin, ip_type) (crowdsec_bouncer_active_decisions{%s}))' % FB,
           'Decisions this bouncer enforces, from its newest usage report (active_decisions). 0 while its LAPI has some: it blocks nothing (alert CrowdSecBouncerEnforcesNothing).',
           color=null,
           noValue='not reported',
           mappings=null),
      stat('LAPI active decisions',
           [6, 33, 6, 5],
           'sum(max by (origin) (crowdsec_lapi_active_decisions{%s}))' % FL,
           'Active decisions in its LAPI (until later than now, not simulated), counted every --lapi.decisions-interval.',
           color='blue',
           noValue='none'),
      timeseries(
        'Active decisions by origin: bouncer against LAPI',
        [12, 33, 12, 8],
        [
          target('sum by (origin) (max by (origin, ip_type) (crowdsec_bouncer_active_decisions{%s}))' % FB, 'A', legend='bouncer {{origin}}'),
          target('max by (origin) (crowdsec_lapi_active_decisions{%s})' % FL, 'B', legend='LAPI {{origin}}'),
        ],
        'What the bouncer enforces next to what its LAPI holds, per origin (a blocklist as lists:<name> on both sides).',
        unit='none',
      ),
      timeseries(
        'Dropped by origin and remediation',
        [0, 38, 12, 8],
        [
          target('sum by (origin, remediation) (max by (origin, remediation) (rate(crowdsec_bouncer_dropped_packets_total{%s}[$__rate_interval])))' % FB, 'A', legend='packets {{origin}} {{remediation}}'),
          target('sum by (origin, remediation) (max by (origin, remediation) (rate(crowdsec_bouncer_dropped_requests_total{%s}[$__rate_interval])))' % FB, 'B', legend='requests {{origin}} {{remediation}}'),
        ],
        'Packets (firewall bouncers) or requests (web bouncers) dropped per second, from the usage reports.',
        unit='none',
      ),
      timeseries(
        'Processed and dropped traffic',
        [12, 41, 12, 8],
        [
          target('sum(max by (origin, remediation) (rate(crowdsec_bouncer_processed_bytes_total{%s}[$__rate_interval])))' % FB, 'A', legend='processed bytes'),
          target('sum(max by (origin, remediation) (rate(crowdsec_bouncer_dropped_bytes_total{%s}[$__rate_interval])))' % FB, 'B', legend='dropped bytes'),
          target('sum(max by (origin, remediation) (rate(crowdsec_bouncer_processed_packets_total{%s}[$__rate_interval])))' % FB, 'C', legend='processed packets'),
          target('sum(max by (origin, remediation) (rate(crowdsec_bouncer_processed_requests_total{%s}[$__rate_interval])))' % FB, 'D', legend='processed requests'),
        ],
        'What the bouncer saw and what it dropped, per second (bytes, packets or requests, as the bouncer reports them).',
        unit='none',
      ),
    ],
    singleBouncer=true,
    links=[{ title: 'All bouncers', type: 'link', url: '/d/crowdsec-bouncers/crowdsec-bouncers', includeVars: true, keepTime: true }],
  ),

  grafanaDashboards+:: {
    'crowdsec-bouncers.json': overview,
    'crowdsec-bouncer-detail.json': detail,
  },
}
