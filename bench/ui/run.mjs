// Browser benchmark of the vitals web UI. See README.md beside this file; run it through bench/ui.sh.
//
// Starts `vitals serve` (UI served from VITALS_UI_DIR) on a free loopback port with a temporary data
// directory, imports synthetic data through POST /api/v1/import/prometheus, and measures with
// Debian's chromium driven by playwright-core:
//   1. bundle size of the built UI (raw and gzip -9),
//   2. time to first chart (cold load of /explore?expr=… and of /, optionally Prometheus' /graph),
//   3. 20 series × 10,000 points: click Run → chart drawn, split into server/network and client parts,
//   4. push latency of /api/v1/live: 100 SSE clients in Node, and 1 browser page if its chart is live.
// Prints a markdown table and writes results.json (or OUT_JSON).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, freePort } from '../../ui/e2e/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const env = process.env;
const num = (k, d) => (env[k] !== undefined && env[k] !== '' ? Number(env[k]) : d);

const CFG = {
  vitalsBin: env.VITALS_BIN || path.join(env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/vitals-target'), 'release/vitals'),
  uiDir: path.resolve(env.UI_DIR || path.join(ROOT, 'ui/dist')),
  chromium: env.CHROMIUM || '/usr/bin/chromium',
  prometheus: env.PROMETHEUS ?? 'prometheus',
  promtool: env.PROMTOOL ?? 'promtool',
  peer: env.PEER !== '0',
  runs: num('RUNS', 5),
  warmup: num('WARMUP', 1),
  renderRuns: num('RENDER_RUNS', num('RUNS', 5)),
  series: num('RENDER_SERIES', 20),
  points: num('RENDER_POINTS', 10000),
  clients: num('CLIENTS', 100),
  pushes: num('PUSHES', 200),
  pushIntervalMs: num('PUSH_INTERVAL_MS', 100),
  browserPushes: num('BROWSER_PUSHES', 50),
  out: path.resolve(env.OUT_JSON || path.join(HERE, 'results.json')),
  keepWork: env.KEEP_WORK === '1',
  screenshots: env.SCREENSHOTS ? path.resolve(env.SCREENSHOTS) : null,
};
if (CFG.screenshots) fs.mkdirSync(CFG.screenshots, { recursive: true });

const T0 = Date.now();
const log = (...a) => console.error(`[ui-bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(5)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const notes = [];
const note = (s) => {
  notes.push(s);
  log(`note: ${s}`);
};

// --- statistics ------------------------------------------------------------------------------

function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  // nearest rank
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ n: xs.length, p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), p99: quantile(xs, 0.99), max: xs.length ? Math.max(...xs) : null });
/** Index of the push whose [sent, acked] window (±2 ms) holds commit time `c`, or -1. */
function matchCommit(commits, c) {
  for (let i = 0; i < commits.length; i++) if (c >= commits[i].sent - 2 && c <= commits[i].acked + 2) return i;
  return -1;
}
const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);

// --- processes -------------------------------------------------------------------------------

const children = [];
let work = null;
// Last resort (an exception, Ctrl-C): kill what is still running. The normal path stops the children and
// removes the work directory in main().
process.on('exit', () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

async function cleanup() {
  await Promise.all(children.map((c) => stop(c)));
  if (work && !CFG.keepWork) {
    try {
      fs.rmSync(work, { recursive: true, force: true });
    } catch (e) {
      log(`could not remove ${work}: ${e.message}`);
    }
  }
}

function start(name, cmd, args, extraEnv = {}) {
  const logFile = path.join(work, `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const c = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  c.logFile = logFile;
  children.push(c);
  return c;
}

async function stop(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

async function waitReady(base, proc, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${base}: process exited (${proc.exitCode}); log ${proc.logFile}`);
    try {
      const r = await fetch(`${base}/-/ready`);
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${base}/-/ready not ready after ${timeoutMs} ms; log ${proc.logFile}`);
}

async function importText(base, text) {
  const r = await fetch(`${base}/api/v1/import/prometheus`, { method: 'POST', body: text, headers: { 'Content-Type': 'text/plain' } });
  if (!r.ok) throw new Error(`import: HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
  await r.arrayBuffer().catch(() => {});
}

async function getJson(url) {
  const r = await fetch(url);
  const body = await r.text();
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}: ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

// --- data ------------------------------------------------------------------------------------

// Everything is generated from this "now" (ms, whole second).
const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW_S = NOW_MS / 1000;
const SMALL_STEP_MS = 15000;
const SMALL_SPAN_MS = 65 * 60 * 1000; // 1h range plus the 5m rate window

/** Small data set: lines of [name, labels, value, ms]. */
function smallSamples() {
  const out = [];
  const counters = {};
  const inc = (k, d) => (counters[k] = (counters[k] ?? 0) + d);
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let t = NOW_MS - SMALL_SPAN_MS; t <= NOW_MS; t += SMALL_STEP_MS) {
    for (let i = 0; i < 5; i++) {
      const l = `job="bench",instance="i${i}"`;
      out.push(['bench_ui_requests_total', l, inc(`r${i}`, Math.round(100 + 50 * i + 30 * rnd())), t]);
    }
    for (const cpu of ['0', '1']) {
      for (const [mode, share] of [['idle', 0.7], ['user', 0.2], ['system', 0.1]]) {
        const l = `job="node",instance="host:9100",cpu="${cpu}",mode="${mode}"`;
        out.push(['node_cpu_seconds_total', l, r1(inc(`c${cpu}${mode}`, 15 * share * (0.8 + 0.4 * rnd()))), t]);
      }
    }
    const l = 'job="node",instance="host:9100"';
    out.push(['node_memory_MemTotal_bytes', l, 16e9, t]);
    out.push(['node_memory_MemAvailable_bytes', l, Math.round(9e9 + 1e9 * rnd()), t]);
    const fl = `${l},device="/dev/sda1",fstype="ext4",mountpoint="/"`;
    out.push(['node_filesystem_size_bytes', fl, 100e9, t]);
    out.push(['node_filesystem_avail_bytes', fl, Math.round(40e9 + 1e9 * rnd()), t]);
  }
  return out;
}

const promLine = ([name, labels, value, ms]) => `${name}{${labels}} ${value} ${ms}`;
/** OpenMetrics for promtool: timestamps in seconds, `# EOF` at the end. */
function openMetrics(samples) {
  const byName = new Map();
  for (const s of samples) {
    if (!byName.has(s[0])) byName.set(s[0], []);
    byName.get(s[0]).push(s);
  }
  const lines = [];
  for (const [name, ss] of byName) {
    lines.push(`# TYPE ${name} unknown`);
    for (const [n, l, v, ms] of ss) lines.push(`${n}{${l}} ${v} ${(ms / 1000).toFixed(3)}`);
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

/** The big set, imported in chunks: SERIES × POINTS samples 1 s apart ending NOW. */
async function importBig(base) {
  const { series, points } = CFG;
  const chunk = 500;
  const vals = Array.from({ length: series }, (_, i) => 100 + i * 10);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let k = 0; k < points; k += chunk) {
    const lines = [];
    for (let j = k; j < Math.min(points, k + chunk); j++) {
      const t = NOW_MS - (points - 1 - j) * 1000;
      for (let s = 0; s < series; s++) {
        vals[s] += rnd() - 0.5;
        lines.push(`bench_ui_big{series="${String(s).padStart(2, '0')}"} ${vals[s].toFixed(3)} ${t}`);
      }
    }
    await importText(base, lines.join('\n') + '\n');
  }
}

const EXPLORE_EXPR = 'sum by (instance) (rate(bench_ui_requests_total[5m]))';
const BIG_SELECTOR = 'bench_ui_big';
const BIG_RANGE_S = CFG.points - 1; // start = end - (POINTS-1) s, step 1 s → POINTS timestamps, all with a sample
const LIVE_METRIC = 'bench_ui_live';

// --- browser ---------------------------------------------------------------------------------

// The same Chromium flags as the browser tests (headless, no network of its own).
const CHROME_ARGS = CHROMIUM_ARGS;

/**
 * In-page probe (init script): records in window.__bench the first animation frame (performance.now(),
 * ms since navigation start) at which `kind`'s chart shows data.
 */
function frameProbe(kind) {
  const B = (window.__bench = { drawn: null });
  const charts = () => Array.from(document.querySelectorAll('[data-testid="chart"]'));
  const checks = {
    vitals: () => charts().find((c) => Number(c.dataset.points) > 0),
    // Prometheus 2.42 (Debian's build: the classic UI, Rickshaw SVG; the React UI draws with flot on a canvas).
    prometheus: () =>
      Array.from(document.querySelectorAll('.graph_area svg path, .graph svg path, .graph-chart canvas')).find((e) =>
        e.tagName === 'CANVAS' ? e.width > 0 : (e.getAttribute('d') || '').length > 200,
      ),
  };
  const check = checks[kind];
  const loop = () => {
    try {
      const el = check();
      if (el) {
        B.drawn = performance.now();
        B.what = `${el.tagName.toLowerCase()}.${el.getAttribute('class') || ''} (${el.getAttribute('d')?.length ?? el.dataset?.points ?? ''})`;
        return;
      }
    } catch {
      /* DOM not there yet */
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}

/** Cold load of `url` in a new context; ms from navigation start to the first frame with a chart. */
async function timeToFirstChart(browser, url, kind, shot = null) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await ctx.addInitScript(frameProbe, kind);
    const page = await ctx.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.__bench && window.__bench.drawn !== null, null, { timeout: 20000, polling: 50 });
    if (shot) await page.screenshot({ path: shot });
    return await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return { firstChart: window.__bench.drawn, what: window.__bench.what, domContentLoaded: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null };
    });
  } finally {
    await ctx.close();
  }
}

/**
 * Time to first chart of several pages, interleaved (run i loads each page once, in a rotating order) so
 * that noise from other load on the machine hits all of them alike. `pages`: [{ key, label, url, kind }].
 */
async function ttfcInterleaved(browser, pages) {
  const runs = Object.fromEntries(pages.map((p) => [p.key, []]));
  const total = CFG.warmup + CFG.runs;
  for (let i = 0; i < total; i++) {
    for (let j = 0; j < pages.length; j++) {
      const p = pages[(i + j) % pages.length];
      const shot = CFG.screenshots && i === total - 1 ? path.join(CFG.screenshots, `ttfc-${p.key}.png`) : null;
      const r = await timeToFirstChart(browser, p.url, p.kind, shot);
      if (i >= CFG.warmup) runs[p.key].push(r);
    }
  }
  const out = {};
  for (const p of pages) {
    const rs = runs[p.key];
    const first = rs.map((r) => r.firstChart);
    out[p.key] = {
      url: p.url,
      runs: first.map(r1),
      median_ms: r1(median(first)),
      dom_content_loaded_median_ms: r1(median(rs.map((r) => r.domContentLoaded).filter((x) => x !== null))),
      detected: rs[rs.length - 1]?.what ?? null,
    };
    log(`${p.label}: first chart ${out[p.key].median_ms} ms (runs ${out[p.key].runs.join(', ')})`);
  }
  return out;
}

/**
 * In-page probe for the render test: click on Run, when the query_range answer has arrived
 * (fetch resolved: headers; text() resolved: whole body), when the chart's attributes say SERIES × POINTS
 * (a MutationObserver; set right after alignMatrix, before uPlot draws in a microtask), and the first
 * animation frame after that (uPlot's drawing is done by then).
 */
function renderProbe({ series, points }) {
  const B = (window.__bench = {});
  window.__benchReset = () => {
    for (const k of Object.keys(B)) delete B[k];
  };
  const isRange = (u) => String(u).includes('/api/v1/query_range');
  const origFetch = window.fetch;
  window.fetch = async function (input, init) {
    const url = typeof input === 'string' ? input : input.url;
    if (isRange(url)) B.fetchStart ??= performance.now();
    const res = await origFetch.call(this, input, init);
    if (isRange(url)) B.headers ??= performance.now();
    return res;
  };
  for (const m of ['text', 'json']) {
    const orig = Response.prototype[m];
    Response.prototype[m] = async function () {
      const v = await orig.call(this);
      if (isRange(this.url)) {
        B.body ??= performance.now();
        B.bodyBytes ??= m === 'text' ? v.length : null;
      }
      return v;
    };
  }
  // uPlot draws on a canvas: the last stroke/fill after the answer arrived ends its drawing
  for (const m of ['stroke', 'fill', 'fillText']) {
    const orig = CanvasRenderingContext2D.prototype[m];
    CanvasRenderingContext2D.prototype[m] = function (...a) {
      const r = orig.apply(this, a);
      if (B.attr !== undefined && B.frame === undefined) {
        const now = performance.now();
        B.firstPaint ??= now;
        B.lastPaint = now;
      }
      return r;
    };
  }
  document.addEventListener(
    'click',
    (e) => {
      const t = e.target instanceof Element ? e.target.closest('[data-testid="explore-run"]') : null;
      if (t) B.click = performance.now();
    },
    true,
  );
  const mo = new MutationObserver((recs) => {
    if (B.body === undefined || B.attr !== undefined) return;
    for (const r of recs) {
      const c = r.target;
      if (!(c instanceof HTMLElement) || c.dataset.testid !== 'chart') continue;
      const s = Number(c.dataset.series);
      const p = Number(c.dataset.points);
      if (s === series && (p === points || p === series * points)) {
        B.attr = performance.now();
        B.attrPoints = p;
        requestAnimationFrame(() => {
          B.frame = performance.now();
        });
        return;
      }
    }
  });
  const watch = () => mo.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-points', 'data-series'] });
  if (document.documentElement) watch();
  else document.addEventListener('DOMContentLoaded', watch);
}

async function renderOnce(browser, base, shot = null) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await ctx.addInitScript(renderProbe, { series: CFG.series, points: CFG.points });
    const page = await ctx.newPage();
    const url = `${base}/explore?range=${BIG_RANGE_S}s&step=1s&end=${NOW_S}`;
    await page.goto(url, { waitUntil: 'load' });
    await page.locator('[data-testid="explore-input"]').fill(BIG_SELECTOR);
    await page.keyboard.press('Escape').catch(() => {});
    const out = {};
    for (const phase of ['first', 'rerun']) {
      await page.evaluate(() => window.__benchReset());
      await page.locator('[data-testid="explore-run"]').click();
      await page.waitForFunction(() => window.__bench.frame !== undefined, null, { timeout: 60000, polling: 50 });
      const b = await page.evaluate(() => {
        const rt = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/query_range')).pop();
        return { ...window.__bench, encodedBytes: rt ? rt.encodedBodySize : null };
      });
      out[phase] = {
        total_ms: b.frame - b.click,
        server_ms: b.body - b.click, // click → whole answer in the page (request, query, transfer)
        client_ms: b.frame - b.body, // answer in the page → chart drawn (JSON.parse, alignMatrix, uPlot)
        parse_align_ms: b.attr - b.body, // JSON.parse, alignMatrix (data-* set right after it)
        uplot_ms: b.lastPaint !== undefined ? b.lastPaint - b.attr : null, // new uPlot/setData: scales, paths, canvas calls
        frame_wait_ms: b.lastPaint !== undefined ? b.frame - b.lastPaint : null, // legend etc. and the wait for the next frame
        bodyBytes: b.bodyBytes,
        encodedBytes: b.encodedBytes,
        attrPoints: b.attrPoints,
      };
      // let the page settle (legend, stats) before the re-run
      await sleep(300);
      if (shot && phase === 'first') await page.screenshot({ path: shot });
    }
    return out;
  } finally {
    await ctx.close();
  }
}

