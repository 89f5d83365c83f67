#!/usr/bin/env python3
"""Helpers of bench/rules.sh (rule evaluation cost and alert latency); standard library only.

  rules.py gen-rules --page FILE --jobs api,web,... --out FILE [--groups 20] [--per-group 100] [--interval 15s]
      Writes a rule file of GROUPS groups of PER_GROUP rules over the series of a synth-target page (FILE: one
      page, for the handler names), selecting by job and handler the way per-service rule sets do; prints a JSON
      summary (rules per kind and per template).
  rules.py cpu-window --pids A,B --seconds S
      Sleeps S seconds and prints {"<pid>": CPU seconds used, ..., "machine_busy": s, "seconds": S}.
  rules.py measure --url URL --pid PID --since UNIX --out FILE [--interval 15] [--warmup-rounds 2] [--rounds 4]
      Polls GET URL/api/v1/rules (Prometheus' format) every few seconds from SINCE + warmup rounds on and keeps
      every group evaluation (lastEvaluation, evaluationTime) whose lastEvaluation falls in the window
      [W0, W0 + ROUNDS * INTERVAL); writes per-round sums over the groups, missed evaluations, CPU seconds of PID
      in the window, rule health errors, active alerts and recorded series.
  rules.py latency --target-port P --hook-port Q --out FILE [--instances 100] [--stagger 1] [--seed 1]
      Serves a scrape target (GET /metrics: x_value{instance="i<N>"}, 50 until the instance's crossing time,
      then 150) and a webhook receiver (POST /hook, Alertmanager's webhook payload). Once the target has been
      scraped a few times, instance N crosses 100 at T0 + N * STAGGER + uniform(0, STAGGER); it waits for the
      notifications and writes crossing times, the first scrape that saw each crossing, arrival times and
      the latencies.
  rules.py report --meta FILE [--vitals FILE] [--prometheus FILE] [--latency FILE] [--out-json FILE]
      Prints the markdown tables and checks the budgets; exits 1 if one is broken.
"""

import argparse
import calendar
import collections
import http.client
import http.server
import json
import math
import os
import random
import re
import sys
import threading
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------------------------------------------
# Rule file


def page_handlers(page):
    """Handlers with request counters, and those with classic histograms, in page order."""
    counters, hists = [], []
    for line in page.splitlines():
        m = re.match(r'(http_requests_total|http_request_duration_seconds_bucket)\{.*?handler="([^"]*)"', line)
        if not m:
            continue
        lst = counters if m.group(1) == "http_requests_total" else hists
        if m.group(2) not in lst:
            lst.append(m.group(2))
    return counters, hists


def q(s):
    """A YAML double-quoted scalar."""
    return json.dumps(s)


ERR_ANN = {
    "summary": "{{ $labels.instance }} {{ $labels.handler }}: {{ $value | humanizePercentage }} of requests fail",
    "description": "Job {{ $labels.job }}, instance {{ $labels.instance }}: {{ $value | humanize }} of "
                   "{{ $labels.handler }} requests answered 5xx over 5m (budget 1%).",
}
LAT_ANN = {
    "summary": "p95 latency of {{ $labels.instance }} {{ $labels.handler }} is {{ $value | humanizeDuration }}",
    "description": "{{ $labels.job }}/{{ $labels.instance }}: p95 of {{ $labels.handler }} is "
                   "{{ $value | humanize }}s (budget 1s).",
}
FLIGHT_ANN = {
    "summary": "{{ $labels.instance }} {{ $labels.handler }} has {{ $value | humanize }} requests in flight",
    "description": "{{ $labels.job }}/{{ $labels.instance }}: up to {{ $value }} concurrent "
                   "{{ $labels.handler }} requests over 5m.",
}
MEM_ANN = {
    "summary": "{{ $labels.instance }}: only {{ $value | humanizePercentage }} memory available",
    "description": "{{ $labels.job }}/{{ $labels.instance }} has {{ $value | humanize }} of its memory available.",
}


