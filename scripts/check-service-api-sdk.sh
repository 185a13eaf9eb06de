#!/usr/bin/env bash
# Keeps the tests' fake Service API honest: CrowdSec's official Python SDK (PyPI crowdsec-service-api, pydantic models
# generated from the published OpenAPI spec) lists every integration from the fake, following its pages. Fails
# (non-zero exit) if the SDK rejects any answer.
#
# Needs python3 (>= 3.11, the SDK's floor) with pip, and cargo. Installs the SDK into target/sdk-venv (or, where
# `python3 -m venv` lacks ensurepip, into target/sdk-site with `pip install --target`).
# CROWDSEC_SDK_SPEC overrides what is installed. The default is pinned so that a new SDK release cannot change the
# result of an unchanged commit; raise it on purpose (and run this script) when CrowdSec publishes a new spec.
set -euo pipefail

cd "$(dirname "$0")/.."
spec="${CROWDSEC_SDK_SPEC:-crowdsec-service-api==1.135.0}"
venv=target/sdk-venv
site=target/sdk-site
mkdir -p target

python=""
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    python="$venv/bin/python"
elif python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    python="$venv/bin/python"
else
    echo "python3 -m venv is not usable here (no ensurepip?); installing with pip --target $site" >&2
    rm -rf "$venv"
fi

if [ -n "$python" ]; then
    "$python" -m pip install --quiet --disable-pip-version-check "$spec"
    run_python() { "$python" "$@"; }
else
    python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$site" "$spec"
    run_python() { PYTHONPATH="$PWD/$site${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }
fi
run_python -c 'import importlib.metadata as m; print("crowdsec-service-api", m.version("crowdsec-service-api"))'

cargo build --quiet --example fake_service_api
fake_bin=target/debug/examples/fake_service_api

key="sdk-check-$RANDOM$RANDOM"
export FAKE_SERVICE_API_KEY="$key"
tmp="$(mktemp -d)"
fake_pid=""
cleanup() {
    if [ -n "$fake_pid" ]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# The SDK's generated models trip a pydantic UserWarning at import (its own "next" field); it says nothing about the
# fake's answers, so it is silenced by its exact text and any other warning still shows.
export PYTHONWARNINGS='ignore:Field name "next" in "Links" shadows an attribute:UserWarning'

# One run per shape: total/pages given, and null (the spec allows both); several pages, then a single one.
for case in "250 0" "250 1" "3 0" "0 1"; do
    read -r count null_totals <<<"$case"
    FAKE_SERVICE_API_NULL_TOTALS="$null_totals" "$fake_bin" "$count" >"$tmp/port" &
    fake_pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/port" ] && break
        if ! kill -0 "$fake_pid" 2>/dev/null; then
            echo "the fake Service API did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
    port="$(head -n1 "$tmp/port")"
    if [ -z "$port" ]; then
        echo "the fake Service API printed no port" >&2
        exit 1
    fi
    echo "fake Service API: $count integrations, null totals: $null_totals, port $port"
    run_python tests/sdk/list_integrations.py "http://127.0.0.1:$port/v1" "$count"
    kill "$fake_pid"
    wait "$fake_pid" 2>/dev/null || true
    fake_pid=""
    : >"$tmp/port"
done
echo "crowdsec-service-api accepts every answer of the fake Service API"
