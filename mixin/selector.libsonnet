// Every alert and recording rule scoped by _config.exporterSelector (the kubernetes-mixin convention: a Prometheus
// that also scrapes another job exporting crowdsec_* series, e.g. a second exporter for another site, or CrowdSec's
// own metrics under another job, is not mixed in). Applied to every expression after the fact, so a rule added later
// is scoped too: each raw series of the exporter (a name starting with `crowdsec_`, not a recording rule's
// `level:crowdsec_...:op` nor a threshold `crowdsec:...`) gets the selector as its first matcher. The dashboards put
// it in their label filters (dashboards.libsonnet). scripts/check-mixin.sh checks every expression and query.
local identChars = std.set(std.stringChars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:'));
local isIdent(c) = std.setMember(c, identChars);

// `expr` with `sel` added to every raw crowdsec_* selector.
local scope(sel, expr) =
  local n = std.length(expr);
  local nameEnd(j) = if j < n && isIdent(expr[j]) then nameEnd(j + 1) else j;
  local starts = [i for i in std.findSubstr('crowdsec_', expr) if i == 0 || !isIdent(expr[i - 1])];
  local ends = [nameEnd(s) for s in starts];
  local matcher(e) =
    if e < n && expr[e] == '{' then
      if std.startsWith(expr[e + 1:], sel) then ''
      else if e + 1 < n && expr[e + 1] == '}' then '{' + sel
      else '{' + sel + ','
    else '{' + sel + '}';
  local skip(e) = if e < n && expr[e] == '{' && !std.startsWith(expr[e + 1:], sel) then 1 else 0;
  local bounds = [0] + [ends[k] + skip(ends[k]) for k in std.range(0, std.length(starts) - 1)];
  std.join('', [
    expr[bounds[k]:ends[k]] + matcher(ends[k])
    for k in std.range(0, std.length(starts) - 1)
  ]) + expr[bounds[std.length(starts)]:];

{
  scope:: scope,
  local c = $._config,
  local scoped(groups) = [
    g { rules: [r { expr: scope(c.exporterSelector, r.expr) } for r in g.rules] }
    for g in groups
  ],
  prometheusRules+:: { groups: scoped(super.groups) },
  prometheusAlerts+:: { groups: scoped(super.groups) },
}
