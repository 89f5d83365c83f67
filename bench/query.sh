#!/usr/bin/env bash
# PromQL query benchmark: the same synthetic 7-day data set (about 11k series: http_requests_total counters,
# classic http_request_duration_seconds histograms, node_exporter CPU/memory/filesystem/network/disk series, up)
# is loaded into vitals (`vitals serve`, POST /api/v1/import/prometheus) and into Prometheus 2.42 (`promtool tsdb
# create-blocks-from openmetrics`, then `prometheus`); then 36 dashboard queries (range queries over 1h/15s,
# 6h/1m, 24h/5m and 7d/1h, plus instant queries) are timed against both, alternately, over keep-alive
# connections (form POSTs like Grafana), and their answers compared. Prints a markdown table on stdout (median
# wall time per system, ratio vitals/Prometheus, equal?) and writes the raw numbers as JSON. Exits 1 if an
# answer differs or a query fails.
#
# Environment (defaults in brackets):
#   END [1794787200]           the data set's fixed "now" (Unix s, a whole minute; 2026-11-16T00:00:00Z); queries
#                              are evaluated at END - 30 s
#   SCALE [1]                  multiplies the number of hosts (1: 104 targets, 11144 series)
#   DAYS [7]                   days of data before END (plus 2 h, for the first windows)
#   DENSE_HOURS [26]           the last DENSE_HOURS are scraped every DENSE_STEP s, older data every SPARSE_STEP s
#   DENSE_STEP [60], SPARSE_STEP [300]
#   RUNS [5]                   timed runs per query and system (after WARMUP untimed ones); the median is reported
#   WARMUP [1]
#   BUDGET [60]                seconds of timed runs per query and system: a slower query gets fewer runs
#   ONLY                       comma-separated substrings of query names to run (default: all)
#   GZIP [1]                   send Accept-Encoding: gzip like Grafana (0: plain responses)
#   DATA_FILE                  keep the generated OpenMetrics file there and reuse it when it exists (the file
#                              name should encode the parameters above; nothing checks that it matches them)
#   OUT_JSON [bench/results/query-<utc time>.json]   raw numbers
#   BIN_DIR                    use the vitals binary there instead of running cargo build
#   KEEP_WORK [0]              1 keeps the temporary directory (data dirs, logs) for inspection
#   PROMETHEUS, PROMTOOL, PYTHON   [prometheus, promtool, python3]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
END=${END:-1794787200}
SCALE=${SCALE:-1}
DAYS=${DAYS:-7}
DENSE_HOURS=${DENSE_HOURS:-26}
DENSE_STEP=${DENSE_STEP:-60}
SPARSE_STEP=${SPARSE_STEP:-300}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
BUDGET=${BUDGET:-60}
ONLY=${ONLY:-}
GZIP=${GZIP:-1}
DATA_FILE=${DATA_FILE:-}
OUT_JSON=${OUT_JSON:-$ROOT/bench/results/query-$(date -u +%Y%m%dT%H%M%SZ).json}
KEEP_WORK=${KEEP_WORK:-0}
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
PYTHON=${PYTHON:-python3}
QPY=$ROOT/bench/query.py
CLK_TCK=$(getconf CLK_TCK)
T_START=$SECONDS

log() { printf '[query %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 2
}

PIDS=()
WORK=$(mktemp -d -t vitals-query.XXXXXX)
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

# Remembers a started child so that cleanup stops it.
track() { PIDS+=("$1"); }

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
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
json_field() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | tail -1; }
# Value of a one-element instant vector (empty if the answer is anything else).
query_value() {
	curl -sf --data-urlencode "query=$2" --data-urlencode "time=$3" "$1/api/v1/query" |
		sed -n 's/.*"result":\[{"metric":{},"value":\[[^,]*,"\([^"]*\)"\]}\].*/\1/p'
}

