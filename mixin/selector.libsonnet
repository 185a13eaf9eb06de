// Every alert and recording rule scoped by _config.exporterSelector (the kubernetes-mixin convention: a Prometheus
// that also scrapes another job exporting crowdsec_* series, e.g. a second exporter for another site, or CrowdSec's
// own metrics under another job, is not mixed in). Applied to every expression after the fact, so a rule added later
// is scoped too: each raw series of the exporter (a name starting with `crowdsec_`, not a recording rule's
// `level:crowdsec_...:op` nor a threshold `crowdsec:...`) gets the selector as its first matcher. The dashboards put
// it in their label filters (dashboards.libsonnet). The queries of the alerts' annotation templates are scoped the
// same way (scopeTemplate). scripts/check-mixin.sh checks every expression and query, annotation queries included.
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

// The queries of an annotation's Go template (`{{ with query "..." }}`, `{{ range printf "..." ... | query }}`): each
// double-quoted string literal inside an action `{{ ... }}` is scoped as an expression, the selector written as that
// literal needs it (`"` and `\` escaped, and `%` doubled in a printf format). Text outside the actions is prose and
// stays as it is. A raw (backquoted) literal is not scoped: scripts/check-mixin.sh fails on one holding a series.
local oddBackslashes(s) =
  local count(i) = if i >= 0 && s[i] == '\\' then 1 + count(i - 1) else 0;
  count(std.length(s) - 1) % 2 == 1;
local scopeAction(sel, action) =
  // Split on `"`, gluing back the escaped ones (`\"` inside a literal): the odd pieces are the literals' contents.
  local pieces = std.foldl(
    function(acc, p)
      if std.length(acc) > 0 && oddBackslashes(acc[std.length(acc) - 1])
      then acc[:std.length(acc) - 1] + [acc[std.length(acc) - 1] + '"' + p]
      else acc + [p],
    std.split(action, '"'),
    []
  );
  local literalSel(before) =
    local quoted = std.strReplace(std.strReplace(sel, '\\', '\\\\'), '"', '\\"');
    if std.endsWith(std.rstripChars(before, ' '), 'printf') then std.strReplace(quoted, '%', '%%') else quoted;
  std.join('"', [
    if k % 2 == 1 then scope(literalSel(pieces[k - 1]), pieces[k]) else pieces[k]
    for k in std.range(0, std.length(pieces) - 1)
  ]);
local scopeTemplate(sel, text) =
  local n = std.length(text);
  local closes = std.findSubstr('}}', text);
  local closeAfter(o) = std.foldl(function(m, e) if e > o && e < m then e else m, closes, n);
  local actions = [{ o: o + 2, e: closeAfter(o) } for o in std.findSubstr('{{', text)];
  local k = std.length(actions);
  if k == 0 then text
  else text[:actions[0].o] + std.join('', [
    scopeAction(sel, text[actions[i].o:actions[i].e]) + text[actions[i].e:(if i + 1 < k then actions[i + 1].o else n)]
    for i in std.range(0, k - 1)
  ]);

{
  scope:: scope,
  scopeTemplate:: scopeTemplate,
  local c = $._config,
  local scoped(groups) = [
    g { rules: [r { expr: scope(c.exporterSelector, r.expr) } for r in g.rules] }
    for g in groups
  ],
  prometheusRules+:: { groups: scoped(super.groups) },
  prometheusAlerts+:: {
    groups: [
      g {
        rules: [
          if std.objectHas(r, 'annotations')
          then r { annotations: { [k]: scopeTemplate(c.exporterSelector, r.annotations[k]) for k in std.objectFields(r.annotations) } }
          else r
          for r in g.rules
        ],
      }
      for g in scoped(super.groups)
    ],
  },
}