// --- push latency ----------------------------------------------------------------------------

/** One SSE client: calls onEvent(obj, receivedMs) for each `data:` line. */
function sseClient(url, onEvent) {
  let req;
  const ready = new Promise((resolve, reject) => {
    req = http.get(url, { agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`live: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        const now = Date.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).replace(/\r$/, '');
          buf = buf.slice(i + 1);
          if (line.startsWith('data:')) {
            try {
              onEvent(JSON.parse(line.slice(5).trim()), now);
            } catch {
              /* partial or bad line */
            }
          }
        }
      });
      res.on('error', () => {});
      resolve();
    });
    req.on('error', (e) => reject(e));
  });
  return { ready, close: () => req.destroy() };
}

async function pushSeries(base, n, intervalMs, tag) {
  const commits = [];
  const t0 = Date.now() + 200;
  for (let i = 0; i < n; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const ms = Date.now();
    await importText(base, `${LIVE_METRIC}{src="${tag}"} ${i} ${ms}\n`);
    commits.push({ sent: ms, acked: Date.now() });
  }
  return commits;
}

async function pushLatencyNode(base) {
  const url = `${base}/api/v1/live?query=${encodeURIComponent(`sum(${LIVE_METRIC})`)}`;
  const clients = [];
  for (let c = 0; c < CFG.clients; c++) {
    const st = { initial: 0, events: [] };
    st.conn = sseClient(url, (ev, recv) => {
      if (ev.initial) {
        st.initial++;
        return;
      }
      st.events.push([ev.commit_ms, recv]);
    });
    clients.push(st);
  }
  await Promise.all(clients.map((c) => c.conn.ready));
  const until = Date.now() + 10000;
  while (clients.some((c) => c.initial === 0) && Date.now() < until) await sleep(20);
  const commits = await pushSeries(base, CFG.pushes, CFG.pushIntervalMs, 'node');
  await sleep(1000);
  for (const c of clients) c.conn.close();
  // an event belongs to a push when its commit_ms lies between the import's send and its answer
  let other = 0;
  const all = [];
  const perClient = clients.map((c) => {
    const seen = new Set();
    for (const [commit, recv] of c.events) {
      const i = matchCommit(commits, commit);
      if (i < 0) {
        other++;
        continue;
      }
      seen.add(i);
      all.push(recv - commit);
    }
    return seen.size;
  });
  const ack = commits.map((c) => c.acked - c.sent);
  const res = {
    clients: CFG.clients,
    commits: commits.length,
    interval_ms: CFG.pushIntervalMs,
    events: all.length,
    events_other_commits: other,
    events_per_client: { min: Math.min(...clients.map((c) => c.events.length)), max: Math.max(...clients.map((c) => c.events.length)) },
    commits_seen_per_client: { min: Math.min(...perClient), median: median(perClient), max: Math.max(...perClient) },
    clients_with_all: perClient.filter((n) => n >= commits.length).length,
    skipped_total: perClient.reduce((s, n) => s + Math.max(0, commits.length - n), 0),
    latency_ms: stats(all),
    import_ack_ms_median: median(ack),
  };
  log(
    `push (node, ${res.clients} clients): p50 ${res.latency_ms.p50} p95 ${res.latency_ms.p95} p99 ${res.latency_ms.p99} max ${res.latency_ms.max} ms; commits seen/client ${res.commits_seen_per_client.min}..${res.commits_seen_per_client.max} of ${res.commits}`,
  );
  return res;
}

/** In-page probe: wraps EventSource 'result' listeners to time arrival, handling and the next frame. */
function liveProbe() {
  const L = (window.__live = { events: [], drawn: {} });
  // the chart sets data-last-push-ms (the commit time of the pushed answer) right after drawing it
  const mo = new MutationObserver((recs) => {
    const now = Date.now();
    for (const r of recs) {
      const v = r.target instanceof HTMLElement ? r.target.dataset.lastPushMs : undefined;
      if (v !== undefined && L.drawn[v] === undefined) L.drawn[v] = now;
    }
  });
  const watch = () => mo.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-last-push-ms'] });
  if (document.documentElement) watch();
  else document.addEventListener('DOMContentLoaded', watch);
  const ES = window.EventSource;
  if (!ES) return;
  class Wrapped extends ES {
    addEventListener(type, fn, opts) {
      if (type !== 'result' || typeof fn !== 'function') return super.addEventListener(type, fn, opts);
      return super.addEventListener(
        type,
        function (e) {
          const recv = Date.now();
          let commit = null;
          let initial = null;
          try {
            const o = JSON.parse(e.data);
            commit = o.commit_ms;
            initial = o.initial;
          } catch {
            /* not JSON */
          }
          const r = fn.call(this, e);
          const handled = Date.now();
          const rec = { commit, initial, recv, handled, frame: null };
          L.events.push(rec);
          requestAnimationFrame(() => {
            rec.frame = Date.now();
          });
          return r;
        },
        opts,
      );
    }
  }
  window.EventSource = Wrapped;
}

async function pushLatencyBrowser(browser, base) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await ctx.addInitScript(liveProbe);
    const page = await ctx.newPage();
    // a first sample, so that the chart has something to show
    await importText(base, `${LIVE_METRIC}{src="browser"} 0 ${Date.now()}\n`);
    await page.goto(`${base}/explore?expr=${encodeURIComponent(`sum(${LIVE_METRIC})`)}&range=5m`, { waitUntil: 'load' });
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid="chart"]')).some((c) => Number(c.dataset.points) > 0), null, {
      timeout: 15000,
    });
    await sleep(500);
    const live = await page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="chart"]')).some((c) => c.dataset.live === '1'));
    if (!live) return { skipped: 'the Explore chart has no data-live="1" (no live updates in this UI build)' };
    await page.evaluate(() => {
      window.__live.events.length = 0;
      window.__live.drawn = {};
    });
    const commits = await pushSeries(base, CFG.browserPushes, CFG.pushIntervalMs, 'browser');
    await sleep(1000);
    const { events, drawn } = await page.evaluate(() => window.__live);
    if (env.DEBUG_LIVE) console.error(JSON.stringify({ commits, events, drawn }));
    const evs = events.filter((e) => e.initial === false && e.commit !== null);
    const mine = evs.filter((e) => matchCommit(commits, e.commit) >= 0);
    const recv = mine.map((e) => e.recv - e.commit);
    const frame = mine.filter((e) => e.frame !== null).map((e) => e.frame - e.commit);
    const drawnLat = mine.filter((e) => drawn[String(e.commit)] !== undefined).map((e) => drawn[String(e.commit)] - e.commit);
    const res = {
      commits: commits.length,
      events: evs.length,
      events_matched: new Set(mine.map((e) => matchCommit(commits, e.commit))).size,
      received_ms: stats(recv),
      next_frame_ms: stats(frame),
      drawn_ms: stats(drawnLat),
      drawn_count: drawnLat.length,
    };
    log(
      `push (browser): commit→received p99 ${res.received_ms.p99} ms, commit→drawn (data-last-push-ms) p99 ${res.drawn_ms.p99} ms, ${res.events_matched}/${res.commits} commits seen`,
    );
    return res;
  } finally {
    await ctx.close();
  }
}

// --- Prometheus peer -------------------------------------------------------------------------

function which(cmd) {
  if (!cmd) return null;
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const d of (env.PATH || '').split(':')) {
    const p = path.join(d, cmd);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Starts Prometheus on blocks made from `samples`: { base, version, proc } or { skipped }. */
async function startPrometheus(samples) {
  const prom = which(CFG.prometheus);
  const promtool = which(CFG.promtool);
  if (!CFG.peer) return { skipped: 'PEER=0' };
  if (!prom || !promtool) return { skipped: 'prometheus/promtool not on PATH (apt-get install -y prometheus)' };
  const dir = path.join(work, 'prometheus');
  fs.mkdirSync(dir, { recursive: true });
  const om = path.join(work, 'small.om');
  fs.writeFileSync(om, openMetrics(samples));
  execFileSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', om, path.join(dir, 'data')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(cfg, 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const port = await freePort();
  const proc = start('prometheus', prom, [
    `--config.file=${cfg}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(base, proc);
  const version = execFileSync(prom, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  // same query, same range: the answer must have the same 5 series
  const q = await getJson(`${base}/api/v1/query_range?query=${encodeURIComponent(EXPLORE_EXPR)}&start=${NOW_S - 3600}&end=${NOW_S}&step=15`);
  const n = q?.data?.result?.length ?? 0;
  if (n !== 5) {
    await stop(proc);
    return { skipped: `Prometheus answered ${n} series instead of 5 for ${EXPLORE_EXPR}` };
  }
  return { base, version, proc };
}

// --- main ------------------------------------------------------------------------------------

function bundleSize() {
  const dir = path.join(CFG.uiDir, 'assets');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  const out = { files: {}, js: { raw: 0, gzip: 0 }, css: { raw: 0, gzip: 0 } };
  for (const f of files) {
    const b = fs.readFileSync(path.join(dir, f));
    const g = zlib.gzipSync(b, { level: 9 }).length;
    out.files[f] = { raw: b.length, gzip: g };
    const k = f.endsWith('.js') ? 'js' : 'css';
    out[k].raw += b.length;
    out[k].gzip += g;
  }
  out.total = { raw: out.js.raw + out.css.raw, gzip: out.js.gzip + out.css.gzip };
  return out;
}

async function main() {
  if (!fs.existsSync(CFG.vitalsBin)) throw new Error(`no vitals binary at ${CFG.vitalsBin} (set VITALS_BIN)`);
  if (!fs.existsSync(path.join(CFG.uiDir, 'index.html'))) throw new Error(`no built UI in ${CFG.uiDir} (cd ui && npm ci && npm run build)`);
  if (!fs.existsSync(CFG.chromium)) throw new Error(`no chromium at ${CFG.chromium} (apt-get install -y chromium)`);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-ui-bench.'));
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30), loadavg_start: os.loadavg().map((x) => r1(x)) },
    config: { ...CFG },
  };

  results.bundle = bundleSize();
  log(`bundle: js ${results.bundle.js.raw} B (gzip ${results.bundle.js.gzip}), css ${results.bundle.css.raw} B (gzip ${results.bundle.css.gzip})`);

  // vitals, scraping nothing and evaluating no rules (else the built-in `node` job and the default rule
  // pack would commit on their own, which shows up as extra live events)
  const cfg = path.join(work, 'vitals.yml');
  fs.writeFileSync(cfg, 'global:\n  scrape_interval: 1m\nscrape_configs: []\nhost_metrics: false\ndefault_rules: false\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const vitals = start('vitals', CFG.vitalsBin, ['serve', '--config', cfg, '--listen', `127.0.0.1:${port}`, '--storage.path', path.join(work, 'data')], {
    VITALS_UI_DIR: CFG.uiDir,
  });
  await waitReady(base, vitals);
  results.versions = {
    vitals: execFileSync(CFG.vitalsBin, ['--version'], { encoding: 'utf8' }).trim(),
    node: process.version,
  };
  // the binary must serve the UI under test, not its embedded copy
  const index = await (await fetch(`${base}/`)).text();
  const want = fs.readFileSync(path.join(CFG.uiDir, 'index.html'), 'utf8');
  if (index !== want) throw new Error(`vitals does not serve ${CFG.uiDir}/index.html (VITALS_UI_DIR not supported by this binary?)`);

  const small = smallSamples();
  for (let i = 0; i < small.length; i += 5000) await importText(base, small.slice(i, i + 5000).map(promLine).join('\n') + '\n');
  const t = Date.now();
  await importBig(base);
  log(`imported ${small.length} small + ${CFG.series * CFG.points} big samples (big: ${Date.now() - t} ms)`);

  // the API answer of the render test: SERIES series × POINTS points each
  {
    const q = await getJson(`${base}/api/v1/query_range?query=${BIG_SELECTOR}&start=${NOW_S - BIG_RANGE_S}&end=${NOW_S}&step=1`);
    const res = q?.data?.result ?? [];
    const lens = res.map((s) => s.values.length);
    if (res.length !== CFG.series || lens.some((n) => n !== CFG.points)) {
      throw new Error(`query_range answered ${res.length} series with ${[...new Set(lens)].join('/')} points; want ${CFG.series} × ${CFG.points}`);
    }
    const q2 = await getJson(`${base}/api/v1/query_range?query=${encodeURIComponent(EXPLORE_EXPR)}&start=${NOW_S - 3600}&end=${NOW_S}&step=15`);
    if ((q2?.data?.result?.length ?? 0) !== 5) throw new Error(`explore query answered ${q2?.data?.result?.length} series, want 5`);
  }

  const browser = await chromium.launch({ executablePath: CFG.chromium, headless: true, args: CHROME_ARGS });
  results.versions.chromium = browser.version();
  try {
    const prom = await startPrometheus(small);
    const pages = [
      { key: 'explore', label: 'vitals /explore', url: `${base}/explore?expr=${encodeURIComponent(EXPLORE_EXPR)}&range=1h`, kind: 'vitals' },
      { key: 'overview', label: 'vitals /', url: `${base}/`, kind: 'vitals' },
    ];
    if (!prom.skipped)
      pages.push({
        key: 'prometheus',
        label: 'Prometheus /graph',
        url: `${prom.base}/graph?g0.expr=${encodeURIComponent(EXPLORE_EXPR)}&g0.tab=0&g0.range_input=1h`,
        kind: 'prometheus',
      });
    results.ttfc = await ttfcInterleaved(browser, pages);
    if (prom.skipped) {
      results.ttfc.prometheus = { skipped: prom.skipped };
      note(`Prometheus peer skipped: ${prom.skipped}`);
    } else {
      await stop(prom.proc);
      results.ttfc.prometheus.version = prom.version;
      results.ttfc.ratio_explore_vs_prometheus = Math.round((results.ttfc.explore.median_ms / results.ttfc.prometheus.median_ms) * 100) / 100;
      note('Prometheus peer: time to first chart only (interleaved with the vitals pages); the 20×10k render is not run against it');
    }

    const renders = [];
    for (let i = 0; i < CFG.warmup + CFG.renderRuns; i++) {
      const last = i === CFG.warmup + CFG.renderRuns - 1;
      const r = await renderOnce(browser, base, CFG.screenshots && last ? path.join(CFG.screenshots, 'render.png') : null);
      if (i >= CFG.warmup) renders.push(r);
    }
    const agg = (phase) => {
      const o = {};
      for (const k of ['total_ms', 'server_ms', 'client_ms', 'parse_align_ms', 'uplot_ms', 'frame_wait_ms'])
        o[k] = r1(median(renders.map((r) => r[phase][k]).filter((x) => x !== null)));
      o.runs_total_ms = renders.map((r) => r1(r[phase].total_ms));
      return o;
    };
    results.render = {
      series: CFG.series,
      points_per_series: CFG.points,
      url: `/explore?range=${BIG_RANGE_S}s&step=1s&end=${NOW_S}`,
      expr: BIG_SELECTOR,
      answer_bytes: renders[0]?.first.bodyBytes ?? null,
      answer_encoded_bytes: renders[0]?.first.encodedBytes ?? null,
      chart_data_points: renders[0]?.first.attrPoints ?? null,
      first: agg('first'),
      rerun: agg('rerun'),
    };
    if (results.render.chart_data_points === CFG.points)
      note(`the chart's data-points counts aligned timestamps (${CFG.points}), not samples (${CFG.series * CFG.points}); ui/README.md documents it that way`);
    log(`render ${CFG.series}×${CFG.points}: first run ${results.render.first.total_ms} ms (client ${results.render.first.client_ms} ms), re-run ${results.render.rerun.total_ms} ms`);

    results.push = { node: await pushLatencyNode(base) };
    results.push.browser = await pushLatencyBrowser(browser, base);
    if (results.push.browser.skipped) note(`browser push latency skipped: ${results.push.browser.skipped}`);
  } finally {
    await browser.close();
  }
  results.machine.loadavg_end = os.loadavg().map((x) => r1(x));
  results.notes = notes;
  results.elapsed_s = Math.round((Date.now() - T0) / 1000);
  fs.writeFileSync(CFG.out, JSON.stringify(results, null, 2) + '\n');
  printTable(results);
  log(`wrote ${CFG.out} (${results.elapsed_s} s)`);
}

function printTable(r) {
  const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
  const rows = [];
  const add = (what, value, detail = '') => rows.push(`| ${what} | ${value} | ${detail} |`);
  add('bundle JS (raw / gzip -9)', `${kb(r.bundle.js.raw)} / ${kb(r.bundle.js.gzip)}`, Object.keys(r.bundle.files).join(', '));
  add('bundle CSS (raw / gzip -9)', `${kb(r.bundle.css.raw)} / ${kb(r.bundle.css.gzip)}`);
  const e = r.ttfc.explore;
  add('first chart, /explore (cold)', `${e.median_ms} ms`, `DOMContentLoaded ${e.dom_content_loaded_median_ms} ms; runs ${e.runs.join(', ')}`);
  const o = r.ttfc.overview;
  add('first chart, / overview (cold)', `${o.median_ms} ms`, `runs ${o.runs.join(', ')}`);
  const p = r.ttfc.prometheus;
  if (p && !p.skipped) {
    add('first chart, Prometheus /graph (cold)', `${p.median_ms} ms`, `${p.version}; runs ${p.runs.join(', ')}`);
    add('ratio vitals /explore ÷ Prometheus', `${r.ttfc.ratio_explore_vs_prometheus}`);
  } else add('first chart, Prometheus /graph', 'n/a', p?.skipped ?? '');
  const R = r.render;
  add(`${R.series}×${R.points_per_series}: Run → drawn (new chart)`, `${R.first.total_ms} ms`, `runs ${R.first.runs_total_ms.join(', ')}`);
  add('… of which click → answer in page', `${R.first.server_ms} ms`, `${R.answer_bytes} B JSON, ${R.answer_encoded_bytes} B on the wire`);
  add('… of which answer → drawn (client)', `${R.first.client_ms} ms`, `JSON.parse+align ${R.first.parse_align_ms} ms, uPlot draw ${R.first.uplot_ms} ms, rest+frame wait ${R.first.frame_wait_ms} ms`);
  add(`${R.series}×${R.points_per_series}: re-Run → drawn (setData)`, `${R.rerun.total_ms} ms`, `answer → drawn ${R.rerun.client_ms} ms (JSON.parse+align ${R.rerun.parse_align_ms}, uPlot draw ${R.rerun.uplot_ms} ms)`);
  const n = r.push.node;
  add(
    `push latency, ${n.clients} SSE clients (p50/p95/p99/max)`,
    `${n.latency_ms.p50} / ${n.latency_ms.p95} / ${n.latency_ms.p99} / ${n.latency_ms.max} ms`,
    `${n.commits} commits every ${n.interval_ms} ms; ${n.clients_with_all}/${n.clients} clients got every commit (min ${n.commits_seen_per_client.min}); ${n.skipped_total} skipped; ${n.events_other_commits} events of other commits`,
  );
  const b = r.push.browser;
  if (b && !b.skipped)
    add(
      'push latency, 1 browser page on /explore (p50/p95/p99/max)',
      `${b.drawn_ms.p50} / ${b.drawn_ms.p95} / ${b.drawn_ms.p99} / ${b.drawn_ms.max} ms`,
      `commit → drawn (data-last-push-ms set); commit → EventSource event ${b.received_ms.p50} / ${b.received_ms.p99} ms (p50/p99); ${b.events_matched}/${b.commits} commits seen, ${b.drawn_count} drawn`,
    );
  else add('push latency, 1 browser page', 'n/a', b?.skipped ?? '');
  console.log(
    `\nvitals UI bench — ${r.date}, ${r.machine.cpus} CPUs (load average ${r.machine.loadavg_start[0]} at start, ${r.machine.loadavg_end[0]} at end), ${r.versions.vitals}, chromium ${r.versions.chromium}, ${r.elapsed_s} s\n`,
  );
  console.log('| measure | value | detail |\n|---|---|---|');
  console.log(rows.join('\n'));
  if (r.notes.length) console.log(`\nnotes:\n${r.notes.map((s) => `- ${s}`).join('\n')}`);
}

main()
  .catch((e) => {
    log(`FAIL: ${e?.stack ?? e}`);
    if (work) log(`work dir: ${work}${CFG.keepWork ? '' : ' (removed; KEEP_WORK=1 keeps it)'}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
