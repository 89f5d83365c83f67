#!/usr/bin/env bash
# Rules and alerting benchmark, the two figures of the alerting issue:
#
# 1. Rule evaluation cost. One synth-target serves 100k series (50 targets of 2000: http_requests_total counters,
#    http_request_duration_seconds histograms, gauges, node_exporter series) and vitals (`vitals serve`) and
#    Prometheus 2.42 both scrape it every 15 s. After WARMUP seconds (full 5m windows), 2000 rules (20 groups of
#    100, interval 15s: recording rules with rate()/histogram_quantile(), alerting rules with `for` and label /
#    annotation templates) are loaded into vitals (reload), measured, unloaded, then loaded into Prometheus and
#    measured the same way. Figure: the sum over the groups of `evaluationTime` (GET /api/v1/rules) per 15 s
#    round, median and slowest of ROUNDS rounds after WARM_ROUNDS, and the process' CPU seconds per round
#    (/proc/PID/stat). Budget: every round's sum < 15 s, no missed evaluation, no rule with health "err".
# 2. Alert latency. A second vitals scrapes a Python target every 1 s whose gauge x_value{instance="i<N>"} crosses
#    100 at a recorded wall-clock time for each of 100 instances (about 1 s apart, random phase); the rule
#    `x_value > 100` (for: 0s) runs in a group with interval 5s, and vitals' `notify:` section routes to a local
#    webhook (group_by [alertname, instance], group_wait 1s, group_interval 1s, repeat_interval 1h). Latency =
#    webhook arrival - crossing time; p50/p99/max over the 100 alerts. Budget: p99 <= evaluation interval +
#    group_wait + 1 s + scrape interval (the issue's wording leaves the scrape interval out; both are reported,
#    LATENCY_BUDGET=issue enforces that one instead). Part 2 runs during part 1's warm-up (scrapes only then).
#
# Prints markdown tables on stdout; raw numbers go to bench/results/rules-<UTC time>.json (OUT_JSON). Exits 1 if a
# budget is broken, 2 if the setup fails.
#
# Environment (defaults in brackets):
#   SERIES [100000], SERIES_PER_TARGET [2000]   synthetic series (SERIES / SERIES_PER_TARGET targets)
#   JOBS ["api web worker checkout search"]      the targets are split evenly into these jobs
#   RULE_GROUPS [20], RULES_PER_GROUP [100]     rules (all groups with interval EVAL_INTERVAL)
#   EVAL_INTERVAL [15]                          seconds; also the scrape interval of part 1
#   WARMUP [300]                                seconds of scraping before the rules are loaded (5m windows full)
#   WARM_ROUNDS [2], ROUNDS [4]                 rounds after loading the rules that are skipped / measured
#   LAT_INSTANCES [100], LAT_STAGGER [1]        alerts in part 2 and the seconds between crossings
#   LAT_EVAL_INTERVAL [5], LAT_SCRAPE_INTERVAL [1], LAT_GROUP_WAIT [1]
#   LATENCY_BUDGET [scrape]                     scrape: p99 <= eval + group_wait + 1 s + scrape; issue: without scrape
#   PARTS ["rules latency"]                     which parts to run
#   SYSTEMS ["vitals prometheus"]               part 1's systems
#   OUT_JSON [bench/results/rules-<utc time>.json]
#   BIN_DIR        use vitals and synth-target there instead of `cargo build --release -p vitals -p vitals-bench`
#   KEEP_WORK [0]  1 keeps the temporary directory (configs, rule file, data, logs)
#   PROMETHEUS, PROMTOOL, PYTHON   [prometheus, promtool, python3]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMD=bench/rules.sh
for v in SERIES SERIES_PER_TARGET JOBS RULE_GROUPS RULES_PER_GROUP EVAL_INTERVAL WARMUP WARM_ROUNDS ROUNDS \
	LAT_INSTANCES LAT_STAGGER LAT_EVAL_INTERVAL LAT_SCRAPE_INTERVAL LAT_GROUP_WAIT LATENCY_BUDGET PARTS SYSTEMS; do
	[[ -n ${!v+x} ]] && CMD="$v=${!v@Q} $CMD"
