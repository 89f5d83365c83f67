#!/usr/bin/env python3
"""Helpers of bench/query.sh (the PromQL query benchmark); standard library only.

  query.py gen --end UNIX --out FILE [--scale N] [--dense-hours H] [--dense-step S] [--sparse-step S] [--days D]
      Writes the synthetic data set as an OpenMetrics file (`# EOF` at the end, integer-second timestamps, no
      metadata lines, time-major: every series of every target for one scrape, then the next scrape) and prints
      one JSON line: {"series": N, "samples": N, "first_ms": T, "last_ms": T, "bytes": N}.
  query.py import --url URL --file FILE [--max-bytes N]
      POSTs FILE to URL (vitals' /api/v1/import/prometheus) in pieces of at most N bytes cut at line ends,
      second timestamps turned into milliseconds; prints {"requests": N, "samples": N, "seconds": S}.
  query.py queries --end UNIX
      Prints the query list (JSON) for the evaluation time END - 30 s.
  query.py run --vitals URL --prometheus URL --end UNIX --out-md FILE --out-json FILE [--runs N] [--warmup N]
      Times every query against both servers, compares the answers and writes the table; exits 1 if an answer
      differs or failed.

The data (see bench/README.md, "Query"): application targets (jobs api, web, worker) with
http_requests_total{handler,method,code} counters, classic histograms http_request_duration_seconds
(12 buckets, _sum, _count), process_* series, and node_exporter targets (job node) for every host with
node_cpu_seconds_total{cpu,mode}, memory, load, filesystem, network and disk series, plus `up` for every
target. Every target scrapes at its own offset of 1..14 s past the minute (never a multiple of 15 s), so no
sample lies on a query step or window boundary (queries run at :00/:15/:30/:45 and subqueries at whole
minutes): Prometheus 2.x' closed range windows and Prometheus 3.x' left-open ones select the same samples.
A few targets restart once (counters start again from 0, no scrape missed) and a few others miss two scrapes
(up 0, nothing else, counters go on).
"""

import argparse
import gzip
import http.client
import json
import math
import random
import statistics
import sys
import time
import urllib.parse
import zlib

# ---------------------------------------------------------------------------------------------------------------
# Data set

APP_KINDS = {
    # kind: (hosts at scale 1, cpus per host, [(handler, method, requests/s per instance, median latency s)])
    "api": (24, 8, [
        ("/api/v1/users", "GET", 12.0, 0.021),
        ("/api/v1/users", "POST", 1.5, 0.065),
        ("/api/v1/orders", "GET", 8.0, 0.034),
        ("/api/v1/orders", "POST", 2.2, 0.120),
        ("/api/v1/products", "GET", 20.0, 0.012),
        ("/api/v1/search", "GET", 6.0, 0.240),
        ("/api/v1/login", "POST", 0.8, 0.180),
        ("/healthz", "GET", 0.2, 0.001),
    ]),
    "web": (16, 4, [
        ("/", "GET", 15.0, 0.015),
        ("/static", "GET", 40.0, 0.003),
        ("/cart", "GET", 3.0, 0.045),
        ("/checkout", "POST", 0.6, 0.310),
        ("/account", "GET", 1.2, 0.052),
        ("/healthz", "GET", 0.2, 0.001),
    ]),
    "worker": (8, 16, [
        ("/jobs/enqueue", "POST", 4.0, 0.008),
        ("/jobs/status", "GET", 2.5, 0.004),
        ("/healthz", "GET", 0.2, 0.001),
    ]),
}
DB_HOSTS, DB_CPUS = 8, 16
CODES = [("200", 0.955), ("404", 0.03), ("500", 0.011), ("503", 0.004)]
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
LE = [repr(b) for b in BUCKETS] + ["+Inf"]
CPU_MODES = [("user", 0.62), ("system", 0.22), ("iowait", 0.05), ("irq", 0.01), ("softirq", 0.04), ("steal", 0.02),
             ("nice", 0.04)]  # idle: the rest
FILESYSTEMS = [("/dev/sda1", "ext4", "/", 50 << 30), ("/dev/sda2", "ext4", "/var", 100 << 30),
               ("/dev/sdb1", "xfs", "/data", 1 << 40)]
NET_DEVICES = ["eth0", "lo"]
DISK_DEVICES = ["sda", "sdb"]
DAY = 86400


def labels(**kv):
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