def templates(jobs, handlers, hists, instances):
    """(template name, kind, list of rule dicts) in a fixed order."""
    out = []

    def add(name, kind, rules):
        out.append((name, kind, rules))

    jh = [(j, h) for h in handlers for j in jobs]
    jhh = [(j, h) for h in hists for j in jobs]
    sel = lambda j, h, extra="": f'job="{j}",handler="{h}"{extra}'  # noqa: E731
    add("record: sum by (job, handler, code) (rate(http_requests_total[5m]))", "recording", [
        {"record": "job_handler_code:http_requests:rate5m",
         "expr": f"sum by (job, handler, code) (rate(http_requests_total{{{sel(j, h)}}}[5m]))"} for j, h in jh])
    add("record: histogram_quantile(0.95, sum by (le, job, handler) (rate(..._bucket[5m])))", "recording", [
        {"record": "job_handler:http_request_duration_seconds:p95_5m",
         "expr": "histogram_quantile(0.95, sum by (le, job, handler) "
                 f"(rate(http_request_duration_seconds_bucket{{{sel(j, h)}}}[5m])))"} for j, h in jhh])
    add("alert: 5xx ratio by instance > 1% for 1m", "alerting", [
        {"alert": "HighErrorRatio",
         "expr": f'sum by (job, instance, handler) (rate(http_requests_total{{{sel(j, h, ",code=~" + q("5.."))}}}[5m]))'
                 f" / sum by (job, instance, handler) (rate(http_requests_total{{{sel(j, h)}}}[5m])) > 0.01",
         "for": "1m", "labels": {"severity": "warning", "team": j}, "annotations": ERR_ANN} for j, h in jh])
    add("record: 5xx ratio by (job, handler)", "recording", [
        {"record": "job_handler:http_requests_errors:ratio_rate5m",
         "expr": f'sum by (job, handler) (rate(http_requests_total{{{sel(j, h, ",code=~" + q("5.."))}}}[5m]))'
                 f" / sum by (job, handler) (rate(http_requests_total{{{sel(j, h)}}}[5m]))"} for j, h in jh])
    add("alert: histogram_quantile(0.95, ... by instance) > 1s for 2m", "alerting", [
        {"alert": "HighLatencyP95",
         "expr": "histogram_quantile(0.95, sum by (le, job, instance, handler) "
                 f"(rate(http_request_duration_seconds_bucket{{{sel(j, h)}}}[5m]))) > 1",
         "for": "2m", "labels": {"severity": "warning", "team": j}, "annotations": LAT_ANN} for j, h in jhh])
    add("record: mean latency (rate(_sum[5m]) / rate(_count[5m]))", "recording", [
        {"record": "job_handler:http_request_duration_seconds:mean5m",
         "expr": f"sum by (job, handler) (rate(http_request_duration_seconds_sum{{{sel(j, h)}}}[5m]))"
                 f" / sum by (job, handler) (rate(http_request_duration_seconds_count{{{sel(j, h)}}}[5m]))"}
        for j, h in jhh])
    add("alert: max_over_time(in-flight gauge[5m]) > 8 for 1m", "alerting", [
        {"alert": "TooManyRequestsInFlight",
         "expr": f"max_over_time(http_requests_in_flight{{{sel(j, h)}}}[5m]) > 8",
         "for": "1m", "labels": {"severity": "info", "team": j}, "annotations": FLIGHT_ANN} for j, h in jh])
    add("record: p99 by (job, handler)", "recording", [
        {"record": "job_handler:http_request_duration_seconds:p99_5m",
         "expr": "histogram_quantile(0.99, sum by (le, job, handler) "
                 f"(rate(http_request_duration_seconds_bucket{{{sel(j, h)}}}[5m])))"} for j, h in jhh])
    add("record: whole job: sum by (job, handler) (rate(http_requests_total{job}[5m]))", "recording", [
        {"record": "job_handler:http_requests:rate5m",
         "expr": f'sum by (job, handler) (rate(http_requests_total{{job="{j}"}}[5m]))'} for j in jobs])
    add("record: whole job: histogram_quantile(0.95, sum by (le, job) (rate(..._bucket{job}[5m])))", "recording", [
        {"record": "job:http_request_duration_seconds:p95_5m",
         "expr": "histogram_quantile(0.95, sum by (le, job) "
                 f'(rate(http_request_duration_seconds_bucket{{job="{j}"}}[5m])))'} for j in jobs])
    add("alert: memory available ratio < 0.595 per instance (gauge)", "alerting", [
        {"alert": "HostMemoryLow",
         "expr": f'node_memory_MemAvailable_bytes{{instance="{i}"}} / node_memory_MemTotal_bytes{{instance="{i}"}}'
                 " < 0.595",
         "for": "1m", "labels": {"severity": "warning"}, "annotations": MEM_ANN} for i in instances])
    return out


