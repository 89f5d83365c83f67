#!/usr/bin/env bash
# The whole test suite: installs the real peers the end-to-end tests talk to (Debian packages and a
# Python virtual environment), runs every test of the workspace, and prints a one-line total.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vitals-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== peers for the end-to-end tests (crates/vitals/tests/peers.rs, alerting.rs, crates/probe/tests/blackbox_peer.rs)"
# Real peer binaries from Debian; the tests start and stop them themselves (no services).
missing=()
for p in prometheus prometheus-node-exporter victoria-metrics prometheus-alertmanager prometheus-blackbox-exporter openssl curl; do # package = binary name
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  # Any service a package starts is not used: the tests run the binaries on their own ports.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
# Python peers (prometheus_client target, OpenTelemetry SDK) in a virtual environment.
venv="${VITALS_VENV:-$HOME/.cache/vitals-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import prometheus_client, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
  "$venv/bin/pip" install --quiet prometheus-client opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
fi
export VITALS_PYTHON="$venv/bin/python"

echo "== tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --release 2>&1 | tee "$log"
# cargo's last "test result" line is often an empty doc-test run; print the real total last.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s; if (p == 0) exit 1 }' "$log"