class Target:
    """One scrape target; emit() appends its page of one scrape to `out`."""

    def __init__(self, job, instance, rng):
        self.job, self.instance = job, instance
        # Per-target scrape offset of 1..14 s past the minute (and past every 5 minutes).
        self.offset = 1 + zlib.crc32(instance.encode()) % 14
        self.phase = rng.uniform(-0.6, 0.6)  # of the daily load curve, radians
        self.rng = random.Random(rng.random())
        self.up_prefix = "up" + labels(job=job, instance=instance) + " "

    def load(self, t):
        """Relative load (about 0.4 .. 1.6) following the time of day, peak in the afternoon UTC."""
        return 1.0 + 0.6 * math.sin(2 * math.pi * ((t % DAY) / DAY - 0.375) + self.phase)


class AppTarget(Target):
    def __init__(self, kind, host, rng):
        super().__init__(kind, f"{host}:8080", rng)
        hosts, _, handlers = APP_KINDS[kind]
        self.handlers = []
        for handler, method, rate, median in handlers:
            base = dict(job=kind, instance=self.instance, handler=handler, method=method)
            codes = [("http_requests_total" + labels(**base, code=code) + " ", frac) for code, frac in CODES]
            buckets = ["http_request_duration_seconds_bucket" + labels(**base, le=le) + " " for le in LE]
            h = {
                "rate": rate * self.rng.uniform(0.7, 1.3), "median": median * self.rng.uniform(0.8, 1.25),
                "codes": codes, "buckets": buckets,
                "sum": "http_request_duration_seconds_sum" + labels(**base) + " ",
                "count": "http_request_duration_seconds_count" + labels(**base) + " ",
            }
            self.handlers.append(h)
        base = labels(job=kind, instance=self.instance)
        self.rss_name = "process_resident_memory_bytes" + base + " "
        self.cpu_name = "process_cpu_seconds_total" + base + " "
        self.reset()

    def reset(self):
        for h in self.handlers:
            h["c"] = [0] * len(h["codes"])
            h["b"] = [0] * len(LE)
            h["s"] = 0.0
        self.rss = self.rng.randint(180, 260) * (1 << 20)
        self.cpu = 0.0

    def emit(self, t, dt, out, ts):
        rng = self.rng
        load = self.load(t)
        total_cpu = 0.0
        for h in self.handlers:
            mu_all = h["rate"] * load * dt
            c = h["c"]
            n = 0
            for i, (name, frac) in enumerate(h["codes"]):
                mu = mu_all * frac
                inc = int(mu * (0.85 + 0.3 * rng.random()) + rng.random())
                c[i] += inc
                n += inc
                out.append(f"{name}{c[i]} {ts}\n")
            # Latency: log-normal around a median that grows with load; cumulative buckets.
            median = h["median"] * (0.7 + 0.5 * load) * (0.9 + 0.2 * rng.random())
            lm = math.log(median)
            b = h["b"]
            for i, le in enumerate(BUCKETS):
                b[i] += int(n * 0.5 * (1.0 + math.erf((math.log(le) - lm) / (0.8 * math.sqrt(2)))) + 0.5)
                out.append(f"{h['buckets'][i]}{b[i]} {ts}\n")
            b[-1] += n
            out.append(f"{h['buckets'][-1]}{b[-1]} {ts}\n")
            h["s"] = round(h["s"] + n * median * 1.377 * (0.95 + 0.1 * rng.random()), 6)
            out.append(f"{h['sum']}{h['s']!r} {ts}\n")
            out.append(f"{h['count']}{b[-1]} {ts}\n")
            total_cpu += n * median * 0.2
        self.rss = max(64 << 20, self.rss + rng.randint(-3, 4) * (1 << 18))
        out.append(f"{self.rss_name}{self.rss} {ts}\n")
        self.cpu = round(self.cpu + total_cpu + 0.01 * dt, 2)
        out.append(f"{self.cpu_name}{self.cpu!r} {ts}\n")


