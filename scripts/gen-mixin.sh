#!/usr/bin/env bash
# Write the files generated from the monitoring mixin (mixin/), then the copies scripts/gen-examples.py derives:
#   scripts/gen-mixin.sh           alerts/crowdsec-bouncers.rules.yml, dashboards/*.json (+ examples/kubernetes/*)
#   scripts/gen-mixin.sh --check   exit 1 if a committed file differs from what the mixin generates (drift)
# Needs Debian's (or PyPI's) jsonnet.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
command -v jsonnet >/dev/null || { echo "gen-mixin: needs jsonnet (apt-get install jsonnet)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/alerts" "$out/dashboards"
files="$(jsonnet -J mixin -S -m "$out" mixin/build.jsonnet)"
if [[ "${1:-}" == --check ]]; then
  stale=()
  while read -r f; do
    rel="${f#"$out"/}"
    cmp -s "$f" "$rel" || stale+=("$rel")
  done <<<"$files"
  # Once the mixin makes dashboards, a dashboard file it does not make is drift too.
  if compgen -G "$out/dashboards/*.json" >/dev/null; then
    for f in dashboards/*.json; do [[ -f "$out/$f" ]] || stale+=("$f (not made by the mixin)"); done
  fi
  if ((${#stale[@]})); then
    echo "gen-mixin: out of date (change mixin/ and run scripts/gen-mixin.sh): ${stale[*]}" >&2
    exit 1
  fi
  echo "gen-mixin: alerts/ and dashboards/ are what mixin/ generates" >&2
  exit 0
fi
while read -r f; do
  rel="${f#"$out"/}"
  cp "$f" "$rel"
  echo "wrote $rel" >&2
done <<<"$files"
python3 scripts/gen-examples.py
