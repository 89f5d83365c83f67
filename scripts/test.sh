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
for p in prometheus prometheus-node-exporter victoria-metrics prometheus-alertmanager prometheus-blackbox-exporter openssl curl chromium; do # package = binary name
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

echo "== UI unit tests (ui/, vitest)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && NO_COLOR=1 npm test) 2>&1 | tee -a "$log"

echo "== tests"
cargo test --workspace --release 2>&1 | tee -a "$log"

echo "== UI end-to-end tests (ui/e2e: Debian's chromium driven by playwright-core against the release binary)"
export VITALS_BIN="$CARGO_TARGET_DIR/release/vitals"
export VITALS_E2E_ARTIFACTS="${VITALS_E2E_ARTIFACTS:-$PWD/ui/e2e/artifacts}"
cargo build --release -p vitals
(cd ui && NO_COLOR=1 npm run e2e) 2>&1 | tee -a "$log"
echo "screenshots of every page: $VITALS_E2E_ARTIFACTS"
# cargo's last "test result" line is often an empty doc-test run; print the real total last, adding
# vitest's "Tests  N passed (N)" and node --test's "# pass N" / "# fail N" / "# skipped N" lines.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     /^ *Tests +[0-9]/ { for (i = 1; i <= NF; i++) { if ($(i) == "passed") p += $(i-1); if ($(i) == "failed") f += $(i-1); if ($(i) == "skipped") s += $(i-1) } }
     /^# (pass|fail|skipped) [0-9]+$/ { if ($2 == "pass") p += $3; if ($2 == "fail") f += $3; if ($2 == "skipped") s += $3 }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s; if (p == 0 || f > 0) exit 1 }' "$log"