class NodeTarget(Target):
    def __init__(self, host, cpus, rng):
        super().__init__("node", f"{host}:9100", rng)
        inst = dict(job="node", instance=self.instance)
        self.cpu_names = [[("node_cpu_seconds_total" + labels(**inst, cpu=str(c), mode=m) + " ", frac)
                           for m, frac in CPU_MODES + [("idle", 0.0)]] for c in range(cpus)]
        self.util = self.rng.uniform(0.1, 0.45)
        self.mem_total = self.rng.choice([16, 32, 64, 128]) << 30
        self.mem_names = {k: f"node_memory_{k}_bytes" + labels(**inst) + " "
                          for k in ("MemTotal", "MemAvailable", "MemFree", "Cached", "Buffers")}
        self.load_names = [f"node_load{n}" + labels(**inst) + " " for n in (1, 5, 15)]
        self.fs = []
        for dev, fstype, mnt, size in FILESYSTEMS:
            fl = labels(**inst, device=dev, fstype=fstype, mountpoint=mnt)
            fill = self.rng.uniform(0.2, 0.7)
            # Bytes per second the filesystem fills at (some shrink).
            trend = self.rng.uniform(-0.2, 1.0) * size / (60 * DAY)
            self.fs.append(["node_filesystem_avail_bytes" + fl + " ", "node_filesystem_size_bytes" + fl + " ",
                            size, float(int(size * (1 - fill))), trend])
        self.net = [("node_network_receive_bytes_total" + labels(**inst, device=d) + " ",
                     "node_network_transmit_bytes_total" + labels(**inst, device=d) + " ",
                     self.rng.uniform(2e5, 5e6) if d != "lo" else self.rng.uniform(1e4, 1e5)) for d in NET_DEVICES]
        self.disk = [("node_disk_read_bytes_total" + labels(**inst, device=d) + " ",
                      "node_disk_written_bytes_total" + labels(**inst, device=d) + " ",
                      self.rng.uniform(1e5, 4e6)) for d in DISK_DEVICES]
        self.reset()

    def reset(self):
        self.cpu = [[0.0] * len(modes) for modes in self.cpu_names]
        self.avail = self.mem_total * self.rng.uniform(0.4, 0.8)
        self.netc = [[0, 0] for _ in self.net]
        self.diskc = [[0, 0] for _ in self.disk]
        self.loadavg = [0.0, 0.0, 0.0]

    def emit(self, t, dt, out, ts):
        rng = self.rng
        util = min(0.97, self.util * self.load(t))
        for names, vals in zip(self.cpu_names, self.cpu):
            u = util * (0.8 + 0.4 * rng.random())
            busy = 0.0
            for i in range(len(names) - 1):
                d = round(dt * u * names[i][1] * (0.7 + 0.6 * rng.random()), 2)
                busy += d
                vals[i] = round(vals[i] + d, 2)
                out.append(f"{names[i][0]}{vals[i]!r} {ts}\n")
            vals[-1] = round(vals[-1] + max(0.0, dt - busy), 2)
            out.append(f"{names[-1][0]}{vals[-1]!r} {ts}\n")
        m = self.mem_names
        self.avail = min(self.mem_total * 0.95, max(self.mem_total * 0.05,
                                                    self.avail + self.mem_total * 0.004 * (rng.random() - 0.5)))
        avail = int(self.avail) // 4096 * 4096
        out.append(f"{m['MemTotal']}{self.mem_total} {ts}\n")
        out.append(f"{m['MemAvailable']}{avail} {ts}\n")
        out.append(f"{m['MemFree']}{avail // 3 // 4096 * 4096} {ts}\n")
        out.append(f"{m['Cached']}{avail // 2 // 4096 * 4096} {ts}\n")
        out.append(f"{m['Buffers']}{(avail // 40 + 12345678) // 4096 * 4096} {ts}\n")
        ncpu = len(self.cpu)
        for i, alpha in enumerate((1.0, 0.2, 0.067)):
            target = ncpu * util * (0.8 + 0.4 * rng.random())
            self.loadavg[i] += min(1.0, alpha * dt / 60) * (target - self.loadavg[i])
            out.append(f"{self.load_names[i]}{round(self.loadavg[i], 2)!r} {ts}\n")
        for fs in self.fs:
            avail_name, size_name, size, cur, trend = fs
            cur = min(size * 0.99, max(size * 0.01, cur - trend * dt * (0.5 + rng.random())))
            fs[3] = cur
            out.append(f"{avail_name}{int(cur) // 4096 * 4096} {ts}\n")
            out.append(f"{size_name}{size} {ts}\n")
        load = self.load(t)
        for (rx, tx, rate), c in zip(self.net, self.netc):
            c[0] += int(rate * load * dt * (0.8 + 0.4 * rng.random()))
            c[1] += int(rate * 0.6 * load * dt * (0.8 + 0.4 * rng.random()))
            out.append(f"{rx}{c[0]} {ts}\n")
            out.append(f"{tx}{c[1]} {ts}\n")
        for (rd, wr, rate), c in zip(self.disk, self.diskc):
            c[0] += int(rate * load * dt * (0.5 + rng.random())) // 512 * 512
            c[1] += int(rate * 0.7 * dt * (0.5 + rng.random())) // 512 * 512
            out.append(f"{rd}{c[0]} {ts}\n")
            out.append(f"{wr}{c[1]} {ts}\n")