# wait_quiet NAME PID: waits (at most 5 minutes) until the process used under 2 % of a core for three 2 s
# intervals in a row (vitals' background compaction, Prometheus' start-up work).
wait_quiet() {
	local name=$1 pid=$2 quiet=0 c0 c1 deadline=$((SECONDS + 300))
	while ((quiet < 3)); do
		((SECONDS < deadline)) || {
			log "WARN: $name still busy after 5 minutes; measuring anyway"
			return
		}
		c0=$(cpu_ticks "$pid")
		sleep 2
		c1=$(cpu_ticks "$pid")
		if (((c1 - c0) * 100 <= 4 * CLK_TCK)); then quiet=$((quiet + 1)); else quiet=0; fi
	done
}

(((END % 60) == 0)) || die "END must be a whole minute (Unix seconds divisible by 60)"
command -v "$PROMETHEUS" >/dev/null || die "$PROMETHEUS not found (apt-get install -y prometheus)"
command -v "$PROMTOOL" >/dev/null || die "$PROMTOOL not found (apt-get install -y prometheus)"

# ---------------------------------------------------------------------------------------------------------------
# Build
if [[ -z ${BIN_DIR:-} ]]; then
	log "building vitals (cargo build --release -p vitals)"
	(cd "$ROOT" && cargo build --release -p vitals) >&2
	BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
VITALS=${VITALS:-$BIN_DIR/vitals}
[[ -x $VITALS ]] || die "$VITALS missing"