done
SERIES=${SERIES:-100000}
SERIES_PER_TARGET=${SERIES_PER_TARGET:-2000}
JOBS=${JOBS:-"api web worker checkout search"}
RULE_GROUPS=${RULE_GROUPS:-20}
RULES_PER_GROUP=${RULES_PER_GROUP:-100}
EVAL_INTERVAL=${EVAL_INTERVAL:-15}
WARMUP=${WARMUP:-300}
WARM_ROUNDS=${WARM_ROUNDS:-2}
ROUNDS=${ROUNDS:-4}
LAT_INSTANCES=${LAT_INSTANCES:-100}
LAT_STAGGER=${LAT_STAGGER:-1}
LAT_EVAL_INTERVAL=${LAT_EVAL_INTERVAL:-5}
LAT_SCRAPE_INTERVAL=${LAT_SCRAPE_INTERVAL:-1}
LAT_GROUP_WAIT=${LAT_GROUP_WAIT:-1}
LATENCY_BUDGET=${LATENCY_BUDGET:-scrape}
PARTS=${PARTS:-"rules latency"}
SYSTEMS=${SYSTEMS:-"vitals prometheus"}
OUT_JSON=${OUT_JSON:-$ROOT/bench/results/rules-$(date -u +%Y%m%dT%H%M%SZ).json}
KEEP_WORK=${KEEP_WORK:-0}
PROMETHEUS=${PROMETHEUS:-prometheus}
PROMTOOL=${PROMTOOL:-promtool}
PYTHON=${PYTHON:-python3}
RPY=$ROOT/bench/rules.py
T_START=$SECONDS

log() { printf '[rules %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 2
}
has() { [[ " $1 " == *" $2 "* ]]; }

PIDS=()
WORK=$(mktemp -d -t vitals-rules.XXXXXX)
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
# run CMD...: runs CMD as a tracked background child and waits for it, so that Ctrl-C / SIGTERM stop the run at
# once (bash runs traps only after a foreground child ends).
run() {
	"$@" &
	local pid=$!
	track "$pid"
	wait "$pid"
}

# stop PID: SIGTERM, then SIGKILL after 10 s.
stop() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
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

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
# Arithmetic on Unix times (fixed point: %g would round them to 6 digits).
tcalc() { awk "BEGIN { printf \"%.3f\", $* }"; }
# Value of a one-element instant vector (empty if the answer is anything else).
query_value() {
	curl -sf --data-urlencode "query=$2" "$1/api/v1/query" |
		sed -n 's/.*"result":\[{"metric":{},"value":\[[^,]*,"\([^"]*\)"\]}\].*/\1/p'
}
# reload URL: POST /-/reload (vitals; Prometheus with --web.enable-lifecycle).
reload() {
	local out
	out=$(curl -s -w ' HTTP %{http_code}' -X POST "$1/-/reload") || die "reload of $1 failed"
	[[ $out == *"HTTP 200" ]] || die "reload of $1 answered: $out"
}
sleep_until() {
	local d
	d=$(tcalc "$1 - $(now)")
	if awk "BEGIN { exit !($d > 0) }"; then run sleep "$d"; fi
}

