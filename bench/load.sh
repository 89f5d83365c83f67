#!/usr/bin/env bash
# Load generator benchmark: `vitals load` against wrk 4.1 on the same nginx, in one run.
#
#   1. throughput (closed model): wrk -t1 -cC -dDs vs `vitals load --vus C --connections C --threads 1 --duration Ds`
#      (busy polling on, its default with --threads 1 on a multi-core machine) and the same with `--busy-poll off`;
#      requests/s, CPU-s and peak RSS of each client, ROUNDS (5) alternating rounds; budget: the median
#      round's vitals/wrk >= MIN_RATIO (1.0).
#   2. accuracy (open model): `vitals load --rate R/s` p50/p90/p99 vs nginx's `$request_time` of the same
#      requests (access log lines written during that run), ACC_ROUNDS (3) rounds, the median round by its
#      p99 difference reported; budget |difference| <= MAX_DIFF_MS (1 ms).
#   3. footprint: peak RSS of `vitals load --rate HIGH_RATE/s`, and whether it kept up (no dropped iterations,
#      >= 99 % of the rate, no errors).
#   4. http2: h2load (nghttp2) -t1 -cH2_CONNS -mH2_STREAMS vs `vitals load --http2 --vus H2_CONNS*H2_STREAMS
#      --connections H2_CONNS --threads 1` (and `--busy-poll off`) on nginx's h2c port; H2_ROUNDS (3)
#      alternating rounds, the median reported; no budget (HTTP/2 is optional in the issue).
#
# Prints a markdown table on stdout; raw numbers in OUT_JSON. Exit 1 when a budget is broken, 2 on failure.
# See bench/README.md, section "Load".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
RATE=${RATE:-1000}
HIGH_RATE=${HIGH_RATE:-10000}
FILE_BYTES=${FILE_BYTES:-1024}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000000}
MIN_RATIO=${MIN_RATIO:-1.0}
MAX_DIFF_MS=${MAX_DIFF_MS:-1.0}
PHASES=${PHASES:-throughput accuracy footprint http2}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-10}
H2_ROUNDS=${H2_ROUNDS:-3}
ACC_ROUNDS=${ACC_ROUNDS:-3}
# A run during which the hypervisor stole more than STEAL_MAX_PCT % of the machine's CPU time is run again,
# at most STEAL_RETRIES times.
STEAL_MAX_PCT=${STEAL_MAX_PCT:-1}
STEAL_RETRIES=${STEAL_RETRIES:-3}
H2LOAD=${H2LOAD:-h2load}
ROUNDS=${ROUNDS:-5}
# Pin nginx and the client under test to separate cores (PIN=0 to let the scheduler place them).
PIN=${PIN:-$([[ $(nproc) -ge 2 ]] && echo 1 || echo 0)}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT_JSON=${OUT_JSON:-$ROOT/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ).json}
KEEP_WORK=${KEEP_WORK:-0}
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}
PYTHON=${PYTHON:-python3}
TIME=${TIME:-/usr/bin/time}
T_START=$SECONDS

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 2
}

PIDS=()
WORK=$(mktemp -d -t vitals-load.XXXXXX)
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