def build_targets(scale, seed=42):
    rng = random.Random(seed)
    targets = []
    hosts = []
    for kind, (n, cpus, _) in APP_KINDS.items():
        for i in range(1, n * scale + 1):
            host = f"{kind}-{i:02d}"
            hosts.append((host, cpus))
            targets.append(AppTarget(kind, host, rng))
    for i in range(1, DB_HOSTS * scale + 1):
        hosts.append((f"db-{i:02d}", DB_CPUS))
    for host, cpus in hosts:
        targets.append(NodeTarget(host, cpus, rng))
    return targets


def grid(end, days, dense_hours, dense_step, sparse_step):
    """Scrape times (s, before the per-target offset) and their intervals, oldest first."""
    start = end - days * DAY - 2 * 3600
    dense_start = end - dense_hours * 3600
    times = [(t, sparse_step) for t in range(start, dense_start, sparse_step)]
    times += [(t, dense_step) for t in range(dense_start, end, dense_step)]
    return times


def cmd_gen(a):
    targets = build_targets(a.scale)
    times = grid(a.end, a.days, a.dense_hours, a.dense_step, a.sparse_step)
    # Restarts: the process restarts between two scrapes, its counters start again from 0 (no scrape is
    # missed). Scrape failures: two scrapes fail (up 0, no other sample), counters go on. (A restart *with*
    # missed scrapes is avoided on purpose: for a window starting in the gap, with a counter starting again from
    # zero just after it, Prometheus 2.42 and Prometheus >= 2.51 (prometheus/prometheus#13725, which vitals follows)
    # limit rate()'s extrapolation differently.)
    restarts = {"api-03:8080": a.end - 4 * DAY - 7 * 3600, "web-02:8080": a.end - 15 * 3600,
                "api-07:8080": a.end - 3 * 3600 - 20 * 60, "worker-01:8080": a.end - 37 * 60,
                "db-02:9100": a.end - 9 * 3600 - 40 * 60}
    failures = {"api-11:8080": a.end - 2 * DAY - 5 * 3600, "web-09:8080": a.end - 20 * 3600 - 10 * 60,
                "worker-05:8080": a.end - 2 * 3600 - 50 * 60, "db-05:9100": a.end - 45 * 60}
    # Events outside the data (shorter DAYS) are left out: one at the very start would make series start late.
    at = {inst: next(k for k, (t, _) in enumerate(times) if t >= w)
          for inst, w in {**restarts, **failures}.items() if times[0][0] < w <= times[-2][0]}
    restart_at = {inst: times[at[inst]][0] for inst in restarts if inst in at}
    down = {inst: {times[at[inst]][0], times[at[inst] + 1][0]} for inst in failures if inst in at}
    samples = 0
    first_ms = last_ms = None
    written = 0
    per_target = {}  # instance -> series of one full page
    with open(a.out, "w", buffering=1 << 22) as f:
        for t, dt in times:
            out = []
            for tg in targets:
                ts = t + tg.offset
                d = down.get(tg.instance)
                if d and t in d:
                    out.append(f"{tg.up_prefix}0 {ts}\n")
                    continue
                if restart_at.get(tg.instance) == t:
                    tg.reset()
                n0 = len(out)
                out.append(f"{tg.up_prefix}1 {ts}\n")
                tg.emit(t, dt, out, ts)
                per_target.setdefault(tg.instance, len(out) - n0)
            first_ms = first_ms or min(t + tg.offset for tg in targets) * 1000
            last_ms = max(last_ms or 0, max(t + tg.offset for tg in targets) * 1000)
            samples += len(out)
            chunk = "".join(out)
            written += len(chunk)
            f.write(chunk)
        f.write("# EOF\n")
    print(json.dumps({"series": sum(per_target.values()), "samples": samples, "first_ms": first_ms,
                      "last_ms": last_ms, "bytes": written, "scrapes": len(times), "targets": len(targets)}))


# ---------------------------------------------------------------------------------------------------------------
# Import into vitals

def cmd_import(a):
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    path = u.path + (("?" + u.query) if u.query else "")
    requests = samples = 0
    started = time.monotonic()
    # Each line grows by 3 bytes ("000"); lines are > 30 bytes, so 10 % headroom keeps bodies under max_bytes.
    piece = a.max_bytes * 9 // 10
    rest = b""
    with open(a.file, "rb") as f:
        while True:
            block = f.read(piece - len(rest))
            data = rest + block
            if not block:
                if data:
                    requests, samples = send(conn, path, data, requests, samples)
                break
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                sys.exit("import: a line longer than the request size")
            body, rest = data[:cut], data[cut:]
            requests, samples = send(conn, path, body, requests, samples)
    print(json.dumps({"requests": requests, "samples": samples, "seconds": round(time.monotonic() - started, 3)}))