def gen_rules(args):
    with open(args.page) as f:
        handlers, hists = page_handlers(f.read())
    if not handlers or not hists:
        sys.exit("gen-rules: no http_requests_total / http_request_duration_seconds_bucket handlers on the page")
    jobs = args.jobs.split(",")
    instances = [f"synth-{i}" for i in range(args.targets)]
    tpls = templates(jobs, handlers, hists, instances)
    total = args.groups * args.per_group
    # Round-robin over the templates until TOTAL rules: every group gets a mix.
    picked, idx = [], [0] * len(tpls)
    while len(picked) < total and any(idx[t] < len(tpls[t][2]) for t in range(len(tpls))):
        for t, (name, kind, rules) in enumerate(tpls):
            if idx[t] < len(rules) and len(picked) < total:
                picked.append((name, kind, rules[idx[t]]))
                idx[t] += 1
    if len(picked) < total:
        sys.exit(f"gen-rules: only {len(picked)} distinct rules, asked for {total}")
    lines = ["# Generated by bench/rules.py gen-rules (bench/rules.sh); do not edit.", "groups:"]
    for g in range(args.groups):
        lines.append(f"  - name: bench-{g:02d}")
        lines.append(f"    interval: {args.interval}")
        lines.append("    rules:")
        for _, _, r in picked[g * args.per_group:(g + 1) * args.per_group]:
            key = "record" if "record" in r else "alert"
            lines.append(f"      - {key}: {r[key]}")
            lines.append(f"        expr: {q(r['expr'])}")
            if "for" in r:
                lines.append(f"        for: {r['for']}")
            for sect in ("labels", "annotations"):
                if r.get(sect):
                    lines.append(f"        {sect}:")
                    for k, v in r[sect].items():
                        lines.append(f"          {k}: {q(v)}")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    per_tpl = collections.Counter(name for name, _, _ in picked)
    kinds = collections.Counter(kind for _, kind, _ in picked)
    print(json.dumps({"rules": len(picked), "groups": args.groups, "recording": kinds["recording"],
                      "alerting": kinds["alerting"], "handlers": len(handlers), "histogram_handlers": len(hists),
                      "templates": [{"template": n, "kind": k, "rules": per_tpl[n]} for n, k, _ in tpls]}))


# ---------------------------------------------------------------------------------------------------------------
# Measuring


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def cpu_window(args):
    pids = [p for p in args.pids.split(",") if p]
    c0 = {p: cpu_seconds(p) for p in pids}
    m0 = machine_busy()
    time.sleep(args.seconds)
    out = {p: round(cpu_seconds(p) - c0[p], 3) for p in pids}
    out["machine_busy"] = round(machine_busy() - m0, 3)
    out["seconds"] = args.seconds
    print(json.dumps(out))