free_port() {
	local p
	for _ in $(seq 500); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# ---------------------------------------------------------------------------------------------------------------
# Peers and build
NEED_H2LOAD=0
if [[ " $PHASES " == *" http2 "* ]]; then NEED_H2LOAD=1; fi
if ! command -v "$NGINX" >/dev/null || ! command -v "$WRK" >/dev/null || { ((NEED_H2LOAD)) && ! command -v "$H2LOAD" >/dev/null; }; then
	log "installing nginx, wrk and h2load (apt-get install -y nginx wrk nghttp2-client)"
	apt-get install -y nginx wrk nghttp2-client >"$WORK/apt.log" 2>&1 || die "apt-get failed: $(tail -3 "$WORK/apt.log")"
fi
[[ -x $TIME ]] || die "$TIME missing (apt-get install -y time)"
if [[ -z ${BIN_DIR:-} ]]; then
	log "building vitals (cargo build --release -p vitals)"
	(cd "$ROOT" && cargo build --release -p vitals) >&2
	BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
VITALS=${VITALS:-$BIN_DIR/vitals}
[[ -x $VITALS ]] || die "$VITALS missing"

NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
WRK_VERSION=$({ "$WRK" -v 2>&1 || true; } | head -1 | awk '{ print $1, $2 }')
H2LOAD_VERSION=$({ "$H2LOAD" --version 2>&1 || echo "h2load not installed"; } | head -1)
VITALS_VERSION=$("$VITALS" --version 2>&1 | head -1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then GIT_REV+="+dirty"; fi
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
NPROC=$(nproc)
log "machine: $NPROC cores, $CPU_MODEL; $NGINX_VERSION; $WRK_VERSION; $VITALS_VERSION (git $GIT_REV)"

# ---------------------------------------------------------------------------------------------------------------
# nginx: one worker (the other core(s) stay for the client), a FILE_BYTES static file, access log with
# $request_time (seconds, 3 decimals) for the server-side latency.
chmod 755 "$WORK" # the worker runs as nobody when started as root
mkdir -p "$WORK/www" "$WORK/tmp"
head -c "$FILE_BYTES" /dev/zero | tr '\0' 'x' >"$WORK/www/index.html"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/index.html
H2_PORT=$(free_port)
H2_URL=http://127.0.0.1:$H2_PORT/index.html
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    log_format timing '\$msec \$request_time \$status \$connection \$connection_requests';
    access_log $WORK/access.log timing;
    keepalive_requests $KEEPALIVE_REQUESTS;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/www;
    }
    # h2c (HTTP/2 with prior knowledge) for the http2 phase.
    server {
        listen 127.0.0.1:$H2_PORT http2;
        root $WORK/www;
    }
}
EOF
PIN_SERVER=() PIN_CLIENT=()
if [[ $PIN == 1 ]]; then PIN_SERVER=(taskset -c "$SERVER_CPU") PIN_CLIENT=(taskset -c "$CLIENT_CPU"); fi
"${PIN_SERVER[@]}" "$NGINX" -e "$WORK/error.log" -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for _ in $(seq 50); do
	curl -sf -o /dev/null "$URL" && break
	kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$WORK/nginx.out" "$WORK/error.log" 2>/dev/null | tail -3)"
	sleep 0.1
done
curl -sf -o /dev/null "$URL" || die "nginx does not answer on $URL"
log "nginx on $URL (${FILE_BYTES} B file, worker_processes 1$([[ $PIN == 1 ]] && echo ", pinned to CPU $SERVER_CPU; clients to CPU $CLIENT_CPU"))"