def send(conn, path, data, requests, samples):
    if data.endswith(b"# EOF\n"):
        data = data[: -len(b"# EOF\n")]
    if not data:
        return requests, samples
    n = data.count(b"\n")
    body = data.replace(b"\n", b"000\n")  # integer seconds -> milliseconds
    for attempt in range(3):
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            text = resp.read()
            break
        except (ConnectionError, http.client.HTTPException):
            if attempt == 2:
                raise
            conn.close()
            time.sleep(1)
    if resp.status // 100 != 2:
        sys.exit(f"import request {requests + 1} failed: HTTP {resp.status}: {text[:500]!r}")
    return requests + 1, samples + n


# ---------------------------------------------------------------------------------------------------------------
# Queries

RANGES = {"1h": (3600, 15), "6h": (6 * 3600, 60), "24h": (DAY, 300), "7d": (7 * DAY, 3600)}


def queries(end):
    """(name, range or "instant", expr, ordered) for evaluation time end - 30 s.

    Range queries end at that time and start `range` before it, so every step lies at :00, :15, :30 or :45;
    subqueries (inner steps at whole minutes) are only used where steps lie at :30, so that no inner step falls
    on a subquery window boundary either.
    """
    q = end - 30
    return [
        # Service overview, last hour (step 15 s).
        ("req_rate_by_job", "1h", 'sum by (job) (rate(http_requests_total[5m]))', False),
        ("error_ratio_by_handler", "1h",
         'sum by (handler) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (handler) (rate(http_requests_total[5m]))',
         False),
        ("p95_latency_by_handler", "1h",
         'histogram_quantile(0.95, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))', False),
        ("top10_cpu_instances", "1h",
         'topk(10, sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))', False),
        ("cpu_utilisation", "1h", '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', False),
        ("api_rate_by_code", "1h", 'sum(rate(http_requests_total{job="api"}[5m])) by (code)', False),
        ("mean_latency_by_handler", "1h",
         'sum by (job, handler) (rate(http_request_duration_seconds_sum[5m])) / '
         'sum by (job, handler) (rate(http_request_duration_seconds_count[5m]))', False),
        ("memory_available_pct", "1h", '100 * node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', False),
        ("net_rx_irate", "1h", 'irate(node_network_receive_bytes_total{device="eth0"}[5m])', False),
        ("code_share_group_left", "1h",
         'sum by (instance, handler, code) (rate(http_requests_total{job="web"}[5m])) / ignoring (code) group_left '
         'sum by (instance, handler) (rate(http_requests_total{job="web"}[5m]))', False),
        # Last 6 hours (step 1 m).
        ("p99_latency_api", "6h",
         'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))', False),
        ("net_tx_by_instance", "6h",
         'sum by (instance) (rate(node_network_transmit_bytes_total{device!="lo"}[5m]))', False),
        ("p90_instance_rate", "6h",
         'quantile(0.9, sum by (instance) (rate(http_requests_total{code="200"}[5m])))', False),
        ("load1_avg_10m", "6h", 'avg_over_time(node_load1[10m])', False),
        ("label_replace_host", "6h",
         'label_replace(sum by (instance) (rate(http_requests_total[5m])), "host", "$1", "instance", "([^:]+):.*")',
         False),
        ("subquery_max_rate_1h", "6h",
         'max_over_time(sum by (handler) (rate(http_requests_total{job="web"}[5m]))[1h:1m])', False),
        ("db_cpu_without_cpu", "6h", 'sum without (cpu) (rate(node_cpu_seconds_total{instance=~"db-.*"}[5m]))',
         False),
        # Last 24 hours (step 5 m).
        ("increase_1h_by_job", "24h", 'sum by (job) (increase(http_requests_total[1h]))', False),
        ("resets_1h_by_job", "24h", 'sum by (job) (resets(http_requests_total[1h]))', False),
        ("up_min_10m", "24h", 'min by (job) (min_over_time(up[10m]))', False),
        ("fs_predict_linear_4h", "24h",
         'predict_linear(node_filesystem_avail_bytes{mountpoint="/"}[6h], 4 * 3600)', False),
        ("rss_max_1h_by_job", "24h", 'max by (job) (max_over_time(process_resident_memory_bytes[1h]))', False),
        ("subquery_avg_rate_30m", "24h",
         'avg_over_time(rate(http_requests_total{job="worker",code="200"}[5m])[30m:1m])', False),
        ("count_up_by_job", "24h", 'count by (job) (up)', False),
        # Last 7 days (step 1 h).
        ("req_rate_1h_by_job", "7d", 'sum by (job) (rate(http_requests_total[1h]))', False),
        ("p50_latency_by_job", "7d",
         'histogram_quantile(0.5, sum by (le, job) (rate(http_request_duration_seconds_bucket[1h])))', False),
        ("cpu_utilisation_1h", "7d",
         '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1h]))', False),
        ("fs_min_fraction", "7d", 'min_over_time(node_filesystem_avail_bytes[1h]) / node_filesystem_size_bytes',
         False),
        ("disk_written_1h", "7d", 'sum by (instance) (increase(node_disk_written_bytes_total[1h]))', False),
        # Instant queries at the end.
        ("absent_job", "instant", 'absent(up{job="batch"})', False),
        ("top5_handlers_24h", "instant", 'topk(5, sum by (handler) (increase(http_requests_total[24h])))', False),
        ("sort_desc_cpu", "instant",
         'sort_desc(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))', True),
        ("increase_7d_by_code", "instant", 'sum by (code) (increase(http_requests_total[7d]))', False),
        ("offset_1d", "instant", 'http_requests_total{handler="/api/v1/orders",code="500"} offset 1d', False),
        ("at_modifier", "instant", f'sum by (job) (increase(http_requests_total[1h] @ {q - DAY}))', False),
        ("series_by_name", "instant", 'count by (__name__) ({__name__=~".+"})', False),
    ]


