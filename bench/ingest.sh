#!/usr/bin/env bash
# Ingest benchmark: feeds the same synthetic scrape targets to vitals (`vitals serve`), Prometheus 2.42 and
# VictoriaMetrics 1.79 in one run and prints, for each, samples/s ingested, CPU-seconds per million samples, peak RSS
# per active series and disk bytes per sample (compressed, persisted), plus remote_write receive throughput
# (samples/s and samples per receiver CPU-second, load from `rw-load`), as a markdown table on stdout plus raw
# numbers as JSON.
#
# Environment (defaults in brackets):
#   SERIES [100000]            active series in the live phase (split into targets of SERIES_PER_TARGET)
#   SERIES_PER_TARGET [2000]   series per synthetic target
#   DURATION [180]             measured seconds per system in the live phase
#   WARMUP [30]                seconds per system before the measured window (excluded)
#   DISK_HOURS [6]             hours of backfill for the disk phase
#   DISK_TARGETS [1]           targets (of SERIES_PER_TARGET series) in the disk phase
#   SYSTEMS ["vitals prometheus victoriametrics"]   which systems to run
#   PHASES ["live disk rw"]    which phases to run
#   VITALS_LIVE [serve]        live phase driver for vitals: serve (`vitals serve` scrapes) or ingest (the older
#                              `vitals-ingest scrape`, storage engine plus a minimal scraper, for comparison)
#   RW_SERIES [SERIES]         series sent in the remote_write phase
#   RW_CONCURRENCY [4]         concurrent keep-alive connections of rw-load
#   RW_DURATION [DURATION], RW_WARMUP [WARMUP]   measured / warm-up seconds per receiver in the rw phase
#   OUT_JSON [bench/results/ingest-<utc time>.json] where the raw numbers go
#   BIN_DIR                    use the binaries there instead of running cargo build
#   KEEP_WORK [0]              1 keeps the temporary directory (data dirs, logs) for inspection
#   PROMETHEUS, PROMTOOL, VICTORIA_METRICS   peer binaries [prometheus, promtool, victoria-metrics]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIES=${SERIES:-100000}
SERIES_PER_TARGET=${SERIES_PER_TARGET:-2000}
DURATION=${DURATION:-180}
WARMUP=${WARMUP:-30}
DISK_HOURS=${DISK_HOURS:-6}
DISK_TARGETS=${DISK_TARGETS:-1}
SYSTEMS=${SYSTEMS:-"vitals prometheus victoriametrics"}
PHASES=${PHASES:-"live disk rw"}
VITALS_LIVE=${VITALS_LIVE:-serve}
RW_SERIES=${RW_SERIES:-$SERIES}
RW_CONCURRENCY=${RW_CONCURRENCY:-4}
RW_DURATION=${RW_DURATION:-$DURATION}
RW_WARMUP=${RW_WARMUP:-$WARMUP}
OUT_JSON=${OUT_JSON:-$ROOT/bench/results/ingest-$(date -u +%Y%m%dT%H%M%SZ).json}
KEEP_WORK=${KEEP_WORK:-0}
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
VICTORIA_METRICS=${VICTORIA_METRICS:-victoria-metrics}
INTERVAL=5
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[ingest %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

PIDS=()
WORK=$(mktemp -d -t vitals-ingest.XXXXXX)
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [[ $KEEP_WORK == 1 ]]; then
		log "kept work dir $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has() { [[ " $1 " == *" $2 "* ]]; }

# Remembers a started child so that cleanup stops it.
track() { PIDS+=("$1"); }

# Stops one child we started (SIGTERM, then SIGKILL after 30 s) and forgets it.
stop() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	for i in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

USED_PORTS=" "
free_port() {
	local p
	for _ in $(seq 500); do
		p=$((20000 + RANDOM % 40000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			USED_PORTS+="$p "
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_http URL SECONDS PID: waits until URL answers 2xx while PID lives.
wait_http() {
	local url=$1 deadline=$((SECONDS + $2)) pid=$3
	until curl -sf -o /dev/null "$url"; do
		kill -0 "$pid" 2>/dev/null || die "process $pid exited while waiting for $url"
		((SECONDS < deadline)) || die "timeout waiting for $url"
		sleep 0.5
	done
}

# CPU ticks (utime + stime) of a process, from /proc/PID/stat (fields after the command name).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# Peak resident set size in bytes (VmHWM).
hwm_bytes() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
# Sleeps in the background so that a signal interrupts the wait and runs the cleanup at once.
nap() {
	sleep "$1" &
	wait $!
}
# Sum of all samples of metric NAME (any labels; EXTRA is an extra regex on the label part) at a /metrics URL.
metric_sum() {
	curl -sf "$1" | awk -v name="$2" -v extra="${3:-}" '
		index($0, name) == 1 {
			rest = substr($0, length(name) + 1)
			if (rest !~ /^[{ ]/) next
			if (extra != "" && rest !~ extra) next
			s += $NF
		}
		END { printf "%.0f\n", s }'
}
# Scalar result of an instant PromQL query against a Prometheus-compatible API.
query_scalar() {
	curl -sf --get --data-urlencode "query=$2" "$1/api/v1/query" |
		sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}
served_samples() { curl -sf "$TARGET_URL/stats" | awk '$1 == "samples" { print $2 }'; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
calc_int() { awk "BEGIN { printf \"%.0f\", $* }"; }
json_field() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | tail -1; }

declare -A R # results: R[system.metric]

# ---------------------------------------------------------------------------------------------------------------
# Build
if [[ -z ${BIN_DIR:-} ]]; then
	log "building vitals and the bench tools (cargo build --release -p vitals -p vitals-bench)"
	(cd "$ROOT" && cargo build --release -p vitals -p vitals-bench) >&2
	BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
for b in synth-target synth-gen; do
	[[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b missing"
done
VITALS=${VITALS:-$BIN_DIR/vitals}
VITALS_INGEST=$BIN_DIR/vitals-ingest
RW_LOAD=$BIN_DIR/rw-load
if has "$SYSTEMS" vitals; then
	for b in "$VITALS" "$VITALS_INGEST"; do
		if [[ ! -x $b ]]; then
			log "SKIP vitals: $b does not exist"
			SYSTEMS=${SYSTEMS//vitals/}
			VITALS_SKIPPED=1
			break
		fi
	done
fi
if has "$PHASES" rw; then
	[[ -x $RW_LOAD ]] || die "$RW_LOAD missing (bin 'rw-load' of crate vitals-bench)"
fi
if has "$SYSTEMS" prometheus; then
	command -v "$PROMETHEUS" >/dev/null || die "prometheus not found (apt-get install -y prometheus)"
	command -v "$PROMTOOL" >/dev/null || die "promtool not found (apt-get install -y prometheus)"
fi
if has "$SYSTEMS" victoriametrics; then
	command -v "$VICTORIA_METRICS" >/dev/null || die "victoria-metrics not found (apt-get install -y victoria-metrics)"
fi

# ---------------------------------------------------------------------------------------------------------------
# Live phase: all systems scrape the same synth-target, one after the other.
if ((SERIES < SERIES_PER_TARGET)); then SERIES_PER_TARGET=$SERIES; fi
TARGETS=$(((SERIES + SERIES_PER_TARGET - 1) / SERIES_PER_TARGET))

# measure_window NAME PID METRICS_URL METRIC [LABEL_REGEX]: warm-up, then CPU, samples and RSS over DURATION.
measure_window() {
	local name=$1 pid=$2 url=$3 metric=$4 extra=${5:-}
	log "$name: warm-up ${WARMUP}s"
	nap "$WARMUP"
	kill -0 "$pid" 2>/dev/null || die "$name exited during warm-up"
	local c0 s0 v0 t0 c1 s1 v1 t1
	c0=$(cpu_ticks "$pid") s0=$(metric_sum "$url" "$metric" "$extra") v0=$(served_samples) t0=$(now)
	log "$name: measuring ${DURATION}s"
	nap "$DURATION"
	c1=$(cpu_ticks "$pid") s1=$(metric_sum "$url" "$metric" "$extra") v1=$(served_samples) t1=$(now)
	record_live "$name" "$(calc "$t1 - $t0")" "$((s1 - s0))" "$(calc "($c1 - $c0) / $CLK_TCK")" "$(hwm_bytes "$pid")" \
		"$((v1 - v0))"
}

# record_live NAME ELAPSED SAMPLES CPU_SECONDS PEAK_RSS SERVED
record_live() {
	local name=$1 elapsed=$2 samples=$3 cpu=$4 rss=$5 served=$6
	local expected
	expected=$(calc_int "$SERIES_TOTAL * $elapsed / $INTERVAL")
	log "$name: $samples samples in ${elapsed}s (target served $served, expected ~$expected)," \
		"cpu ${cpu}s, peak rss ${rss}B"
	((samples > 0)) || die "$name ingested nothing"
	if (($(calc_int "$samples < 0.9 * $expected"))); then
		die "$name ingested $samples samples, expected ~$expected"
	fi
	R[$name.live_seconds]=$elapsed
	R[$name.live_samples]=$samples
	R[$name.served_samples]=$served
	R[$name.cpu_seconds]=$cpu
	R[$name.peak_rss_bytes]=$rss
	R[$name.samples_per_second]=$(calc "$samples / $elapsed")
	R[$name.cpu_seconds_per_million_samples]=$(calc "$cpu * 1000000 / $samples")
	R[$name.rss_bytes_per_series]=$(calc "$rss / $SERIES_TOTAL")
}

# check_up NAME API_URL: every target must be up in the system's own `up` series.
check_up() {
	check_up_count "$1" "$(query_scalar "$2" 'count(up == 1)')"
}

# check_up_count NAME UP: fails unless UP is the number of targets.
check_up_count() {
	local up=${2:-0}
	log "$1: $up of $TARGETS targets up"
	[[ $up == "$TARGETS" ]] || die "$1: only $up of $TARGETS targets are up"
}

live_prometheus() {
	local dir=$WORK/live-prometheus port pid
	mkdir -p "$dir"
	port=$(free_port)
	"$PROMETHEUS" --config.file="$WORK/scrape.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "http://127.0.0.1:$port/-/ready" 60 "$pid"
	measure_window prometheus "$pid" "http://127.0.0.1:$port/metrics" prometheus_tsdb_head_samples_appended_total
	check_up prometheus "http://127.0.0.1:$port"
	R[prometheus.head_series]=$(metric_sum "http://127.0.0.1:$port/metrics" prometheus_tsdb_head_series)
	stop "$pid"
}

live_victoriametrics() {
	local dir=$WORK/live-victoriametrics port pid
	mkdir -p "$dir"
	port=$(free_port)
	"$VICTORIA_METRICS" -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y \
		-promscrape.config="$WORK/scrape.yml" -loggerLevel=WARN >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "http://127.0.0.1:$port/health" 60 "$pid"
	measure_window victoriametrics "$pid" "http://127.0.0.1:$port/metrics" vm_rows_inserted_total 'type="promscrape"'
	check_up victoriametrics "http://127.0.0.1:$port"
	stop "$pid"
}

# vitals has no PromQL API yet: targets up from /api/v1/targets (Prometheus' JSON), cross-checked with the
# gauge vitals_scrape_targets{health="up"} on /metrics.
live_vitals_serve() {
	local dir=$WORK/live-vitals port pid url up gauge
	mkdir -p "$dir"
	port=$(free_port)
	url=http://127.0.0.1:$port
	"$VITALS" serve --config "$WORK/scrape.yml" --storage.path "$dir/data" --listen "127.0.0.1:$port" \
		>"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "$url/-/ready" 60 "$pid"
	measure_window vitals "$pid" "$url/metrics" vitals_tsdb_samples_appended_total
	up=$(curl -sf "$url/api/v1/targets?state=active" | grep -o '"health": *"up"' | wc -l)
	gauge=$(metric_sum "$url/metrics" vitals_scrape_targets 'health="up"')
	[[ $up == "$gauge" ]] || log "vitals: /api/v1/targets says $up up, vitals_scrape_targets{health=\"up\"} $gauge"
	check_up_count vitals "$up"
	R[vitals.head_series]=$(metric_sum "$url/metrics" vitals_tsdb_head_series)
	R[vitals.scrape_driver]='"serve"'
	if grep -qE ' (WARN|ERROR) ' "$dir/log"; then
		log "vitals: warnings/errors in its log:"
		grep -E ' (WARN|ERROR) ' "$dir/log" | head -5 >&2
	fi
	stop "$pid"
}

live_vitals() {
	case $VITALS_LIVE in
	serve) live_vitals_serve ;;
	ingest) live_vitals_ingest ;;
	*) die "VITALS_LIVE=$VITALS_LIVE: use serve or ingest" ;;
	esac
}

# The older driver: vitals-ingest scrape (storage engine plus a minimal scraper; no HTTP server).
live_vitals_ingest() {
	local dir=$WORK/live-vitals pid c0='' v0='' t0='' c1='' t1='' rss='' vstart run=$((WARMUP + DURATION))
	mkdir -p "$dir"
	vstart=$(served_samples)
	"$VITALS_INGEST" scrape --data "$dir/data" --targets-file "$WORK/targets.txt" --interval "${INTERVAL}s" \
		--duration "${run}s" >"$dir/out" 2>"$dir/log" &
	pid=$!
	track "$pid"
	log "vitals: warm-up ${WARMUP}s, then measuring until vitals-ingest exits (--duration ${run}s)"
	local start=$SECONDS c h
	while kill -0 "$pid" 2>/dev/null; do
		if [[ -z $c0 ]] && ((SECONDS - start >= WARMUP)); then
			c0=$(cpu_ticks "$pid" 2>/dev/null) || break
			v0=$(served_samples) t0=$(now)
		fi
		if [[ -n $c0 ]]; then
			# Last values seen while the process is still alive: the end of the window.
			c=$(cpu_ticks "$pid" 2>/dev/null) && h=$(hwm_bytes "$pid" 2>/dev/null) && [[ -n $h ]] &&
				c1=$c rss=$h t1=$(now)
		fi
		sleep 0.5
	done
	local rc=0
	wait "$pid" || rc=$?
	stop "$pid"
	((rc == 0)) || die "vitals-ingest scrape exited with $rc (see $dir/log): $(tail -3 "$dir/log")"
	[[ -n $c0 && -n $c1 ]] || die "vitals-ingest scrape exited before the measured window"
	local total warm
	total=$(json_field "$dir/out" samples)
	[[ -n $total ]] || die "vitals-ingest printed no {\"samples\": N} line: $(cat "$dir/out")"
	# Samples ingested during the warm-up are taken as those the targets served to it by then.
	warm=$((v0 - vstart))
	record_live vitals "$(calc "$t1 - $t0")" "$((total - warm))" "$(calc "($c1 - $c0) / $CLK_TCK")" "$rss" \
		"$(($(served_samples) - v0))"
	R[vitals.scrape_driver]='"vitals-ingest"'
}

if has "$PHASES" live; then
	TARGET_OUT=$WORK/synth-target.out
	"$BIN_DIR/synth-target" --listen 127.0.0.1:0 --targets "$TARGETS" --series-per-target "$SERIES_PER_TARGET" \
		>"$TARGET_OUT" 2>"$WORK/synth-target.log" &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		grep -q series_total "$TARGET_OUT" && break
		sleep 0.1
	done
	TARGET_URL=$(sed -n 's/^listening on //p' "$TARGET_OUT")
	SERIES_TOTAL=$(sed -n 's/.*series_total \([0-9]*\).*/\1/p' "$TARGET_OUT")
	[[ -n $TARGET_URL && -n $SERIES_TOTAL ]] || die "synth-target did not start: $(cat "$WORK/synth-target.log")"
	TARGET_ADDR=${TARGET_URL#http://}
	log "synth-target at $TARGET_URL: $TARGETS targets, $SERIES_TOTAL series"
	{
		printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: 4s\nscrape_configs:\n  - job_name: synth\n' "$INTERVAL"
		printf '    static_configs:\n'
		for ((i = 0; i < TARGETS; i++)); do
			printf "      - targets: ['%s']\n        labels: {__metrics_path__: /metrics/%d, instance: synth-%d}\n" \
				"$TARGET_ADDR" "$i" "$i"
		done
	} >"$WORK/scrape.yml"
	for ((i = 0; i < TARGETS; i++)); do echo "$TARGET_URL/metrics/$i"; done >"$WORK/targets.txt"

	for s in $SYSTEMS; do "live_$s"; done
	stop "$TARGET_PID"
fi

# ---------------------------------------------------------------------------------------------------------------
# Disk phase: the same backfill for all; bytes of compressed, persisted data (index included, WAL excluded).
disk_prometheus() {
	local dir=$WORK/disk-prometheus n
	log "prometheus: promtool tsdb create-blocks-from openmetrics"
	"$PROMTOOL" tsdb create-blocks-from openmetrics "$WORK/backfill.om" "$dir" >"$WORK/promtool.log" 2>&1 ||
		die "promtool failed: $(tail -5 "$WORK/promtool.log")"
	n=$(cat "$dir"/*/meta.json | grep -o '"numSamples": *[0-9]*' | awk -F: '{ s += $2 } END { printf "%.0f\n", s }')
	[[ $n == "$DISK_SAMPLES" ]] || die "prometheus blocks hold $n samples, expected $DISK_SAMPLES"
	R[prometheus.disk_bytes]=$(du -sb "$dir" | cut -f1)
	R[prometheus.disk_blocks]=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | wc -l)
}

# vm_settle URL: waits until no VictoriaMetrics merge has been running for 3 s in a row.
vm_settle() {
	local quiet=0 m
	for _ in $(seq 600); do
		m=$(metric_sum "$1/metrics" vm_active_merges)
		if [[ $m == 0 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
		((quiet >= 3)) && return
		sleep 1
	done
	die "victoriametrics merges did not finish"
}

disk_victoriametrics() {
	local dir=$WORK/disk-victoriametrics port pid url rows month
	mkdir -p "$dir"
	port=$(free_port)
	url=http://127.0.0.1:$port
	"$VICTORIA_METRICS" -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y \
		-loggerLevel=WARN >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "$url/health" 60 "$pid"
	log "victoriametrics: importing $(du -h "$WORK/backfill.prom" | cut -f1) via /api/v1/import/prometheus"
	curl -sSf -X POST -T "$WORK/backfill.prom" -H 'Content-Type: text/plain' "$url/api/v1/import/prometheus" ||
		die "victoriametrics import failed"
	curl -sSf "$url/internal/force_flush" >/dev/null
	vm_settle "$url"
	# Force-merge every month until the number of parts stops going down.
	local parts=-1 prev
	for _ in $(seq 5); do
		prev=$parts
		for month in $DISK_MONTHS; do
			curl -sSf "$url/internal/force_merge?partition_prefix=$month" >/dev/null
		done
		vm_settle "$url"
		parts=$(metric_sum "$url/metrics" vm_parts 'type="storage/')
		log "victoriametrics: $parts part(s) after force_merge"
		[[ $parts == "$prev" ]] && break
	done
	rows=$(metric_sum "$url/metrics" vm_rows 'type="storage/')
	[[ $rows == "$DISK_SAMPLES" ]] || die "victoriametrics stores $rows rows, expected $DISK_SAMPLES"
	R[victoriametrics.disk_parts]=$(metric_sum "$url/metrics" vm_parts 'type="storage/')
	stop "$pid" # graceful shutdown persists everything still in memory
	R[victoriametrics.disk_data_bytes]=$(du -sb "$dir/data/data" | cut -f1)
	R[victoriametrics.disk_index_bytes]=$(du -sb "$dir/data/indexdb" | cut -f1)
	R[victoriametrics.disk_bytes]=$((${R[victoriametrics.disk_data_bytes]} + ${R[victoriametrics.disk_index_bytes]}))
}

disk_vitals() {
	local dir=$WORK/disk-vitals n
	mkdir -p "$dir"
	log "vitals: vitals-ingest import"
	"$VITALS_INGEST" import --data "$dir/data" "$WORK/backfill.prom" >"$dir/out" 2>"$dir/log" ||
		die "vitals-ingest import failed: $(tail -3 "$dir/log")"
	n=$(json_field "$dir/out" samples)
	[[ $n == "$DISK_SAMPLES" ]] || die "vitals imported ${n:-no} samples, expected $DISK_SAMPLES"
	R[vitals.disk_reported_bytes]=$(json_field "$dir/out" bytes)
	[[ -d $dir/data/blocks ]] || die "vitals-ingest import left no $dir/data/blocks"
	R[vitals.disk_bytes]=$(du -sb "$dir/data/blocks" | cut -f1)
}

if has "$PHASES" disk; then
	END_MS=$(($(date +%s) * 1000))
	gen=("$BIN_DIR/synth-gen" --hours "$DISK_HOURS" --targets "$DISK_TARGETS" --series-per-target "$SERIES_PER_TARGET"
		--end-ms "$END_MS")
	log "disk: generating ${DISK_HOURS}h x $DISK_TARGETS target(s) of $SERIES_PER_TARGET series"
	"${gen[@]}" --format prom --out "$WORK/backfill.prom" 2>"$WORK/gen-prom.log" ||
		die "synth-gen: $(cat "$WORK/gen-prom.log")"
	DISK_SAMPLES=$(sed -n 's/^samples=\([0-9]*\).*/\1/p' "$WORK/gen-prom.log")
	first_ms=$(sed -n 's/.* first_ms=\([0-9]*\).*/\1/p' "$WORK/gen-prom.log")
	DISK_MONTHS=$(for ((t = first_ms / 1000; t <= END_MS / 1000 + 86400; t += 86400)); do
		date -u -d "@$t" +%Y_%m
	done | sort -u | tr '\n' ' ')
	log "disk: $DISK_SAMPLES samples"
	if has "$SYSTEMS" prometheus; then
		"${gen[@]}" --format openmetrics --out "$WORK/backfill.om" 2>"$WORK/gen-om.log" ||
			die "synth-gen: $(cat "$WORK/gen-om.log")"
		om_samples=$(sed -n 's/^samples=\([0-9]*\).*/\1/p' "$WORK/gen-om.log")
		[[ $om_samples == "$DISK_SAMPLES" ]] || die "openmetrics and prom backfills differ in size"
		disk_prometheus
		rm -f "$WORK/backfill.om"
	fi
	for s in $SYSTEMS; do
		[[ $s == prometheus ]] || "disk_$s"
	done
	for s in $SYSTEMS; do
		R[$s.disk_samples]=$DISK_SAMPLES
		R[$s.disk_bytes_per_sample]=$(calc "${R[$s.disk_bytes]} / $DISK_SAMPLES")
	done
	rm -f "$WORK/backfill.prom"
fi

# ---------------------------------------------------------------------------------------------------------------
# remote_write receive phase: rw-load sends the synth-target series mix as remote_write 1.0 requests (2000 samples
# each, RW_CONCURRENCY keep-alive connections, every series' timestamps increasing) to each receiver alone; the
# script measures the receiver's own counter and its CPU (/proc/PID/stat) over the window after the warm-up, then
# checks that the receiver stored what rw-load saw acknowledged.

# rw_measure NAME PID WRITE_URL METRICS_URL METRIC [LABEL_REGEX]
rw_measure() {
	local name=$1 pid=$2 write_url=$3 url=$4 metric=$5 extra=${6:-} dir=$WORK/rw-$1 lpid
	local c0 s0 t0 l0 c1 s1 t1 l1 total acked failed failed_samples
	"$RW_LOAD" --url "$write_url" --series "$RW_SERIES" --series-per-target "$SERIES_PER_TARGET" \
		--concurrency "$RW_CONCURRENCY" --duration "$((RW_WARMUP + RW_DURATION + 3))s" >"$dir/load.out" \
		2>"$dir/load.log" &
	lpid=$!
	track "$lpid"
	for _ in $(seq 600); do
		grep -q '^rw-load: sending' "$dir/load.log" && break
		kill -0 "$lpid" 2>/dev/null || die "rw-load exited: $(cat "$dir/load.log")"
		sleep 0.1
	done
	log "$name: remote_write warm-up ${RW_WARMUP}s ($(sed -n 's/^rw-load: //p' "$dir/load.log" | head -1))"
	nap "$RW_WARMUP"
	kill -0 "$pid" 2>/dev/null || die "$name exited during the remote_write warm-up: $(tail -3 "$WORK/rw-$name/log")"
	c0=$(cpu_ticks "$pid") l0=$(cpu_ticks "$lpid") s0=$(metric_sum "$url" "$metric" "$extra") t0=$(now)
	log "$name: measuring ${RW_DURATION}s"
	nap "$RW_DURATION"
	c1=$(cpu_ticks "$pid") l1=$(cpu_ticks "$lpid") s1=$(metric_sum "$url" "$metric" "$extra") t1=$(now)
	kill -0 "$lpid" 2>/dev/null || die "rw-load ended before the measured window did"
	local rc=0
	wait "$lpid" || rc=$?
	stop "$lpid"
	((rc == 0)) || die "rw-load exited with $rc: $(tail -3 "$dir/load.log")"
	acked=$(json_field "$dir/load.out" samples)
	failed=$(json_field "$dir/load.out" failed)
	failed_samples=$(json_field "$dir/load.out" failed_samples)
	[[ -n $acked ]] || die "rw-load printed no {\"samples\": N} line: $(cat "$dir/load.out")"
	total=$(metric_sum "$url" "$metric" "$extra")
	local samples=$((s1 - s0)) elapsed cpu
	elapsed=$(calc "$t1 - $t0")
	cpu=$(calc "($c1 - $c0) / $CLK_TCK")
	log "$name: $samples samples in ${elapsed}s, receiver cpu ${cpu}s, rw-load cpu $(calc "($l1 - $l0) / $CLK_TCK")s;" \
		"whole run: $acked acknowledged, $total stored, $failed failed request(s) ($failed_samples samples)"
	if ((failed > 0)); then
		log "$name: first failures seen by rw-load:"
		grep 'request failed' "$dir/load.log" | head -3 >&2
	fi
	((samples > 0)) || die "$name received nothing in the window"
	# A receiver must store every acknowledged sample, and nothing beyond the failed requests' samples.
	((total >= acked && total <= acked + failed_samples)) ||
		die "$name stored $total samples but acknowledged $acked (+ $failed_samples in failed requests)"
	R[$name.rw_seconds]=$elapsed
	R[$name.rw_samples]=$samples
	R[$name.rw_cpu_seconds]=$cpu
	R[$name.rw_client_cpu_seconds]=$(calc "($l1 - $l0) / $CLK_TCK")
	R[$name.rw_acked_samples]=$acked
	R[$name.rw_stored_samples]=$total
	R[$name.rw_failed_requests]=$failed
	R[$name.rw_requests]=$(json_field "$dir/load.out" requests)
	R[$name.rw_compressed_bytes]=$(json_field "$dir/load.out" bytes)
	R[$name.rw_peak_rss_bytes]=$(hwm_bytes "$pid")
	R[$name.rw_samples_per_second]=$(calc "$samples / $elapsed")
	R[$name.rw_samples_per_cpu_second]=$(calc "$samples / $cpu")
}

rw_vitals() {
	local dir=$WORK/rw-vitals port pid url
	mkdir -p "$dir"
	: >"$dir/empty.yml"
	port=$(free_port)
	url=http://127.0.0.1:$port
	"$VITALS" serve --config "$dir/empty.yml" --storage.path "$dir/data" --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "$url/-/ready" 60 "$pid"
	rw_measure vitals "$pid" "$url/api/v1/write" "$url/metrics" vitals_tsdb_samples_appended_total
	if grep -qE ' (WARN|ERROR) ' "$dir/log"; then
		log "vitals: warnings/errors in its log:"
		grep -E ' (WARN|ERROR) ' "$dir/log" | head -5 >&2
	fi
	stop "$pid"
}

rw_prometheus() {
	local dir=$WORK/rw-prometheus port pid url
	mkdir -p "$dir"
	: >"$dir/empty.yml"
	port=$(free_port)
	url=http://127.0.0.1:$port
	"$PROMETHEUS" --config.file="$dir/empty.yml" --storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$port" \
		--web.enable-remote-write-receiver --log.level=warn >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "$url/-/ready" 60 "$pid"
	rw_measure prometheus "$pid" "$url/api/v1/write" "$url/metrics" prometheus_tsdb_head_samples_appended_total
	stop "$pid"
}

rw_victoriametrics() {
	local dir=$WORK/rw-victoriametrics port pid url
	mkdir -p "$dir"
	port=$(free_port)
	url=http://127.0.0.1:$port
	"$VICTORIA_METRICS" -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y \
		-loggerLevel=WARN >"$dir/log" 2>&1 &
	pid=$!
	track "$pid"
	wait_http "$url/health" 60 "$pid"
	rw_measure victoriametrics "$pid" "$url/api/v1/write" "$url/metrics" vm_rows_inserted_total 'type="promremotewrite"'
	stop "$pid"
}

if has "$PHASES" rw; then
	for s in $SYSTEMS; do "rw_$s"; done
fi

# ---------------------------------------------------------------------------------------------------------------
# Report
get() { echo "${R[$1.$2]:-}"; }
fmt() { if [[ -z $1 ]]; then echo "n/a"; else awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; fi; }
ratio() { if [[ -z $1 || -z $2 ]]; then echo "n/a"; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; fi; }
row() {
	local label=$1 key=$2 dec=$3
	local v p m
	v=$(get vitals "$key") p=$(get prometheus "$key") m=$(get victoriametrics "$key")
	printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(fmt "$v" "$dec")" "$(fmt "$p" "$dec")" "$(fmt "$m" "$dec")" \
		"$(ratio "$v" "$p")" "$(ratio "$v" "$m")"
}

mkdir -p "$(dirname "$OUT_JSON")"
{
	printf '{\n  "series": %s, "targets": %s, "interval_seconds": %s, "duration_seconds": %s, "warmup_seconds": %s,\n' \
		"${SERIES_TOTAL:-null}" "$TARGETS" "$INTERVAL" "$DURATION" "$WARMUP"
	printf '  "disk_hours": %s, "disk_targets": %s, "disk_samples": %s,\n' \
		"$DISK_HOURS" "$DISK_TARGETS" "${DISK_SAMPLES:-null}"
	printf '  "rw_series": %s, "rw_concurrency": %s, "rw_duration_seconds": %s, "rw_warmup_seconds": %s,\n' \
		"$RW_SERIES" "$RW_CONCURRENCY" "$RW_DURATION" "$RW_WARMUP"
	printf '  "systems": {'
	sep=''
	for s in vitals prometheus victoriametrics; do
		printf '%s\n    "%s": {' "$sep" "$s"
		sep=','
		isep=''
		for k in $(printf '%s\n' "${!R[@]}" | sed -n "s/^$s\.//p" | sort); do
			printf '%s"%s": %s' "$isep" "$k" "${R[$s.$k]}"
			isep=', '
		done
		printf '}'
	done
	printf '\n  }\n}\n'
} >"$OUT_JSON"
log "raw numbers: $OUT_JSON"

live="${SERIES_TOTAL:-no} active series ($TARGETS targets), ${INTERVAL}s scrapes,"
live+=" ${DURATION}s measured after ${WARMUP}s warm-up"
has "$PHASES" live || live="live phase not run"
disk="${DISK_HOURS}h x ${DISK_TARGETS} target(s) = ${DISK_SAMPLES:-?} samples"
has "$PHASES" disk || disk="not run"
rw="${RW_SERIES} series, $RW_CONCURRENCY connections, 2000 samples per request, ${RW_DURATION}s measured after"
rw+=" ${RW_WARMUP}s warm-up"
has "$PHASES" rw || rw="not run"
echo "### Ingest: $live; disk: $disk; remote_write: $rw"
echo
echo "| figure | vitals | Prometheus 2.42 | VictoriaMetrics 1.79 | vitals/Prometheus | vitals/VictoriaMetrics |"
echo "|---|---:|---:|---:|---:|---:|"
row "samples/s ingested" samples_per_second 0
row "CPU-s per million samples" cpu_seconds_per_million_samples 3
row "peak RSS per active series (bytes)" rss_bytes_per_series 0
row "disk bytes per sample" disk_bytes_per_sample 3
if has "$PHASES" rw; then
	row "remote_write samples/s received" rw_samples_per_second 0
	row "remote_write samples per receiver CPU-second" rw_samples_per_cpu_second 0
fi
if [[ -n ${VITALS_SKIPPED:-} ]]; then
	echo
	echo "vitals skipped: vitals or vitals-ingest not built."
fi