log_lines() { wc -l <"$WORK/access.log"; }
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[[ -n $NGINX_WORKER ]] || die "nginx worker process not found"
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# Busy CPU ticks of the whole machine (/proc/stat).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# CPU ticks the hypervisor gave to others (/proc/stat "steal"): a noisy neighbour shows up here.
steal_ticks() { awk '$1 == "cpu" { print $9; exit }' /proc/stat; }
# run_timed NAME CMD...: runs CMD under /usr/bin/time; stdout to $WORK/NAME.out, "user sys maxrss_kb" to NAME.time.
run_timed() {
	local name=$1
	shift
	local n0 m0 s0
	n0=$(cpu_ticks "$NGINX_WORKER") m0=$(busy_ticks) s0=$(steal_ticks)
	"${PIN_CLIENT[@]}" "$TIME" -f '%U %S %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		local rc=$?
		# vitals load exits 99 when a threshold is broken; we pass none, so any failure is an error.
		die "$name failed ($rc): $(tail -3 "$WORK/$name.err")"
	}
	# nginx worker CPU-s and whole-machine busy CPU-s during the run.
	echo "$(($(cpu_ticks "$NGINX_WORKER") - n0)) $(($(busy_ticks) - m0)) $(getconf CLK_TCK) $(($(steal_ticks) - s0))" >"$WORK/$name.server"
}
# Appends the access log lines written since line $2 to file $3.
slice_log() { tail -n +"$(($2 + 1))" "$WORK/access.log" >"$3"; }
# run_steady NAME CMD...: run_timed and the access-log slice NAME.log, run again (at most STEAL_RETRIES times)
# while the hypervisor stole more than STEAL_MAX_PCT % of the machine's CPU time during the run: such a run
# measures the neighbours, not the clients. NAME.attempts says how many runs it took.
run_steady() {
	local name=$1 attempt n0 steal limit total=0
	shift
	limit=$(awk -v n="$NPROC" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" -v p="$STEAL_MAX_PCT" 'BEGIN { printf "%d", n * d * hz * p / 100 }')
	for attempt in $(seq 1 "$((STEAL_RETRIES + 1))"); do
		n0=$(log_lines)
		run_timed "$name" "$@"
		sleep 1
		slice_log "$name" "$n0" "$WORK/$name.log"
		echo "$attempt" >"$WORK/$name.attempts"
		steal=$(awk '{ print $4 }' "$WORK/$name.server")
		total=$((total + steal))
		echo "$total" >"$WORK/$name.steal_total"
		((steal <= limit)) && return 0
		log "  $name: the hypervisor stole $steal CPU ticks during the run (limit $limit)$( ((attempt <= STEAL_RETRIES)) && echo ': running it again')"
	done
}

# ---------------------------------------------------------------------------------------------------------------
# Phases (each one writes $WORK/<phase>.* files; the Python below reads them)
for phase in $PHASES; do
	case $phase in
	throughput)
		# ROUNDS alternating rounds (wrk first in odd rounds, last in even ones), so drift and
		# neighbours on a shared machine hit all; the report takes the median round.
		for r in $(seq 1 "$ROUNDS"); do
			if ((r % 2)); then order="wrk vitals vitals_off"; else order="vitals_off vitals wrk"; fi
			for who in $order; do
				if [[ $who == wrk ]]; then
					log "throughput $r/$ROUNDS: wrk -t1 -c$CONNS -d${DURATION}s"
					run_steady "wrk_$r" "$WRK" -t1 -c"$CONNS" -d"${DURATION}s" "$URL"
					log "  $(grep 'Requests/sec' "$WORK/wrk_$r.out")"
				else
					if [[ $who == vitals ]]; then name=vitals_closed_$r poll=auto; else name=vitals_off_$r poll=off; fi
					log "throughput $r/$ROUNDS: vitals load --vus $CONNS --connections $CONNS --threads 1 --duration ${DURATION}s --busy-poll $poll"
					run_steady "$name" "$VITALS" load "$URL" --vus "$CONNS" --connections "$CONNS" --threads 1 \
						--duration "${DURATION}s" --busy-poll "$poll" --summary-json "$WORK/$name.json"
					log "  rps $(grep -o '"rps": *[0-9.]*' "$WORK/$name.json" | head -1)"
				fi
			done
		done
		;;
	accuracy)
		for r in $(seq 1 "$ACC_ROUNDS"); do
			log "accuracy $r/$ACC_ROUNDS: vitals load --rate $RATE/s --duration ${DURATION}s"
			run_steady "vitals_open_$r" "$VITALS" load "$URL" --rate "$RATE/s" --duration "${DURATION}s" \
				--summary-json "$WORK/vitals_open_$r.json"
		done
		;;
	http2)
		for r in $(seq 1 "$H2_ROUNDS"); do
			if ((r % 2)); then order="h2load h2vitals h2vitals_off"; else order="h2vitals_off h2vitals h2load"; fi
			for who in $order; do
				if [[ $who == h2load ]]; then
					log "http2 $r/$H2_ROUNDS: h2load -t1 -c$H2_CONNS -m$H2_STREAMS -D$DURATION"
					run_steady "h2load_$r" "$H2LOAD" -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$DURATION" "$H2_URL"
					log "  $(grep -o 'finished in.*req/s' "$WORK/h2load_$r.out")"
				else
					if [[ $who == h2vitals ]]; then poll=auto; else poll=off; fi
					log "http2 $r/$H2_ROUNDS: vitals load --http2 --vus $((H2_CONNS * H2_STREAMS)) --connections $H2_CONNS --threads 1 --busy-poll $poll"
					run_steady "${who}_$r" "$VITALS" load "$H2_URL" --http2 --vus "$((H2_CONNS * H2_STREAMS))" \
						--connections "$H2_CONNS" --threads 1 --duration "${DURATION}s" --busy-poll "$poll" \
						--summary-json "$WORK/${who}_$r.json"
					log "  rps $(grep -o '"rps": *[0-9.]*' "$WORK/${who}_$r.json" | head -1)"
				fi
			done
		done
		;;
	footprint)
		log "footprint: vitals load --rate $HIGH_RATE/s --duration ${DURATION}s"
		run_steady vitals_high "$VITALS" load "$URL" --rate "$HIGH_RATE/s" --duration "${DURATION}s" \
			--summary-json "$WORK/vitals_high.json"
		;;
	*) die "unknown phase $phase" ;;
	esac