def cmd_queries(a):
    q = a.end - 30
    for name, rng, expr, ordered in queries(a.end):
        print(json.dumps({"name": name, "range": rng, "expr": expr, "ordered": ordered, "time": q}))


class Client:
    """One keep-alive HTTP/1.1 connection; form POSTs like Grafana's Prometheus data source."""

    def __init__(self, url, gzip_ok=True, timeout=300):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.gzip_ok = gzip_ok
        self.conn = None

    def post(self, path, params):
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.gzip_ok:
            headers["Accept-Encoding"] = "gzip"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.connect()
            try:
                t0 = time.perf_counter()
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = time.perf_counter() - t0
                break
            except (ConnectionError, http.client.HTTPException, TimeoutError) as e:
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    return None, None, str(e)
        if resp.getheader("Content-Encoding", "") == "gzip":
            data = gzip.decompress(data)
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return elapsed, resp.status, data


def params_of(name, rng, expr, end):
    q = end - 30
    if rng == "instant":
        return "/api/v1/query", {"query": expr, "time": str(q)}
    span, step = RANGES[rng]
    return "/api/v1/query_range", {"query": expr, "start": str(q - span), "end": str(q), "step": str(step)}


def fnum(s):
    return float(s)  # "NaN", "+Inf", "-Inf" included


def close(a, b, rel):
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= rel * max(abs(a), abs(b))


def fmt_labels(m):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(m.items())) + "}"