TS_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_ts(s):
    """RFC 3339 with any fraction (Go's RFC3339Nano) to Unix seconds; None for Go's zero time."""
    m = TS_RE.match(s)
    if not m or s.startswith("0001-"):
        return None
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    if m.group(2):
        t += float("0" + m.group(2))
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        t -= sign * (int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return t


def get_json(url, timeout=60):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"GET {url}: {r.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        c.close()


def instant(base, expr, at):
    """Value of a one-element instant query answer (None if empty or failed)."""
    try:
        d = get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"}))
        res = d["data"]["result"]
        return float(res[0]["value"][1]) if res else 0.0
    except Exception as e:  # noqa: BLE001
        print(f"measure: query {expr!r} failed: {e}", file=sys.stderr)
        return None


def measure(args):
    base = args.url.rstrip("/")
    iv = args.interval
    w0 = args.since + args.warmup_rounds * iv
    w1 = w0 + args.rounds * iv
    evals = collections.defaultdict(dict)  # group -> {lastEvaluation string: (t, evaluationTime)}
    errors = {}  # (group, rule) -> lastError
    polls, poll_seconds = 0, 0.0
    last = None
    cpu0 = cpu1 = m0 = m1 = None
    while True:
        now = time.time()
        if cpu0 is None and now >= w0:
            cpu0, m0, peer0 = cpu_seconds(args.pid), machine_busy(), cpu_seconds(args.peer_pid)
        if cpu1 is None and now >= w1:
            cpu1, m1, peer1 = cpu_seconds(args.pid), machine_busy(), cpu_seconds(args.peer_pid)
        if now >= w0 - iv:  # the evaluation visible at W0 may have started before; polled but filtered below
            t0 = time.time()
            data = get_json(f"{base}/api/v1/rules")["data"]["groups"]
            poll_seconds += time.time() - t0
            polls += 1
            last = data
            for g in data:
                key = f"{g['file']}/{g['name']}"
                t = parse_ts(g.get("lastEvaluation", ""))
                if t is not None and w0 <= t < w1:
                    evals[key][g["lastEvaluation"]] = (t, float(g["evaluationTime"]))
                if now >= w0:
                    for r in g["rules"]:
                        if r.get("health") == "err" and (key, r["name"]) not in errors:
                            errors[(key, r["name"])] = r.get("lastError", "")
            groups = [f"{g['file']}/{g['name']}" for g in data]
            done = all(len(evals[k]) >= args.rounds for k in groups)
            if now >= w1 and (done or now >= w1 + iv + 5):
                break
        nxt = min(x for x in (w0, w1, now + args.poll) if x > now) if now < w1 else now + args.poll
        time.sleep(max(0.05, nxt - time.time()))
    groups = [f"{g['file']}/{g['name']}" for g in last]
    per_group = {k: [e for _, e in sorted(evals[k].values())] for k in groups}
    rounds = []
    for i in range(args.rounds):
        rounds.append(sum(v[i] for v in per_group.values() if len(v) > i))
    missed = sum(max(0, args.rounds - len(v)) for v in per_group.values())
    # Where the time goes: the last evaluation's per-rule times, summed by rule name.
    by_name = collections.defaultdict(lambda: [0, 0.0])
    alerts = collections.Counter()
    annotation_sample = None
    for g in last:
        for r in g["rules"]:
            n = r["name"] if r["type"] == "recording" else "alert " + r["name"]
            by_name[n][0] += 1
            by_name[n][1] += float(r.get("evaluationTime", 0))
            for a in r.get("alerts", []):
                alerts[a["state"]] += 1
                if annotation_sample is None and a["state"] == "firing":
                    annotation_sample = a.get("annotations")
    at = w1 - 1
    out = {
        "url": base, "pid": args.pid, "interval": iv, "warmup_rounds": args.warmup_rounds, "rounds": args.rounds,
        "window": [w0, w1], "groups": len(groups), "rules": sum(len(g["rules"]) for g in last),
        "round_sums": [round(x, 4) for x in rounds],
        "round_sum_median": round(sorted(rounds)[(len(rounds) - 1) // 2], 4) if rounds else None,
        "round_sum_mean": round(sum(rounds) / len(rounds), 4) if rounds else None,
        "round_sum_max": round(max(rounds), 4) if rounds else None,
        "missed_evaluations": missed,
        "max_group_seconds": round(max((max(v) for v in per_group.values() if v), default=0.0), 4),
        "cpu_seconds": round(cpu1 - cpu0, 3), "cpu_seconds_per_round": round((cpu1 - cpu0) / args.rounds, 3),
        "machine_busy_seconds": round(m1 - m0, 3), "window_seconds": w1 - w0,
        "peer_cpu_seconds": round(peer1 - peer0, 3),
        "other_cpu_seconds_per_round": round((m1 - m0 - (cpu1 - cpu0) - (peer1 - peer0)) / args.rounds, 3),
        "polls": polls, "poll_seconds": round(poll_seconds, 3),
        "health_errors": [{"group": k[0], "rule": k[1], "error": e} for k, e in sorted(errors.items())],
        "rules_not_ok": sum(1 for g in last for r in g["rules"] if r.get("health") != "ok"),
        "alerts": dict(alerts), "annotation_sample": annotation_sample,
        "seconds_by_rule_name": {n: {"rules": c, "seconds": round(s, 4)} for n, (c, s) in sorted(by_name.items())},
        "recorded_series": instant(base, 'count({__name__=~".+:.+"})', at),
        "alerts_series": instant(base, "count(ALERTS)", at),
        "firing_series": instant(base, 'count(ALERTS{alertstate="firing"})', at),
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: out[k] for k in ("round_sums", "missed_evaluations", "cpu_seconds_per_round",
                                          "rules_not_ok", "alerts", "recorded_series")}), file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# Alert latency


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


def latency(args):
    n = args.instances
    rng = random.Random(args.seed)
    lock = threading.Lock()
    st = {"scrapes": 0, "t0": None, "cross": None, "seen": {}, "first": {}, "count": collections.Counter(),
          "starts": {}, "notifications": 0, "other": 0, "resolved": 0, "sample": None, "alerts_per_notification": collections.Counter()}
    names = [f"i{i:03d}" for i in range(n)]

    class Target(Quiet):
        def do_GET(self):  # noqa: N802
            now = time.time()
            if self.path != "/metrics":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with lock:
                st["scrapes"] += 1
                if st["cross"] is None and st["scrapes"] >= args.start_after:
                    t0 = now + args.lead
                    st["t0"] = t0
                    st["cross"] = [t0 + i * args.stagger + rng.uniform(0, args.stagger) for i in range(n)]
                cross = st["cross"]
                lines = ["# HELP x_value A gauge that crosses 100 at a recorded time.", "# TYPE x_value gauge"]
                for i, name in enumerate(names):
                    high = cross is not None and now >= cross[i]
                    if high and name not in st["seen"]:
                        st["seen"][name] = now
                    lines.append(f'x_value{{instance="{name}"}} {150 if high else 50}')
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Hook(Quiet):
        def do_POST(self):  # noqa: N802
            now = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                p = json.loads(body)
            except ValueError:
                p = {}
            with lock:
                st["notifications"] += 1
                if st["sample"] is None:
                    st["sample"] = p
                al = p.get("alerts", [])
                st["alerts_per_notification"][len(al)] += 1
                for a in al:
                    inst = a.get("labels", {}).get("instance")
                    if a.get("status") == "resolved":
                        st["resolved"] += 1
                    elif inst in names:
                        st["count"][inst] += 1
                        st["first"].setdefault(inst, now)
                        st["starts"].setdefault(inst, parse_ts(a.get("startsAt", "")))
                    else:
                        st["other"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", args.target_port), Target),
               http.server.ThreadingHTTPServer(("127.0.0.1", args.hook_port), Hook)]
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    started = time.time()
    print(f"latency: target on :{args.target_port}, hook on :{args.hook_port}", file=sys.stderr, flush=True)
    while True:
        time.sleep(0.2)
        with lock:
            cross, got = st["cross"], len(st["first"])
        now = time.time()
        if cross is None:
            if now - started > args.start_timeout:
                sys.exit("latency: the target was not scraped")
            continue
        if got == n or now > cross[-1] + args.timeout:
            break
    time.sleep(args.linger)  # duplicates would arrive within a few group intervals
    for s in servers:
        s.shutdown()
    with lock:
        rows = []
        for i, name in enumerate(names):
            arr = st["first"].get(name)
            seen = st["seen"].get(name)
            fired = st["starts"].get(name)  # startsAt: the timestamp of the evaluation that fired it
            rows.append({"instance": name, "crossing": cross[i], "first_scrape_seen": seen, "fired": fired,
                         "arrival": arr, "latency": None if arr is None else arr - cross[i],
                         "latency_from_scrape": None if arr is None or seen is None else arr - seen,
                         "scrape_to_eval": None if fired is None or seen is None else fired - seen,
                         "eval_to_webhook": None if arr is None or fired is None else arr - fired,
                         "notifications": st["count"][name]})
        out = {"instances": n, "stagger": args.stagger, "seed": args.seed, "t0": st["t0"], "rows": rows,
               "notified": sum(1 for r in rows if r["arrival"] is not None),
               "duplicates": sum(max(0, r["notifications"] - 1) for r in rows),
               "notifications": st["notifications"], "resolved": st["resolved"], "unknown": st["other"],
               "alerts_per_notification": {str(k): v for k, v in st["alerts_per_notification"].items()},
               "scrapes": st["scrapes"], "sample_payload": st["sample"]}
    for key in ("latency", "latency_from_scrape", "scrape_to_eval", "eval_to_webhook"):
        v = sorted(r[key] for r in rows if r[key] is not None)
        out[key] = stats(v)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: out[k] for k in ("notified", "duplicates", "latency", "latency_from_scrape")}),
          file=sys.stderr)


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return None
    return sorted_vals[max(0, math.ceil(p * len(sorted_vals)) - 1)]


