#!/usr/bin/env bash
# Browser benchmark of the web UI (bundle size, time to first chart, 20 × 10k render, live push latency):
# builds ui/ into ui/dist, then runs bench/ui/run.mjs (playwright-core + Debian's chromium) against
# `vitals serve` with VITALS_UI_DIR=ui/dist. Prints a markdown table; raw numbers in bench/ui/results.json.
# See bench/ui/README.md for what is measured and the environment variables.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench/ui
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export UI_DIR=${UI_DIR:-$ROOT/ui/dist}
BUILD_UI=${BUILD_UI:-1}

log() { printf '[ui-bench] %s\n' "$*" >&2; }

if [ ! -x "$CHROMIUM" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		log "installing Debian's chromium"
		apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
	else
		log "no chromium at $CHROMIUM (apt-get install -y chromium)"
		exit 2
	fi
fi
command -v prometheus >/dev/null || log "prometheus not on PATH: the peer column is skipped (apt-get install -y prometheus)"

if [ ! -d "$BENCH/node_modules/playwright-core" ]; then
	log "npm ci in bench/ui"
	(cd "$BENCH" && npm ci --no-audit --no-fund >&2)
fi

if [ "$BUILD_UI" = 1 ]; then
	cd "$ROOT/ui"
	# npm ci only when needed (it empties node_modules first, which disturbs anyone using it meanwhile)
	if [ "${UI_NPM_CI:-0}" = 1 ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		log "npm ci in ui"
		npm ci --no-audit --no-fund >&2
	fi
	log "npm run build in ui"
	npm run build >&2
	cd "$ROOT"
fi

exec node "$BENCH/run.mjs" "$@"