def compare(v, p, ordered, rel):
    """None if the two answers agree, else a description of the first difference (vitals vs Prometheus)."""
    if v.get("status") != "success" or p.get("status") != "success":
        return "status: vitals %s%s, prometheus %s%s" % (
            v.get("status"), f' ({v.get("errorType")}: {v.get("error")})' if v.get("status") != "success" else "",
            p.get("status"), f' ({p.get("errorType")}: {p.get("error")})' if p.get("status") != "success" else "")
    vd, pd = v["data"], p["data"]
    if vd.get("resultType") != pd.get("resultType"):
        return f"resultType: vitals {vd.get('resultType')}, prometheus {pd.get('resultType')}"
    kind = vd["resultType"]
    if kind in ("scalar", "string"):
        (vt, vv), (pt, pv) = vd["result"], pd["result"]
        if vt != pt:
            return f"timestamp: vitals {vt}, prometheus {pt}"
        if kind == "scalar" and not close(fnum(vv), fnum(pv), rel) or kind == "string" and vv != pv:
            return f"value: vitals {vv}, prometheus {pv}"
        return None
    key = lambda s: tuple(sorted(s["metric"].items()))
    vs, ps = vd["result"], pd["result"]
    vm, pm = {}, {}
    for src, dst, who in ((vs, vm, "vitals"), (ps, pm, "prometheus")):
        for s in src:
            k = key(s)
            if k in dst:
                return f"{who} returns the series {fmt_labels(s['metric'])} twice"
            dst[k] = s
    only_v = [k for k in vm if k not in pm]
    only_p = [k for k in pm if k not in vm]
    if only_v or only_p:
        msg = f"series: vitals {len(vm)}, prometheus {len(pm)}"
        if only_v:
            msg += f"; only in vitals ({len(only_v)}): {fmt_labels(dict(sorted(only_v)[0]))}"
        if only_p:
            msg += f"; only in prometheus ({len(only_p)}): {fmt_labels(dict(sorted(only_p)[0]))}"
        return msg
    if ordered:
        for i, (a, b) in enumerate(zip(vs, ps)):
            if key(a) != key(b):
                return f"order: position {i}: vitals {fmt_labels(a['metric'])}, prometheus {fmt_labels(b['metric'])}"
    diffs = []
    for k in sorted(pm):
        a, b = vm[k], pm[k]
        if kind == "vector":
            va, vb = [a["value"]], [b["value"]]
        else:
            va, vb = a.get("values", []), b.get("values", [])
        ta = {t: x for t, x in va}
        tb = {t: x for t, x in vb}
        if len(ta) != len(va) or len(tb) != len(vb):
            diffs.append((k, "duplicate timestamps"))
            continue
        for t in sorted(set(ta) | set(tb)):
            if t not in ta:
                diffs.append((k, f"t={t}: missing in vitals (prometheus {tb[t]}), "
                                 f"{len(va)} vs {len(vb)} points"))
                break
            if t not in tb:
                diffs.append((k, f"t={t}: missing in prometheus (vitals {ta[t]}), "
                                 f"{len(va)} vs {len(vb)} points"))
                break
            x, y = fnum(ta[t]), fnum(tb[t])
            if not close(x, y, rel):
                r = abs(x - y) / max(abs(x), abs(y)) if not (math.isnan(x) or math.isnan(y)) else float("nan")
                diffs.append((k, f"t={t}: vitals {ta[t]}, prometheus {tb[t]} (relative difference {r:.3g})"))
                break
    if diffs:
        k, what = diffs[0]
        return f"{len(diffs)} of {len(pm)} series differ; first: {fmt_labels(dict(k))} {what}"
    return None


def cmd_run(a):
    systems = [("vitals", Client(a.vitals, not a.no_gzip)), ("prometheus", Client(a.prometheus, not a.no_gzip))]
    selected = [q for q in queries(a.end) if not a.only or any(x in q[0] for x in a.only.split(","))]
    results = []
    for name, rng, expr, ordered in selected:
        path, params = params_of(name, rng, expr, a.end)
        row = {"name": name, "range": rng, "expr": expr, "params": params}
        bodies, errors = {}, {}
        # Warm-up runs (not timed), whose last answer is the one compared.
        warm = {}
        for who, c in systems:
            for _ in range(max(1, a.warmup)):
                el, status, data = c.post(path, params)
            warm[who] = el
            if status is None:
                errors[who] = f"request failed: {data}"
                continue
            try:
                bodies[who] = json.loads(data)
            except ValueError:
                errors[who] = f"HTTP {status}, not JSON: {data[:200]!r}"
                continue
            if status != 200 or bodies[who].get("status") != "success":
                errors[who] = f"HTTP {status}: {bodies[who].get('errorType')}: {bodies[who].get('error')}"
        # Timed runs, alternating between the systems. A system whose warm-up took long gets fewer runs (at most
        # `budget` seconds per query and system); one that failed is not timed.
        runs = {who: 0 if who in errors else
                max(1, min(a.runs, int(a.budget / max(warm[who], 1e-9)))) for who, _ in systems}
        times = {who: [] for who, _ in systems}
        for i in range(max(runs.values())):
            for who, c in systems:
                if i < runs[who]:
                    el, status, data = c.post(path, params)
                    if el is not None and status == 200:
                        times[who].append(el)
        for who, _ in systems:
            row[f"{who}_ms"] = [round(t * 1000, 3) for t in times[who]]
            row[f"{who}_median_ms"] = round(statistics.median(times[who]) * 1000, 3) if times[who] else None
            row[f"{who}_error"] = errors.get(who)
        if errors:
            row["equal"] = False
            row["difference"] = "; ".join(f"{w}: {e}" for w, e in errors.items())
        else:
            d = compare(bodies["vitals"], bodies["prometheus"], ordered, a.rel)
            row["equal"] = d is None
            row["difference"] = d
            r = bodies["prometheus"]["data"]["result"]
            row["series"] = len(r) if isinstance(r, list) else 1
            row["points"] = (sum(len(s.get("values", [])) or 1 for s in r) if isinstance(r, list) else 1)
        if row["vitals_median_ms"] and row["prometheus_median_ms"] and not errors:
            row["ratio"] = row["vitals_median_ms"] / row["prometheus_median_ms"]
        else:
            row["ratio"] = None
        results.append(row)
        print(f"[query] {name:24s} {rng:7s} vitals {row['vitals_median_ms']} ms, prometheus "
              f"{row['prometheus_median_ms']} ms, {'equal' if row['equal'] else 'DIFFERENT'}"
              + (f": {row['difference']}" if row["difference"] else ""), file=sys.stderr, flush=True)
    write_report(a, results)
    return 0 if all(r["equal"] for r in results) else 1