done
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited during the run"
if [[ -s $WORK/error.log ]]; then log "nginx error.log: $(tail -3 "$WORK/error.log")"; fi

# ---------------------------------------------------------------------------------------------------------------
# Report
mkdir -p "$(dirname "$OUT_JSON")"
rc=0
WORK=$WORK OUT_JSON=$OUT_JSON PHASES=$PHASES ROUNDS=$ROUNDS CONNS=$CONNS DURATION=$DURATION RATE=$RATE HIGH_RATE=$HIGH_RATE \
	FILE_BYTES=$FILE_BYTES MIN_RATIO=$MIN_RATIO MAX_DIFF_MS=$MAX_DIFF_MS KEEPALIVE_REQUESTS=$KEEPALIVE_REQUESTS \
	NGINX_VERSION=$NGINX_VERSION WRK_VERSION=$WRK_VERSION VITALS_VERSION=$VITALS_VERSION GIT_REV=$GIT_REV \
	CPU_MODEL=$CPU_MODEL NPROC=$NPROC URL=$URL ELAPSED=$((SECONDS - T_START)) \
	H2_CONNS=$H2_CONNS H2_STREAMS=$H2_STREAMS H2_ROUNDS=$H2_ROUNDS H2LOAD_VERSION=$H2LOAD_VERSION ACC_ROUNDS=$ACC_ROUNDS \
	STEAL_MAX_PCT=$STEAL_MAX_PCT \
	"$PYTHON" - <<'PY' || rc=$?
import datetime, json, math, os, re, sys

E = os.environ
W = E["WORK"]
phases = E["PHASES"].split()
conns, dur, rate, high = E["CONNS"], E["DURATION"], E["RATE"], E["HIGH_RATE"]
min_ratio, max_diff = float(E["MIN_RATIO"]), float(E["MAX_DIFF_MS"])
out = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "nproc": int(E["NPROC"]), "cpu": E["CPU_MODEL"], "nginx": E["NGINX_VERSION"], "wrk": E["WRK_VERSION"],
       "vitals": E["VITALS_VERSION"], "git": E["GIT_REV"], "url": E["URL"], "file_bytes": int(E["FILE_BYTES"]),
       "keepalive_requests": int(E["KEEPALIVE_REQUESTS"])}
broken = []


def read(name):
    with open(os.path.join(W, name)) as f:
        return f.read()


