#!/usr/bin/env bash
# Check the deployment examples and the dashboards' generated copies (issue 6):
#   1. scripts/gen-examples.py --check: dashboards/*.json, the Kubernetes PrometheusRule and dashboard ConfigMap are
#      what the generator writes from alerts/ (no drift);
#   2. promtool check config examples/prometheus.yml (also checks the rule file it loads);
#   3. amtool check-config alerts/alertmanager.example.yml (the one Alertmanager example; docker-compose mounts it);
#   4. bash -n on the demo and the scripts it uses;
#   5. systemd-analyze verify on the systemd unit, when systemd-analyze exists (tests/it/examples.rs checks the unit's
#      hardening directives everywhere).
# YAML of docker-compose and Kubernetes, and their references, are checked by tests/it/examples.rs (cargo test).
# promtool/amtool: $PROMTOOL_BIN/$AMTOOL_BIN, else target/parts/env.sh (scripts/fetch-parts.sh writes it).
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
log() { echo "check-examples: $*" >&2; }

if [[ -z "${PROMTOOL_BIN:-}" || -z "${AMTOOL_BIN:-}" ]]; then
  [[ -f target/parts/env.sh ]] || scripts/fetch-parts.sh >/dev/null
  # shellcheck disable=SC1091
  source target/parts/env.sh
fi
[[ -x "${PROMTOOL_BIN:-}" && -x "${AMTOOL_BIN:-}" ]] || { log "promtool/amtool not found: run scripts/fetch-parts.sh"; exit 1; }

log "generated files in sync (scripts/gen-examples.py --check)"
python3 scripts/gen-examples.py --check

log "promtool check config examples/prometheus.yml"
(cd examples && "$PROMTOOL_BIN" check config prometheus.yml >/dev/null)

log "amtool check-config alerts/alertmanager.example.yml"
"$AMTOOL_BIN" check-config alerts/alertmanager.example.yml >/dev/null

log "bash -n examples/demo/run.sh"
bash -n examples/demo/run.sh

if command -v systemd-analyze >/dev/null; then
  log "systemd-analyze verify examples/systemd/crowdsec-bouncer-exporter.service"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # verify wants ExecStart's binary to exist: point it at one that does.
  sed "s|/usr/local/bin/crowdsec-bouncer-exporter|$(command -v true)|" \
    examples/systemd/crowdsec-bouncer-exporter.service >"$tmp/crowdsec-bouncer-exporter.service"
  out="$(systemd-analyze verify "$tmp/crowdsec-bouncer-exporter.service" 2>&1)" || { echo "$out" >&2; exit 1; }
  if grep -v -e '^$' <<<"$out" | grep -q .; then echo "$out" >&2; log "systemd-analyze verify printed warnings"; exit 1; fi
else
  log "systemd-analyze not installed: unit checked by tests/it/examples.rs only"
fi
log "ok"