def fmt_ms(x):
    if x is None:
        return "—"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def write_report(a, results):
    lines = ["| # | query | range / step | vitals median ms | Prometheus median ms | vitals/Prometheus | equal? |",
             "|---:|---|---|---:|---:|---:|---|"]
    for i, r in enumerate(results, 1):
        if r["range"] == "instant":
            span = "instant"
        else:
            span = f"{r['range']} / {RANGES[r['range']][1]}s"
        eq = "yes" if r["equal"] else ("**ERROR**" if r["vitals_error"] or r["prometheus_error"] else "**NO**")
        expr = r["expr"].replace("|", "\\|")
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {i} | `{expr}` | {span} | {fmt_ms(r['vitals_median_ms'])} | "
                     f"{fmt_ms(r['prometheus_median_ms'])} | {ratio} | {eq} |")
    ok = [r for r in results if r["ratio"] is not None]
    summary = {"queries": len(results), "equal": sum(r["equal"] for r in results),
               "different": [r["name"] for r in results if not r["equal"]]}
    lines.append("")
    if ok:
        v = [r["vitals_median_ms"] for r in ok]
        p = [r["prometheus_median_ms"] for r in ok]
        summary["median_of_ratios"] = statistics.median(r["ratio"] for r in ok)
        summary["ratio_of_medians"] = statistics.median(v) / statistics.median(p)
        summary["ratio_of_sums"] = sum(v) / sum(p)
        summary["timed_queries"] = len(ok)
        lines.append(f"Over the {len(ok)} queries both systems answered: median of the per-query ratios "
                     f"vitals/Prometheus **{summary['median_of_ratios']:.2f}**, ratio of the medians "
                     f"**{summary['ratio_of_medians']:.2f}** ({statistics.median(v):.1f} ms vs "
                     f"{statistics.median(p):.1f} ms), ratio of the sums {summary['ratio_of_sums']:.2f} "
                     f"({sum(v):.0f} ms vs {sum(p):.0f} ms).")
    lines.append(f"Answers equal: {summary['equal']} of {summary['queries']}"
                 + (f"; different or failed: {', '.join(summary['different'])}." if summary["different"] else "."))
    diff = [r for r in results if not r["equal"]]
    if diff:
        lines.append("")
        lines.append("Differences (first one per query):")
        lines.append("")
        for r in diff:
            lines.append(f"- `{r['name']}` `{r['expr']}`: {r['difference']}")
    with open(a.out_md, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(a.out_json, "w") as f:
        meta = json.load(open(a.meta)) if a.meta else {}
        json.dump({"meta": meta, "summary": summary, "client_cpu_seconds": round(time.process_time(), 3),
                   "runs": a.runs, "warmup": a.warmup, "relative_tolerance": a.rel,
                   "gzip": not a.no_gzip, "queries": results}, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--end", type=int, required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--scale", type=int, default=1)
    g.add_argument("--days", type=int, default=7)
    g.add_argument("--dense-hours", type=int, default=26)
    g.add_argument("--dense-step", type=int, default=60)
    g.add_argument("--sparse-step", type=int, default=300)
    i = sub.add_parser("import")
    i.add_argument("--url", required=True)
    i.add_argument("--file", required=True)
    i.add_argument("--max-bytes", type=int, default=15 << 20)
    q = sub.add_parser("queries")
    q.add_argument("--end", type=int, required=True)
    r = sub.add_parser("run")
    r.add_argument("--vitals", required=True)
    r.add_argument("--prometheus", required=True)
    r.add_argument("--end", type=int, required=True)
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--warmup", type=int, default=1)
    r.add_argument("--budget", type=float, default=60.0, help="seconds of timed runs per query and system")
    r.add_argument("--rel", type=float, default=1e-9)
    r.add_argument("--only", default="", help="comma-separated substrings of query names")
    r.add_argument("--no-gzip", action="store_true")
    r.add_argument("--meta", help="JSON file embedded in the output as \"meta\"")
    r.add_argument("--out-md", required=True)
    r.add_argument("--out-json", required=True)
    a = p.parse_args()
    sys.exit({"gen": cmd_gen, "import": cmd_import, "queries": cmd_queries, "run": cmd_run}[a.cmd](a))


if __name__ == "__main__":
    main()