PROM_VERSION=$("$PROMETHEUS" --version 2>&1 | head -1)
VITALS_VERSION=$("$VITALS" --version 2>&1 | head -1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then GIT_REV+="+dirty"; fi
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
NPROC=$(nproc)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
log "machine: $NPROC cores, $CPU_MODEL, $MEM_GIB GiB; $PROM_VERSION; $VITALS_VERSION (git $GIT_REV)"

# ---------------------------------------------------------------------------------------------------------------
# Data
gen_args=(--end "$END" --scale "$SCALE" --days "$DAYS" --dense-hours "$DENSE_HOURS" --dense-step "$DENSE_STEP"
	--sparse-step "$SPARSE_STEP")
if [[ -n $DATA_FILE && -s $DATA_FILE && -s $DATA_FILE.json ]]; then
	OM=$DATA_FILE
	cp "$DATA_FILE.json" "$WORK/gen.json"
	log "reusing $OM"
	GEN_SECONDS=0
else
	OM=${DATA_FILE:-$WORK/data.om}
	log "generating ${DAYS}d of data ending $(date -u -d "@$END" +%FT%TZ) (scale $SCALE) into $OM"
	t0=$SECONDS
	"$PYTHON" "$QPY" gen "${gen_args[@]}" --out "$OM" >"$WORK/gen.json" || die "generator failed"
	GEN_SECONDS=$((SECONDS - t0))
	[[ -z $DATA_FILE ]] || cp "$WORK/gen.json" "$DATA_FILE.json"
fi
SERIES=$(json_field "$WORK/gen.json" series)
SAMPLES=$(json_field "$WORK/gen.json" samples)
FIRST_MS=$(json_field "$WORK/gen.json" first_ms)
log "data: $SERIES series, $SAMPLES samples, $(du -h "$OM" | cut -f1) of OpenMetrics text (${GEN_SECONDS}s)"

: >"$WORK/empty.yml"

# vitals: `vitals serve` with an empty configuration (nothing scraped, not even itself, so that it holds exactly
# the data set), then the text with millisecond timestamps in POSTs of at most 15 MiB (its body limit is 16 MiB).
mkdir -p "$WORK/vitals"
V_PORT=$(free_port)
V_URL=http://127.0.0.1:$V_PORT
"$VITALS" serve --config "$WORK/empty.yml" --storage.path "$WORK/vitals/data" --listen "127.0.0.1:$V_PORT" \
	>"$WORK/vitals/log" 2>&1 &
V_PID=$!
track "$V_PID"
wait_http "$V_URL/-/ready" 60 "$V_PID"
log "vitals: importing via $V_URL/api/v1/import/prometheus"
t0=$(now)
"$PYTHON" "$QPY" import --url "$V_URL/api/v1/import/prometheus" --file "$OM" >"$WORK/import.json" ||
	die "vitals import failed: $(tail -3 "$WORK/vitals/log")"
V_LOAD_SECONDS=$(calc "$(now) - $t0")
V_IMPORT_DONE=$SECONDS
[[ $(json_field "$WORK/import.json" samples) == "$SAMPLES" ]] || die "imported $(cat "$WORK/import.json"), expected $SAMPLES samples"
log "vitals: $(json_field "$WORK/import.json" requests) requests in ${V_LOAD_SECONDS}s"

# Prometheus: blocks from promtool (one block per 486 h window, so that Prometheus does not compact at start-up),
# then prometheus with an empty configuration and unlimited retention.
mkdir -p "$WORK/prometheus"
log "prometheus: promtool tsdb create-blocks-from openmetrics"
t0=$(now)
"$PROMTOOL" tsdb create-blocks-from openmetrics --max-block-duration=1000h "$OM" "$WORK/prometheus/data" \
	>"$WORK/promtool.log" 2>&1 || die "promtool failed: $(tail -5 "$WORK/promtool.log")"
P_LOAD_SECONDS=$(calc "$(now) - $t0")
n=$(cat "$WORK/prometheus/data"/*/meta.json | grep -o '"numSamples": *[0-9]*' | awk -F: '{ s += $2 } END { printf "%.0f\n", s }')
[[ $n == "$SAMPLES" ]] || die "promtool wrote $n samples, expected $SAMPLES"
log "prometheus: $(find "$WORK/prometheus/data" -mindepth 1 -maxdepth 1 -type d | wc -l) block(s) in ${P_LOAD_SECONDS}s"
[[ -n $DATA_FILE ]] || rm -f "$OM"
P_PORT=$(free_port)
P_URL=http://127.0.0.1:$P_PORT
"$PROMETHEUS" --config.file="$WORK/empty.yml" --storage.tsdb.path="$WORK/prometheus/data" \
	--storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$P_PORT" --log.level=warn \
	>"$WORK/prometheus/log" 2>&1 &
P_PID=$!
track "$P_PID"
wait_http "$P_URL/-/ready" 120 "$P_PID"

# Both must hold the same series and samples: the count of series at the evaluation time, and the samples of each
# metric name over the whole data set (per name, to stay under both servers' --query.max-samples).
Q=$((END - 30))
WINDOW=$(((Q - FIRST_MS / 1000 + 60) / 60))m
NAMES=$(curl -sf "$P_URL/api/v1/label/__name__/values" | grep -o '"[a-zA-Z_:][a-zA-Z0-9_:]*"' | tr -d '"' |
	grep -vx 'status\|success\|data')
for name in vitals prometheus; do
	url=$V_URL
	[[ $name == prometheus ]] && url=$P_URL
	deadline=$((SECONDS + 120))
	while :; do
		c=$(query_value "$url" 'count({__name__=~".+"})' "$Q")
		s=0
		for m in $NAMES; do
			v=$(query_value "$url" "sum(count_over_time($m[$WINDOW]))" "$Q")
			s=$((s + ${v:-0}))
		done
		[[ $c == "$SERIES" && $s == "$SAMPLES" ]] && break
		((SECONDS < deadline)) || die "$name answers ${c:-nothing} series and $s samples, expected $SERIES and $SAMPLES"
		sleep 2
	done
	log "$name: $c series, $s samples"
done

# vitals cuts the imported head into blocks and merges them in its once-a-minute maintenance: wait for one round
# after the import, then until neither process does anything.
while ((SECONDS < V_IMPORT_DONE + 65)); do sleep 1; done
wait_quiet vitals "$V_PID"
wait_quiet prometheus "$P_PID"
V_BLOCKS=$(find "$WORK/vitals/data/blocks" -mindepth 1 -maxdepth 1 -type d | wc -l)
log "vitals: $V_BLOCKS block(s) after compaction; both idle, timing queries"

# ---------------------------------------------------------------------------------------------------------------
# Queries
cat >"$WORK/meta.json" <<EOF
{"end": $END, "eval_time": $Q, "scale": $SCALE, "days": $DAYS, "dense_hours": $DENSE_HOURS,
 "dense_step": $DENSE_STEP, "sparse_step": $SPARSE_STEP, "series": $SERIES, "samples": $SAMPLES,
 "generate_seconds": $GEN_SECONDS, "vitals_import_seconds": $V_LOAD_SECONDS, "promtool_seconds": $P_LOAD_SECONDS,
 "vitals_blocks": $V_BLOCKS, "prometheus_version": "$PROM_VERSION", "vitals_version": "$VITALS_VERSION",
 "git": "$GIT_REV", "nproc": $NPROC, "cpu": "$CPU_MODEL", "mem_gib": $MEM_GIB}
EOF
mkdir -p "$(dirname "$OUT_JSON")"
rc=0
run_args=(--vitals "$V_URL" --prometheus "$P_URL" --end "$END" --runs "$RUNS" --warmup "$WARMUP" --budget "$BUDGET"
	--meta "$WORK/meta.json" --out-md "$WORK/table.md" --out-json "$OUT_JSON")
[[ -z $ONLY ]] || run_args+=(--only "$ONLY")
[[ $GZIP == 1 ]] || run_args+=(--no-gzip)
# Busy CPU ticks of the whole machine (/proc/stat), to tell how much other processes ran during the queries.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
m0=$(busy_ticks) v0=$(cpu_ticks "$V_PID") p0=$(cpu_ticks "$P_PID") t0=$(now)
"$PYTHON" "$QPY" run "${run_args[@]}" || rc=$?
((rc <= 1)) || die "query runner failed ($rc)"
m1=$(busy_ticks) v1=$(cpu_ticks "$V_PID") p1=$(cpu_ticks "$P_PID")
Q_SECONDS=$(calc "$(now) - $t0")
CLIENT_CPU=$(json_field "$OUT_JSON" client_cpu_seconds)
OTHER_CPU=$(calc "(($m1 - $m0) - ($v1 - $v0) - ($p1 - $p0)) / $CLK_TCK - ${CLIENT_CPU:-0}")
log "queries took $(printf %.0f "$Q_SECONDS")s: vitals $(calc "($v1 - $v0) / $CLK_TCK") CPU-s, prometheus $(calc "($p1 - $p0) / $CLK_TCK") CPU-s, client ${CLIENT_CPU}s, other processes ${OTHER_CPU} CPU-s"
kill -0 "$V_PID" 2>/dev/null || die "vitals exited during the queries: $(tail -3 "$WORK/vitals/log")"
kill -0 "$P_PID" 2>/dev/null || die "prometheus exited during the queries: $(tail -3 "$WORK/prometheus/log")"
log "raw numbers: $OUT_JSON"

echo "### Query: $SERIES series, $SAMPLES samples over ${DAYS}d (last ${DENSE_HOURS}h every ${DENSE_STEP}s, older every ${SPARSE_STEP}s), evaluated at $(date -u -d "@$Q" +%FT%TZ); median of $RUNS runs after $WARMUP warm-up"
echo
echo "Machine: $NPROC cores, $CPU_MODEL, $MEM_GIB GiB. $PROM_VERSION. $VITALS_VERSION (git $GIT_REV)."
echo "Load: vitals import $(printf %.1f "$V_LOAD_SECONDS")s ($V_BLOCKS blocks after compaction), promtool $(printf %.1f "$P_LOAD_SECONDS")s; whole run $((SECONDS - T_START))s; other processes used $(printf %.1f "$OTHER_CPU") CPU-s during the $(printf %.0f "$Q_SECONDS") s of queries."
echo
cat "$WORK/table.md"
exit "$rc"