def timed(name):
    u, s, m = read(name + ".time").split()[-3:]
    n, b, hz, st = (int(x) for x in read(name + ".server").split())
    return {"cpu_s": float(u) + float(s), "user_s": float(u), "sys_s": float(s), "peak_rss_mib": int(m) / 1024,
            "nginx_cpu_s": n / hz, "machine_busy_cpu_s": b / hz, "steal_cpu_s": st / hz,
            "steal_all_attempts_cpu_s": int(read(name + ".steal_total")) / hz, "attempts": int(read(name + ".attempts"))}


def access(name):
    """(request_time ms list, distinct connections) of the access-log slice of a run."""
    ts, cs, codes = [], set(), {}
    for line in read(name + ".log").splitlines():
        p = line.split()
        if len(p) < 5:
            continue
        ts.append(float(p[1]) * 1000)
        cs.add(p[3])
        codes[p[2]] = codes.get(p[2], 0) + 1
    return sorted(ts), len(cs), codes


def pct(sorted_vals, q):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(q / 100 * len(sorted_vals)))
    return sorted_vals[k - 1]


rows = []  # (figure, vitals, peer, ratio/diff)
f = lambda v, d=1: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{d}f}"

def vitals_round(name):
    """A closed-model `vitals load` run: its summary's figures, client/nginx CPU and connections."""
    v = timed(name)
    s = json.loads(read(name + ".json"))
    v.update(rps=s["rps"], requests=s["requests"], errors=s["errors"]["total"], protocol=s["protocol"],
             p50_ms=s["latency_ms"]["p50"], p99_ms=s["latency_ms"]["p99"])
    _, v["server_connections"], _ = access(name)
    return v


def per_req(x):
    """Client CPU-µs per request."""
    return x["cpu_s"] / x["requests"] * 1e6 if x["requests"] else float("nan")


def nginx_per_req(x):
    """nginx worker CPU-µs per request."""
    return x["nginx_cpu_s"] / x["requests"] * 1e6 if x["requests"] else float("nan")


