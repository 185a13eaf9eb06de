#!/usr/bin/env bash
# The rules, their tests, the exposition and the end-to-end alert path on the Prometheus/Alertmanager releases users
# run (issue 13). scripts/test.sh already runs all of it on bookworm's 2.42 + 0.25 (target/parts); this runs it on
#   trixie: Prometheus 2.53 + Alertmanager 0.28,   sid: Prometheus 3.5 + Alertmanager 0.33
# (scripts/fetch-prometheus-matrix.sh fetches them through a private apt state), each:
#   1. scripts/check-alerts.sh with that promtool/amtool: check rules, test rules (alerts/tests), amtool
#      check-config and routes, the rule lint;
#   2. promtool check config examples/prometheus.yml;
#   3. cargo test --test it scrape_protocols:: (every scrape protocol of that Prometheus reads the same series;
#      promtool check metrics) and e2e_alerts:: (real LAPI + bouncer -> exporter -> Prometheus -> Alertmanager);
# and on sid: promtool check rules --lint=all --lint-fatal (Prometheus 3's stricter linter).
# Usage: scripts/check-prometheus-matrix.sh [SUITE...]   (default: trixie sid)
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-prometheus-matrix: $*" >&2; }
suites=("$@")
((${#suites[@]})) || suites=(trixie sid)
scripts/fetch-prometheus-matrix.sh "${suites[@]}" >/dev/null
cargo test --quiet --no-run --test it 2>/dev/null
for suite in "${suites[@]}"; do
  dir="$REPO_DIR/target/parts-matrix/$suite"
  (
    # shellcheck disable=SC1091
    source "$dir/env.sh"
    log "$suite: Prometheus $PROMETHEUS_VERSION, Alertmanager $ALERTMANAGER_VERSION"
    scripts/check-alerts.sh >"$dir/check-alerts.log" 2>&1 || { cat "$dir/check-alerts.log"; log "$suite: check-alerts FAILED"; exit 1; }
    tail -n1 "$dir/check-alerts.log" >&2
    (cd examples && "$PROMTOOL_BIN" check config prometheus.yml >/dev/null) || { log "$suite: promtool check config FAILED"; exit 1; }
    if [[ "$suite" == sid ]]; then
      "$PROMTOOL_BIN" check rules --lint=all --lint-fatal alerts/*.rules.yml >/dev/null \
        || { "$PROMTOOL_BIN" check rules --lint=all --lint-fatal alerts/*.rules.yml; log "$suite: lint FAILED"; exit 1; }
      log "$suite: promtool check rules --lint=all --lint-fatal clean"
    fi
    PROMETHEUS_PARTS_DIR="$dir" cargo test --quiet --test it -- scrape_protocols:: e2e_alerts::
  )
done
log "ok: ${suites[*]}"