def stats(v):
    if not v:
        return {"n": 0}
    return {"n": len(v), "min": round(v[0], 3), "p50": round(pct(v, 0.5), 3), "p90": round(pct(v, 0.9), 3),
            "p99": round(pct(v, 0.99), 3), "max": round(v[-1], 3), "mean": round(sum(v) / len(v), 3)}


# ---------------------------------------------------------------------------------------------------------------
# Report


def fmt(x, d=3):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{d}f}"


def ratio(a, b):
    return "n/a" if a is None or b in (None, 0) else f"{a / b:.2f}"


def report(args):
    meta = json.load(open(args.meta))
    v = json.load(open(args.vitals)) if args.vitals else None
    p = json.load(open(args.prometheus)) if args.prometheus else None
    lat = json.load(open(args.latency)) if args.latency else None
    fails = []
    g = lambda d, k: None if d is None else d.get(k)  # noqa: E731
    base = meta.get("baseline", {})
    iv = meta["interval"]
    rows = []
    if v or p:
        rows += [
            (f"rule evaluation time per {iv} s round: sum of the {meta['groups']} groups' evaluationTime, "
             f"median of {meta['rounds']} rounds (s)", g(v, "round_sum_median"), g(p, "round_sum_median"), 3),
            ("same, slowest round (s)", g(v, "round_sum_max"), g(p, "round_sum_max"), 3),
            ("slowest single group evaluation (s)", g(v, "max_group_seconds"), g(p, "max_group_seconds"), 3),
            (f"CPU-s per {iv} s round, whole process (scraping 100k series too)", g(v, "cpu_seconds_per_round"),
             g(p, "cpu_seconds_per_round"), 3),
        ]
        bv, bp = base.get("vitals"), base.get("prometheus")
        rv = None if v is None or bv is None else v["cpu_seconds_per_round"] - bv
        rp = None if p is None or bp is None else p["cpu_seconds_per_round"] - bp
        rows += [
            (f"CPU-s per {iv} s round before the rules were loaded (scraping only)", bv, bp, 3),
            (f"CPU-s per {iv} s round for the rules (difference)", rv, rp, 3),
            (f"CPU-s per {iv} s round of the other system (scraping only)", g(v, "peer_cpu_seconds") and
             v["peer_cpu_seconds"] / v["rounds"], g(p, "peer_cpu_seconds") and p["peer_cpu_seconds"] / p["rounds"], -3),
            (f"CPU-s per {iv} s round of all other processes (synth-target, this script, anything else)",
             g(v, "other_cpu_seconds_per_round"), g(p, "other_cpu_seconds_per_round"), -3),
            ("missed group evaluations in the window", g(v, "missed_evaluations"), g(p, "missed_evaluations"), 0),
            ("rules with health != ok at the end / errors seen", None, None, 0),
            ("recorded series at the end (`count({__name__=~\".+:.+\"})`)", g(v, "recorded_series"),
             g(p, "recorded_series"), 0),
            ("`ALERTS` series at the end (pending + firing)", g(v, "alerts_series"), g(p, "alerts_series"), 0),
        ]
        for name, d in (("vitals", v), ("Prometheus", p)):
            if d is None:
                continue
            if d["round_sum_max"] is None or d["round_sum_max"] >= iv:
                fails.append(f"{name}: the groups' evaluation time per round reached {d['round_sum_max']} s "
                             f"(budget < {iv} s)")
            if d["missed_evaluations"]:
                fails.append(f"{name}: {d['missed_evaluations']} group evaluations missed in the window")
            if d["rules_not_ok"] or d["health_errors"]:
                fails.append(f"{name}: {d['rules_not_ok']} rules not ok at the end, "
                             f"{len(d['health_errors'])} with errors in the window")
    print("| figure | vitals | Prometheus 2.42 | vitals/Prometheus |")
    print("|---|---:|---:|---:|")
    for label, a, b, d in rows:
        if label.startswith("rules with health"):
            a = "n/a" if v is None else f"{v['rules_not_ok']} / {len(v['health_errors'])}"
            b = "n/a" if p is None else f"{p['rules_not_ok']} / {len(p['health_errors'])}"
            print(f"| {label} | {a} | {b} | |")
            continue
        if d < 0:  # context, no ratio
            print(f"| {label} | {fmt(a, -d)} | {fmt(b, -d)} | |")
            continue
        if d == 0:
            fa = "n/a" if a is None else str(int(a))
            fb = "n/a" if b is None else str(int(b))
            print(f"| {label} | {fa} | {fb} | |")
        else:
            print(f"| {label} | {fmt(a, d)} | {fmt(b, d)} | {ratio(a, b)} |")
    if lat:
        L, S = lat["latency"], lat["latency_from_scrape"]
        b_issue = meta["lat_eval_interval"] + meta["lat_group_wait"] + 1
        b_scrape = b_issue + meta["lat_scrape_interval"]
        print(f"| alert latency, threshold crossing → webhook arrival, {lat['instances']} alerts: p50 / p99 / max (s) "
              f"| {fmt(L.get('p50'))} / {fmt(L.get('p99'))} / {fmt(L.get('max'))} | | |")
        print(f"| same, from the first scrape that saw the crossing: p50 / p99 / max (s) "
              f"| {fmt(S.get('p50'))} / {fmt(S.get('p99'))} / {fmt(S.get('max'))} | | |")
        ok1 = L.get("p99") is not None and L["p99"] <= b_issue
        ok2 = L.get("p99") is not None and L["p99"] <= b_scrape
        ok3 = S.get("p99") is not None and S["p99"] <= b_issue
        for key, what in (("scrape_to_eval", "first scrape that saw it → evaluation that fired (`startsAt`)"),
                          ("eval_to_webhook", "that evaluation → webhook arrival (group_wait + delivery)")):
            X = lat.get(key) or {}
            print(f"| part: {what}: p50 / p99 / max (s) | {fmt(X.get('p50'))} / {fmt(X.get('p99'))} / "
                  f"{fmt(X.get('max'))} | | |")
        print(f"| p99 ≤ evaluation interval + group_wait + 1 s = {b_issue:g} s (issue's wording), from the crossing "
              f"| {'yes' if ok1 else 'no'} | | |")
        print(f"| p99 ≤ {b_issue:g} s + scrape interval = {b_scrape:g} s, from the crossing | "
              f"{'yes' if ok2 else 'no'} | | |")
        print(f"| p99 ≤ {b_issue:g} s, from the first scrape that saw it | {'yes' if ok3 else 'no'} | | |")
        print(f"| notifications: alerts notified / duplicates / resolved / other | {lat['notified']} / "
              f"{lat['duplicates']} / {lat['resolved']} / {lat['unknown']} | | |")
        if lat["notified"] != lat["instances"]:
            fails.append(f"alert latency: {lat['instances'] - lat['notified']} of {lat['instances']} alerts never "
                         "arrived")
        if lat["duplicates"]:
            fails.append(f"alert latency: {lat['duplicates']} duplicate notifications")
        budget = b_scrape if meta.get("latency_budget", "scrape") == "scrape" else b_issue
        if not (L.get("p99") is not None and L["p99"] <= budget):
            fails.append(f"alert latency: p99 {L.get('p99')} s over the budget of {budget:g} s")
    if v or p:
        print()
        print("Evaluation time by rule template (sum over the rules of each name, last evaluation of every group):")
        print()
        print("| rule | rules | vitals s | Prometheus s | vitals/Prometheus |")
        print("|---|---:|---:|---:|---:|")
        names = sorted(set((v or {}).get("seconds_by_rule_name", {})) | set((p or {}).get("seconds_by_rule_name", {})))
        for n in names:
            a = (v or {}).get("seconds_by_rule_name", {}).get(n)
            b = (p or {}).get("seconds_by_rule_name", {}).get(n)
            cnt = (a or b)["rules"]
            sa, sb = (a or {}).get("seconds"), (b or {}).get("seconds")
            print(f"| `{n}` | {cnt} | {fmt(sa)} | {fmt(sb)} | {ratio(sa, sb)} |")
    for d, name in ((v, "vitals"), (p, "Prometheus")):
        if d and d["health_errors"]:
            print(f"\n{name}: rules with errors:", file=sys.stderr)
            for e in d["health_errors"][:10]:
                print(f"  {e['group']} {e['rule']}: {e['error']}", file=sys.stderr)
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump({"meta": meta, "vitals": v, "prometheus": p, "latency": lat, "failures": fails}, f, indent=1)
    if fails:
        print("", file=sys.stderr)
        for x in fails:
            print(f"BUDGET BROKEN: {x}", file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("gen-rules")
    a.add_argument("--page", required=True)
    a.add_argument("--jobs", required=True)
    a.add_argument("--targets", type=int, default=50)
    a.add_argument("--groups", type=int, default=20)
    a.add_argument("--per-group", type=int, default=100)
    a.add_argument("--interval", default="15s")
    a.add_argument("--out", required=True)
    a = sub.add_parser("cpu-window")
    a.add_argument("--pids", required=True)
    a.add_argument("--seconds", type=float, required=True)
    a = sub.add_parser("measure")
    a.add_argument("--url", required=True)
    a.add_argument("--pid", required=True)
    a.add_argument("--peer-pid", required=True, help="the other system (its CPU is reported apart)")
    a.add_argument("--since", type=float, required=True)
    a.add_argument("--interval", type=float, default=15)
    a.add_argument("--warmup-rounds", type=int, default=2)
    a.add_argument("--rounds", type=int, default=4)
    a.add_argument("--poll", type=float, default=3)
    a.add_argument("--out", required=True)
    a = sub.add_parser("latency")
    a.add_argument("--target-port", type=int, required=True)
    a.add_argument("--hook-port", type=int, required=True)
    a.add_argument("--instances", type=int, default=100)
    a.add_argument("--stagger", type=float, default=1.0)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--start-after", type=int, default=5, help="scrapes before the schedule starts")
    a.add_argument("--lead", type=float, default=6.0, help="seconds from then to the first crossing")
    a.add_argument("--timeout", type=float, default=30.0, help="seconds after the last crossing")
    a.add_argument("--start-timeout", type=float, default=90.0)
    a.add_argument("--linger", type=float, default=4.0)
    a.add_argument("--out", required=True)
    a = sub.add_parser("report")
    a.add_argument("--meta", required=True)
    a.add_argument("--vitals")
    a.add_argument("--prometheus")
    a.add_argument("--latency")
    a.add_argument("--out-json")
    args = ap.parse_args()
    {"gen-rules": gen_rules, "cpu-window": cpu_window, "measure": measure, "latency": latency,
     "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