def alternating_rounds(n, peer_round, peer, on, off):
    """Rounds of (vitals/peer, peer, vitals, vitals with --busy-poll off, off/peer) and the median round of
    each ratio: (rounds, ratio, peer, vitals, off run, off ratio)."""
    rounds = []
    for r in range(1, n + 1):
        p, v, o = peer_round(f"{peer}_{r}"), vitals_round(f"{on}_{r}"), vitals_round(f"{off}_{r}")
        rounds.append((v["rps"] / p["rps"], p, v, o, o["rps"] / p["rps"]))
    ratio, p, v, _, _ = sorted(rounds, key=lambda x: x[0])[len(rounds) // 2]
    _, _, _, o, off_ratio = sorted(rounds, key=lambda x: x[4])[len(rounds) // 2]
    return rounds, ratio, p, v, o, off_ratio


if "throughput" in phases:
    def wrk_round(name):
        w = timed(name)
        m = re.search(r"Requests/sec:\s*([0-9.]+)", read(name + ".out"))
        w["rps"] = float(m.group(1)) if m else float("nan")
        m = re.search(r"(\d+) requests in", read(name + ".out"))
        w["requests"] = int(m.group(1)) if m else None
        m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", read(name + ".out"))
        w["non_2xx"] = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors:.*", read(name + ".out"))
        w["socket_errors"] = m.group(0) if m else None
        _, w["server_connections"], _ = access(name)
        return w

    rounds, ratio, w, v, o, off_ratio = alternating_rounds(int(E["ROUNDS"]), wrk_round, "wrk", "vitals_closed", "vitals_off")
    ratios = [x[0] for x in rounds]
    off_ratios = [x[4] for x in rounds]
    out["throughput"] = {"wrk": w, "vitals": v, "vitals_busy_poll_off": o, "ratio_rps": ratio, "ratios_by_round": ratios,
                         "ratio_rps_busy_poll_off": off_ratio, "ratios_by_round_busy_poll_off": off_ratios,
                         "vitals_cpu_per_request_us": per_req(v), "wrk_cpu_per_request_us": per_req(w),
                         "vitals_busy_poll_off_cpu_per_request_us": per_req(o),
                         "rounds": [{"wrk": x[1], "vitals": x[2], "vitals_busy_poll_off": x[3]} for x in rounds]}
    rows += [
        (f"requests/s, {conns} connections, {dur} s (closed), median of {len(rounds)} rounds", f(v["rps"], 0), f(w["rps"], 0), f"{ratio:.2f}"),
        ("vitals/wrk requests/s by round", "", "", " ".join(f"{x:.2f}" for x in ratios)),
        ("… with `--busy-poll off`: requests/s (median round)", f(o["rps"], 0), "", f"{off_ratio:.2f}"),
        ("… with `--busy-poll off`: vitals/wrk by round", "", "", " ".join(f"{x:.2f}" for x in off_ratios)),
        ("client CPU-s (busy poll on / off)", f"{v['cpu_s']:.2f} / {o['cpu_s']:.2f}", f(w["cpu_s"], 2), ""),
        ("client CPU-µs per request (busy poll on / off)", f"{per_req(v):.2f} / {per_req(o):.2f}", f(per_req(w), 2),
         f"{per_req(v) / per_req(w):.2f} / {per_req(o) / per_req(w):.2f}"),
        ("nginx worker CPU-µs per request (busy poll on / off)", f"{nginx_per_req(v):.2f} / {nginx_per_req(o):.2f}",
         f(nginx_per_req(w), 2), f"{nginx_per_req(v) / nginx_per_req(w):.2f} / {nginx_per_req(o) / nginx_per_req(w):.2f}"),
        ("nginx worker CPU-s / whole machine busy CPU-s during the run",
         f"{v['nginx_cpu_s']:.2f} / {v['machine_busy_cpu_s']:.2f}", f"{w['nginx_cpu_s']:.2f} / {w['machine_busy_cpu_s']:.2f}", ""),
        ("CPU-s stolen by the hypervisor during the runs (all rounds and repeated runs, summed; busy poll on / off)",
         f"{sum(x[2]['steal_all_attempts_cpu_s'] for x in rounds):.2f} / {sum(x[3]['steal_all_attempts_cpu_s'] for x in rounds):.2f}",
         f"{sum(x[1]['steal_all_attempts_cpu_s'] for x in rounds):.2f}", ""),
        ("client peak RSS (MiB)", f(v["peak_rss_mib"]), f(w["peak_rss_mib"]),
         f"{v['peak_rss_mib'] / w['peak_rss_mib']:.2f}"),
        ("TCP connections seen by nginx", str(v["server_connections"]), str(w["server_connections"]), ""),
    ]
    if ratio < min_ratio:
        broken.append(f"throughput vitals/wrk {ratio:.2f} < {min_ratio}")
    closed_errors = sum(x[2]["errors"] + x[3]["errors"] for x in rounds)
    if closed_errors:
        broken.append(f"vitals closed runs had {closed_errors} errors")

if "accuracy" in phases:
    def acc_round(name):
        s = json.loads(read(name + ".json"))
        ts, _, _ = access(name)
        if s["errors"]["total"] or s["dropped_iterations"]:
            broken.append(f"accuracy {name}: {s['errors']['total']} errors, {s['dropped_iterations']} dropped")
        return s["latency_ms"]["p99"] - pct(ts, 99.0), name
    acc_rounds = [acc_round(f"vitals_open_{r}") for r in range(1, int(E["ACC_ROUNDS"]) + 1)]
    # The median round by its p99 difference (a single round can catch the machine's hiccups).
    _, name = sorted(acc_rounds, key=lambda x: x[0])[len(acc_rounds) // 2]
    v = timed(name)
    s = json.loads(read(name + ".json"))
    ts, nconn, codes = access(name)
    acc = {"vitals": s, "client": v, "nginx_requests": len(ts), "nginx_connections": nconn, "nginx_status": codes,
           "nginx_ms": {}, "diff_ms": {}, "p99_diff_ms_by_round": [x[0] for x in acc_rounds]}
    rows.append((f"p99 difference (ms) by round, {len(acc_rounds)} rounds; the median round is reported below",
                 "", "", " ".join(f"{x[0]:+.3f}" for x in acc_rounds)))
    rows.append((f"requests at {rate}/s, {dur} s: vitals `requests` / nginx log lines", str(s["requests"]),
                 str(len(ts)), f"{s['requests'] / len(ts):.3f}" if ts else "n/a"))
    for q in ("p50", "p90", "p99"):
        n = pct(ts, float(q[1:]))
        d = s["latency_ms"][q] - n
        acc["nginx_ms"][q] = n
        acc["diff_ms"][q] = d
        rows.append((f"{q} latency ms: vitals vs nginx `$request_time` (diff ms)", f(s["latency_ms"][q], 3),
                     f(n, 3), f"{d:+.3f}"))
        if not abs(d) <= max_diff:
            broken.append(f"{q} differs from nginx by {d:+.3f} ms (budget {max_diff} ms)")
    rows.append(("max latency ms: vitals vs nginx", f(s["latency_ms"]["max"], 3), f(ts[-1] if ts else None, 3), ""))
    rows.append((f"client CPU-s / peak RSS (MiB) at {rate}/s", f"{v['cpu_s']:.2f} / {v['peak_rss_mib']:.1f}", "", ""))
    out["accuracy"] = acc

if "footprint" in phases:
    v = timed("vitals_high")
    s = json.loads(read("vitals_high.json"))
    ts, nconn, _ = access("vitals_high")
    target = float(high)
    kept = s["dropped_iterations"] == 0 and s["errors"]["total"] == 0 and s["rps"] >= 0.99 * target
    out["footprint"] = {"vitals": s, "client": v, "nginx_requests": len(ts), "nginx_connections": nconn,
                        "kept_up": kept}
    rows += [
        (f"peak RSS (MiB) at {high}/s, {dur} s", f(v["peak_rss_mib"]), "", ""),
        (f"achieved requests/s at {high}/s (dropped iterations, errors)",
         f"{s['rps']:,.0f} ({s['dropped_iterations']}, {s['errors']['total']})", "", "kept up" if kept else "**fell behind**"),
        (f"p50 / p99 latency ms at {high}/s (nginx p50 / p99)",
         f"{s['latency_ms']['p50']:.3f} / {s['latency_ms']['p99']:.3f}", f"{pct(ts, 50):.3f} / {pct(ts, 99):.3f}", ""),
        (f"client CPU-s at {high}/s", f(v["cpu_s"], 2), "", ""),
    ]
    if not kept:
        broken.append(f"did not keep up with {high}/s: rps {s['rps']:.0f}, dropped {s['dropped_iterations']}, "
                      f"errors {s['errors']['total']}")

if "http2" in phases:
    def h2load_round(name):
        x = timed(name)
        text = read(name + ".out")
        m = re.search(r"finished in [0-9.]+s, ([0-9.]+) req/s", text)
        x["rps"] = float(m.group(1)) if m else float("nan")
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
        x["requests"], x["errors"] = (int(m.group(3)), int(m.group(4)) + int(m.group(5))) if m else (None, None)
        _, x["server_connections"], _ = access(name)
        return x

    h2, ratio, p, v, o, off_ratio = alternating_rounds(int(E["H2_ROUNDS"]), h2load_round, "h2load", "h2vitals", "h2vitals_off")
    c, m = E["H2_CONNS"], E["H2_STREAMS"]
    out["http2"] = {"h2load": p, "vitals": v, "vitals_busy_poll_off": o, "ratio_rps": ratio, "ratio_rps_busy_poll_off": off_ratio,
                    "rounds": [{"h2load": x[1], "vitals": x[2], "vitals_busy_poll_off": x[3]} for x in h2]}
    rows += [
        (f"HTTP/2 requests/s, {c} connections × {m} streams, {dur} s, median of {len(h2)} rounds (vs h2load)",
         f(v["rps"], 0), f(p["rps"], 0), f"{ratio:.2f}"),
        ("HTTP/2 vitals/h2load by round (busy poll on; off)", "", "",
         " ".join(f"{x[0]:.2f}" for x in h2) + "; " + " ".join(f"{x[4]:.2f}" for x in h2)),
        ("HTTP/2 with `--busy-poll off`: requests/s (median round)", f(o["rps"], 0), "", f"{off_ratio:.2f}"),
        ("HTTP/2 client CPU-µs per request (busy poll on / off)", f"{per_req(v):.2f} / {per_req(o):.2f}", f(per_req(p), 2),
         f"{per_req(v) / per_req(p):.2f} / {per_req(o) / per_req(p):.2f}"),
        ("HTTP/2 nginx worker CPU-µs per request (busy poll on / off)", f"{nginx_per_req(v):.2f} / {nginx_per_req(o):.2f}",
         f(nginx_per_req(p), 2), ""),
        ("HTTP/2 TCP connections seen by nginx / client peak RSS (MiB)", f"{v['server_connections']} / {v['peak_rss_mib']:.1f}",
         f"{p['server_connections']} / {p['peak_rss_mib']:.1f}", ""),
    ]
    h2_errors = sum(x[2]["errors"] + x[3]["errors"] for x in h2)
    if h2_errors or any(x[2]["protocol"] != "HTTP/2" for x in h2):
        broken.append(f"vitals HTTP/2 runs had {h2_errors} errors")

# Runs each measurement took (repeated while the hypervisor stole CPU).
RUNS = [int(read(f)) for f in sorted(os.listdir(W)) if f.endswith(".attempts")]
out["repeated_runs"] = sum(RUNS) - len(RUNS)
rows.append((f"runs repeated because the hypervisor stole > {E['STEAL_MAX_PCT']} % of the CPU time (of {len(RUNS)})",
             str(out["repeated_runs"]), "", ""))
out["broken"] = broken
with open(E["OUT_JSON"], "w") as fh:
    json.dump(out, fh, indent=1)

print(f"### Load: `vitals load` vs wrk on nginx ({E['FILE_BYTES']} B static file, 1 worker), {out['date']}")
print()
print(f"Machine: {E['NPROC']} cores, {E['CPU_MODEL']}. {E['NGINX_VERSION']}, {E['WRK_VERSION']}, {E['H2LOAD_VERSION']}, "
      f"{E['VITALS_VERSION']} (git {E['GIT_REV']}). Whole run {E['ELAPSED']} s.")
print()
print("Commands (URL = `" + E["URL"] + "`):")
print()
if "throughput" in phases:
    print(f"- `wrk -t1 -c{conns} -d{dur}s URL` vs `vitals load URL --vus {conns} --connections {conns} --threads 1 --duration {dur}s`"
          " (and the same with `--busy-poll off`)")
if "accuracy" in phases:
    print(f"- `vitals load URL --rate {rate}/s --duration {dur}s` vs nginx `$request_time` of the same requests")
if "footprint" in phases:
    print(f"- `vitals load URL --rate {high}/s --duration {dur}s` (under `/usr/bin/time`)")
if "http2" in phases:
    c, m = E["H2_CONNS"], E["H2_STREAMS"]
    print(f"- `h2load -t1 -c{c} -m{m} -D{dur} H2_URL` vs `vitals load H2_URL --http2 --vus {int(c) * int(m)} --connections {c}"
          f" --threads 1 --duration {dur}s` (and `--busy-poll off`); H2_URL is nginx's h2c port")
print()
print("| figure | vitals | peer (wrk, h2load) / nginx | vitals/peer or vitals−nginx |")
print("|---|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
if broken:
    print("Budgets broken: " + "; ".join(broken) + ".")
    sys.exit(1)
print("All budgets held.")
PY
log "raw numbers: $OUT_JSON"
exit "$rc"