command -v "$PROMETHEUS" >/dev/null || die "$PROMETHEUS not found (apt-get install -y prometheus)"
command -v "$PROMTOOL" >/dev/null || die "$PROMTOOL not found (apt-get install -y prometheus)"
((SERIES % SERIES_PER_TARGET == 0)) || die "SERIES must be a multiple of SERIES_PER_TARGET"
TARGETS=$((SERIES / SERIES_PER_TARGET))
read -r -a JOB_LIST <<<"$JOBS"
((TARGETS % ${#JOB_LIST[@]} == 0)) || die "the $TARGETS targets do not split evenly into ${#JOB_LIST[@]} jobs"

# ---------------------------------------------------------------------------------------------------------------
# Binaries (copied, so that a concurrent cargo build cannot change them during the run)
if [[ -z ${BIN_DIR:-} ]]; then
	log "building (cargo build --release -p vitals -p vitals-bench)"
	(cd "$ROOT" && cargo build --release -p vitals -p vitals-bench) >&2
	BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
mkdir -p "$WORK/bin"
for b in vitals synth-target; do
	[[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b missing"
	cp "$BIN_DIR/$b" "$WORK/bin/$b"
done
VITALS=$WORK/bin/vitals
SYNTH_TARGET=$WORK/bin/synth-target

# Newer vitals scrape their own host metrics (job node) unless `host_metrics: false`; Prometheus does not, so turn
# it off where the key exists.
VITALS_EXTRA=""
printf 'host_metrics: false\n' >"$WORK/probe.yml"
if "$VITALS" check config "$WORK/probe.yml" >/dev/null 2>&1; then VITALS_EXTRA="host_metrics: false"; fi

PROM_VERSION=$("$PROMETHEUS" --version 2>&1 | head -1)
VITALS_VERSION=$("$VITALS" --version 2>&1 | head -1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then GIT_REV+="+dirty"; fi
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
NPROC=$(nproc)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
log "machine: $NPROC cores, $CPU_MODEL, $MEM_GIB GiB; $PROM_VERSION; $VITALS_VERSION (git $GIT_REV)"

# ---------------------------------------------------------------------------------------------------------------
# Part 1 setup: the synthetic target, the rule file, vitals and Prometheus scraping
RUN_RULES=0
has "$PARTS" rules && RUN_RULES=1
RUN_LAT=0
has "$PARTS" latency && RUN_LAT=1

if ((RUN_RULES)); then
	"$SYNTH_TARGET" --listen 127.0.0.1:0 --targets "$TARGETS" --series-per-target "$SERIES_PER_TARGET" \
		--interval "${EVAL_INTERVAL}s" >"$WORK/synth-target.out" 2>"$WORK/synth-target.log" &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		grep -q series_total "$WORK/synth-target.out" && break
		sleep 0.1
	done
	TARGET_URL=$(sed -n 's/^listening on //p' "$WORK/synth-target.out")
	[[ -n $TARGET_URL ]] || die "synth-target did not start: $(cat "$WORK/synth-target.log")"
	TARGET_ADDR=${TARGET_URL#http://}
	log "synth-target at $TARGET_URL: $TARGETS targets, $SERIES series"

	curl -sf "$TARGET_URL/metrics/0" >"$WORK/page0.txt" || die "cannot read $TARGET_URL/metrics/0"
	"$PYTHON" "$RPY" gen-rules --page "$WORK/page0.txt" --jobs "$(
		IFS=,
		echo "${JOB_LIST[*]}"
	)" --targets "$TARGETS" --groups "$RULE_GROUPS" --per-group "$RULES_PER_GROUP" --interval "${EVAL_INTERVAL}s" \
		--out "$WORK/rules.yml" >"$WORK/rules-gen.json" || die "gen-rules failed"
	log "rules: $(cat "$WORK/rules-gen.json" | head -c 200)…"
	"$PROMTOOL" check rules --lint=none "$WORK/rules.yml" >"$WORK/promtool-check.log" 2>&1 ||
		die "promtool check rules: $(tail -5 "$WORK/promtool-check.log")"
	"$VITALS" check rules "$WORK/rules.yml" >"$WORK/vitals-check.log" 2>&1 ||
		die "vitals check rules: $(tail -5 "$WORK/vitals-check.log")"

	# Shared scrape configuration: one job per entry of JOBS, targets synth-<i> (page /metrics/<i>).
	per_job=$((TARGETS / ${#JOB_LIST[@]}))
	{
		printf 'scrape_configs:\n'
		for ((j = 0; j < ${#JOB_LIST[@]}; j++)); do
			printf '  - job_name: %s\n    static_configs:\n' "${JOB_LIST[$j]}"
			for ((k = 0; k < per_job; k++)); do
				i=$((j * per_job + k))
				printf "      - targets: ['%s']\n        labels: {__metrics_path__: /metrics/%d, instance: synth-%d}\n" \
					"$TARGET_ADDR" "$i" "$i"
			done
		done
	} >"$WORK/scrape-part.yml"
	# write_config FILE WITH_RULES VITALS
	write_config() {
		{
			printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: 10s\n  evaluation_interval: %ss\n' \
				"$EVAL_INTERVAL" "$EVAL_INTERVAL"
			[[ $3 == 1 ]] && printf 'default_rules: false\n%s\n' "$VITALS_EXTRA"
			if [[ $2 == 1 ]]; then printf 'rule_files: [rules.yml]\n'; else printf 'rule_files: []\n'; fi
			cat "$WORK/scrape-part.yml"
		} >"$1.tmp"
		mv "$1.tmp" "$1"
	}
	mkdir -p "$WORK/vitals" "$WORK/prometheus"
	cp "$WORK/rules.yml" "$WORK/vitals/rules.yml"
	cp "$WORK/rules.yml" "$WORK/prometheus/rules.yml"
	write_config "$WORK/vitals/vitals.yml" 0 1
	write_config "$WORK/prometheus/prometheus.yml" 0 0
	"$VITALS" check config "$WORK/vitals/vitals.yml" >&2 || die "vitals check config failed"

	V_PORT=$(free_port)
	V_URL=http://127.0.0.1:$V_PORT
	"$VITALS" serve --config "$WORK/vitals/vitals.yml" --storage.path "$WORK/vitals/data" \
		--listen "127.0.0.1:$V_PORT" >"$WORK/vitals/log" 2>&1 &
	V_PID=$!
	track "$V_PID"
	P_PORT=$(free_port)
	P_URL=http://127.0.0.1:$P_PORT
	"$PROMETHEUS" --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/prometheus/data" \
		--web.listen-address="127.0.0.1:$P_PORT" --web.enable-lifecycle --log.level=warn \
		>"$WORK/prometheus/log" 2>&1 &
	P_PID=$!
	track "$P_PID"
	wait_http "$V_URL/-/ready" 60 "$V_PID"
	wait_http "$P_URL/-/ready" 60 "$P_PID"
	SCRAPE_START=$(now)
	log "vitals ($V_URL, pid $V_PID) and prometheus ($P_URL, pid $P_PID) scrape every ${EVAL_INTERVAL}s; warm-up ${WARMUP}s"
fi

# ---------------------------------------------------------------------------------------------------------------
# Part 2: alert latency (during part 1's warm-up)
if ((RUN_LAT)); then
	mkdir -p "$WORK/latency"
	LT_PORT=$(free_port)
	LH_PORT=$(free_port)
	"$PYTHON" "$RPY" latency --target-port "$LT_PORT" --hook-port "$LH_PORT" --instances "$LAT_INSTANCES" \
		--stagger "$LAT_STAGGER" --out "$WORK/latency/result.json" 2>"$WORK/latency/harness.log" &
	LAT_PID=$!
	track "$LAT_PID"
	cat >"$WORK/latency/rules.yml" <<EOF
groups:
  - name: latency
    interval: ${LAT_EVAL_INTERVAL}s
    rules:
      - alert: XValueHigh
        expr: x_value > 100
        for: 0s
        labels:
          severity: page
        annotations:
          summary: "{{ \$labels.instance }}: x_value is {{ \$value | humanize }}"
EOF
	cat >"$WORK/latency/vitals.yml" <<EOF
global:
  scrape_interval: ${LAT_SCRAPE_INTERVAL}s
  scrape_timeout: ${LAT_SCRAPE_INTERVAL}s
  evaluation_interval: ${LAT_EVAL_INTERVAL}s
default_rules: false
$VITALS_EXTRA
rule_files: [rules.yml]
scrape_configs:
  - job_name: x
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$LT_PORT']
notify:
  route:
    receiver: hook
    group_by: [alertname, instance]
    group_wait: ${LAT_GROUP_WAIT}s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs:
        - url: http://127.0.0.1:$LH_PORT/hook
          send_resolved: true
EOF
	"$VITALS" check config "$WORK/latency/vitals.yml" >&2 || die "vitals check config (latency) failed"
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$LT_PORT/ready" && break
		sleep 0.1
	done
	L_PORT=$(free_port)
	"$VITALS" serve --config "$WORK/latency/vitals.yml" --storage.path "$WORK/latency/data" \
		--listen "127.0.0.1:$L_PORT" >"$WORK/latency/vitals.log" 2>&1 &
	L_PID=$!
	track "$L_PID"
	wait_http "http://127.0.0.1:$L_PORT/-/ready" 60 "$L_PID"
	log "latency: vitals (pid $L_PID) scrapes :$LT_PORT every ${LAT_SCRAPE_INTERVAL}s, rule every ${LAT_EVAL_INTERVAL}s, webhook :$LH_PORT; $LAT_INSTANCES crossings ${LAT_STAGGER}s apart"
	wait "$LAT_PID" || die "latency harness failed: $(tail -3 "$WORK/latency/harness.log")"
	log "latency: $(tail -1 "$WORK/latency/harness.log")"
	curl -sf "http://127.0.0.1:$L_PORT/api/v1/rules" >"$WORK/latency/rules-api.json" || true
	kill -0 "$L_PID" 2>/dev/null || die "latency: vitals exited: $(tail -3 "$WORK/latency/vitals.log")"
	stop "$L_PID"
	if grep -qE ' (WARN|ERROR) ' "$WORK/latency/vitals.log"; then
		log "latency: warnings/errors in vitals' log:"
		grep -E ' (WARN|ERROR) ' "$WORK/latency/vitals.log" | head -5 >&2
	fi
fi

# ---------------------------------------------------------------------------------------------------------------
# Part 1: baseline (scraping only), then the rules in vitals, then in Prometheus
BASE_V=null BASE_P=null
if ((RUN_RULES)); then
	base_len=$((ROUNDS * EVAL_INTERVAL))
	sleep_until "$(tcalc "$SCRAPE_START + $WARMUP - $base_len")"
	log "baseline: CPU of both over ${base_len}s of scraping only"
	run "$PYTHON" "$RPY" cpu-window --pids "$V_PID,$P_PID" --seconds "$base_len" >"$WORK/baseline.json"
	BASE_V=$(calc "$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/baseline.json" "$V_PID") / $ROUNDS")
	BASE_P=$(calc "$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/baseline.json" "$P_PID") / $ROUNDS")
	log "baseline CPU-s per round: vitals $BASE_V, prometheus $BASE_P ($(cat "$WORK/baseline.json"))"
	for name in vitals prometheus; do
		url=$V_URL
		[[ $name == prometheus ]] && url=$P_URL
		up=$(query_value "$url" 'count(up == 1)')
		[[ $up == "$TARGETS" ]] || die "$name: ${up:-no} targets up, expected $TARGETS"
		n=$(query_value "$url" 'count({__name__=~".+"})')
		log "$name: $up targets up, $n series"
	done

	# measure_rules NAME URL PID CONFIG VITALS(0/1) PEER_PID
	measure_rules() {
		local name=$1 url=$2 pid=$3 cfg=$4 isv=$5 peer=$6 since
		has "$SYSTEMS" "$name" || return 0
		write_config "$cfg" 1 "$isv"
		reload "$url"
		since=$(now)
		log "$name: $((RULE_GROUPS * RULES_PER_GROUP)) rules loaded; skipping $WARM_ROUNDS rounds, measuring $ROUNDS"
		run "$PYTHON" "$RPY" measure --url "$url" --pid "$pid" --peer-pid "$peer" --since "$since" \
			--interval "$EVAL_INTERVAL" \
			--warmup-rounds "$WARM_ROUNDS" --rounds "$ROUNDS" --out "$WORK/$name/measure.json" \
			2>"$WORK/$name/measure.log" || die "$name: measure failed: $(tail -3 "$WORK/$name/measure.log")"
		log "$name: $(tail -1 "$WORK/$name/measure.log")"
		curl -sf "$url/api/v1/rules" >"$WORK/$name/rules-api.json" || true
		write_config "$cfg" 0 "$isv"
		reload "$url"
		kill -0 "$pid" 2>/dev/null || die "$name exited"
	}
	measure_rules vitals "$V_URL" "$V_PID" "$WORK/vitals/vitals.yml" 1 "$P_PID"
	measure_rules prometheus "$P_URL" "$P_PID" "$WORK/prometheus/prometheus.yml" 0 "$V_PID"
	if grep -qE ' (WARN|ERROR) ' "$WORK/vitals/log"; then
		log "vitals: $(grep -cE ' (WARN|ERROR) ' "$WORK/vitals/log") warnings/errors in its log, first ones:"
		grep -E ' (WARN|ERROR) ' "$WORK/vitals/log" | head -5 >&2
	fi
fi

# ---------------------------------------------------------------------------------------------------------------
# Report
cat >"$WORK/meta.json" <<EOF
{"date": "$(date -u +%FT%TZ)", "series": $SERIES, "targets": $TARGETS, "jobs": "$JOBS", "groups": $RULE_GROUPS,
 "rules_per_group": $RULES_PER_GROUP, "interval": $EVAL_INTERVAL, "warmup": $WARMUP, "warm_rounds": $WARM_ROUNDS,
 "rounds": $ROUNDS, "baseline": {"vitals": $BASE_V, "prometheus": $BASE_P},
 "lat_instances": $LAT_INSTANCES, "lat_stagger": $LAT_STAGGER, "lat_eval_interval": $LAT_EVAL_INTERVAL,
 "lat_scrape_interval": $LAT_SCRAPE_INTERVAL, "lat_group_wait": $LAT_GROUP_WAIT, "latency_budget": "$LATENCY_BUDGET",
 "rules_gen": $(cat "$WORK/rules-gen.json" 2>/dev/null || echo null),
 "prometheus_version": "$PROM_VERSION", "vitals_version": "$VITALS_VERSION", "git": "$GIT_REV", "nproc": $NPROC,
 "cpu": "$CPU_MODEL", "mem_gib": $MEM_GIB, "seconds": $((SECONDS - T_START))}
EOF
mkdir -p "$(dirname "$OUT_JSON")"
report_args=(--meta "$WORK/meta.json" --out-json "$OUT_JSON")
[[ -s $WORK/vitals/measure.json ]] && report_args+=(--vitals "$WORK/vitals/measure.json")
[[ -s $WORK/prometheus/measure.json ]] && report_args+=(--prometheus "$WORK/prometheus/measure.json")
((RUN_LAT)) && report_args+=(--latency "$WORK/latency/result.json")

title=()
((RUN_RULES)) && title+=("$SERIES series ($TARGETS targets, ${EVAL_INTERVAL}s scrapes), $((RULE_GROUPS * RULES_PER_GROUP)) rules in $RULE_GROUPS groups (interval ${EVAL_INTERVAL}s)")
((RUN_LAT)) && title+=("$LAT_INSTANCES alerts for the latency (scrape ${LAT_SCRAPE_INTERVAL}s, rule interval ${LAT_EVAL_INTERVAL}s, group_wait ${LAT_GROUP_WAIT}s)")
echo "### Rules and alerting: $(
	IFS=';'
	echo "${title[*]}" | sed 's/;/; /g'
)"
echo
echo "Date $(date -u +%F). Machine: $NPROC cores, $CPU_MODEL, $MEM_GIB GiB. $PROM_VERSION. $VITALS_VERSION (git $GIT_REV). Command: \`$CMD\`; whole run $((SECONDS - T_START))s."
echo
rc=0
"$PYTHON" "$RPY" report "${report_args[@]}" || rc=$?
log "raw numbers: $OUT_JSON"
exit "$rc"
