// The e2e harness: starts the real vitals binary on a free loopback port with a known
// configuration and data, drives Debian's chromium through playwright-core, and stops both.
//
// Environment:
//   VITALS_BIN             the binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/vitals-target}/release/vitals)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   VITALS_E2E_ARTIFACTS   where screenshots go (default ui/e2e/artifacts)
//   VITALS_E2E_UI=dist     serve ui/dist (this checkout's build) in front of the binary instead of
//                          the UI embedded in it: a small proxy sends /api and /-/ to vitals
//   VITALS_E2E_KEEP=1      keep the temporary directory (data, config, log)

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const uiDir = path.resolve(here, '..');

export const vitalsBin =
  process.env.VITALS_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'vitals-target'), 'release', 'vitals');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const artifactsDir = path.resolve(process.env.VITALS_E2E_ARTIFACTS || path.join(here, 'artifacts'));

/** Why the e2e tests cannot run here (missing browser or binary), or null. */
export function missingPrerequisites() {
  const problems = [];
  if (!existsSync(chromiumPath)) {
    problems.push(
      `chromium not found at ${chromiumPath}: install Debian's chromium (apt-get install -y chromium) ` +
        'or point CHROMIUM at a Chromium/Chrome binary. The e2e tests do not download browsers.',
    );
  }
  if (!existsSync(vitalsBin)) {
    problems.push(`vitals binary not found at ${vitalsBin}: build it (cargo build --release -p vitals) or set VITALS_BIN.`);
  }
  return problems.length ? problems.join('\n') : null;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it gives a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
export async function until(what, f, timeoutMs = 10_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message ?? last}` : ''}`);
    await sleep(everyMs);
  }
}

export const RULES_YML = `groups:
  - name: e2e
    rules:
      - alert: E2EAlwaysFiring
        expr: vector(1)
        labels:
          severity: page
        annotations:
          summary: e2e alert that always fires
      - record: e2e:requests:rate5m
        expr: sum by (handler) (rate(e2e_requests_total[5m]))
`;

export function vitalsConfig(port) {
  return `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vitals
    static_configs:
      - targets: ['127.0.0.1:${port}']
rule_files: [rules.yml]
default_rules: false
host_metrics: false
notify:
  route:
    receiver: devnull
  receivers:
    - name: devnull
probe_modules:
  http_2xx:
    prober: http
    timeout: 2s
probes:
  - name: e2e-self
    module: http_2xx
    targets: ['http://127.0.0.1:${port}/-/healthy']
    interval: 1s
`;
}

/** Prometheus text of `series` (label sets) with one sample every `stepMs` over `spanMs` up to `endMs`. */
export function exposition(name, series, { endMs, spanMs, stepMs, value = (i) => i }) {
  const n = Math.floor(spanMs / stepMs) + 1;
  const lines = [];
  for (const labels of series) {
    const ls = Object.entries(labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',');
    for (let i = 0; i < n; i++) lines.push(`${name}{${ls}} ${value(i)} ${endMs - (n - 1 - i) * stepMs}`);
  }
  return { text: lines.join('\n') + '\n', samplesPerSeries: n };
}

/** A running vitals: `url`, `port`, `dir`, `fetch(path, init)`, `importText(text)`, `stop()`. */
export async function startVitals() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-e2e-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'rules.yml'), RULES_YML);
  await writeFile(path.join(dir, 'vitals.yml'), vitalsConfig(port));
  const logPath = path.join(dir, 'vitals.log');
  const { openSync } = await import('node:fs');
  const log = openSync(logPath, 'w');
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--storage.path', path.join(dir, 'data'), '--config', path.join(dir, 'vitals.yml')];
  const child = spawn(vitalsBin, args, { stdio: ['ignore', log, log] });
  let exited = null;
  const exitedP = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  const url = `http://127.0.0.1:${port}`;
  const logTail = async () => (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
  try {
    await until('GET /-/ready == 200', async () => {
      if (exited) throw new Error(`vitals exited (${JSON.stringify(exited)})`);
      const r = await fetch(`${url}/-/ready`).catch(() => null);
      return r?.status === 200;
    }, 20_000, 50);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\n--- vitals log ---\n${await logTail()}`);
  }
  const v = {
    url,
    port,
    dir,
    logTail,
    fetch: (p, init) => fetch(url + p, init),
    async json(p, init) {
      const r = await fetch(url + p, init);
      const body = await r.text();
      if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${r.status} ${body}`);
      const j = JSON.parse(body);
      return j && j.status === 'success' ? j.data : j;
    },
    async importText(text) {
      const r = await fetch(`${url}/api/v1/import/prometheus`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: text });
      if (r.status !== 204) throw new Error(`import: ${r.status} ${await r.text()}`);
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 8000);
        await exitedP;
        clearTimeout(t);
      }
      if (process.env.VITALS_E2E_KEEP !== '1') await rm(dir, { recursive: true, force: true });
      else console.log(`kept ${dir}`);
    },
  };
  return v;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Serves `ui/dist` (with the SPA fallback to index.html) and proxies `/api` and `/-/` to vitals,
 * streaming (Server-Sent Events pass through). Gives `{url, stop()}`.
 */
export async function serveDist(backendUrl) {
  const dist = path.join(uiDir, 'dist');
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error(`${dist}/index.html is missing: run npm run build first`);
  const backend = new URL(backendUrl);
  const srv = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname.startsWith('/api/') || u.pathname.startsWith('/-/')) {
      const up = http.request(
        { host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: { ...req.headers, host: backend.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(e));
      });
      res.on('close', () => up.destroy());
      req.pipe(up);
      return;
    }
    let file = path.normalize(path.join(dist, decodeURIComponent(u.pathname)));
    if (!file.startsWith(dist)) file = path.join(dist, 'index.html');
    const st = await stat(file).catch(() => null);
    if (!st || !st.isFile()) file = path.join(dist, 'index.html');
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        srv.closeAllConnections?.();
        srv.close(() => r());
      }),
  };
}

/**
 * Starts what a suite needs: vitals (then `prepare(vitals)`, which imports the suite's data), the ui/dist
 * proxy when VITALS_E2E_UI=dist, and Chromium. Returns them, `base` (where the browser loads the UI
 * from) and `stop()`, which stops them in reverse order.
 */
export async function startStack(prepare = async () => {}) {
  const missing = missingPrerequisites();
  if (missing) {
    console.error(`\ne2e prerequisites missing:\n${missing.replace(/^/gm, '  ')}\n`);
    throw new Error(missing);
  }
  const vitals = await startVitals();
  let proxy = null;
  let browser = null;
  const stop = async () => {
    await browser?.stop();
    await proxy?.stop();
    await vitals.stop();
  };
  try {
    await prepare(vitals);
    if (process.env.VITALS_E2E_UI === 'dist') proxy = await serveDist(vitals.url);
    browser = await startBrowser();
  } catch (e) {
    await stop();
    throw e;
  }
  const base = proxy ? proxy.url : vitals.url;
  console.log(`vitals ${vitalsBin} on ${vitals.url}; UI from ${proxy ? 'ui/dist via ' + base : 'the binary'}; screenshots: ${artifactsDir}`);
  return { vitals, proxy, browser, base, stop };
}

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches chromium with a fresh temporary profile; gives `{context, stop()}`. */
export async function startBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(path.join(os.tmpdir(), 'vitals-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    // The headless mode comes from the flags (--headless=new), not from playwright.
    headless: false,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 30_000,
  });
  return {
    context,
    async stop() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A new page that records console errors and uncaught exceptions (`errors`), except the ones
 * `allow` matches.
 */
export async function newPage(context, allow = []) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `console.error: ${m.text()}${m.location()?.url ? ` (${m.location().url})` : ''}`;
    if (!allow.some((re) => re.test(text))) errors.push(text);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

/** Opens a page in `context`, runs `f(page)`, then checks that the browser logged no errors. */
export async function withPage(context, f, allow = []) {
  const { default: assert } = await import('node:assert/strict');
  const { page, errors } = await newPage(context, allow);
  try {
    await f(page);
    // Late errors (a request failing after the page showed) count too.
    await page.waitForTimeout(200);
    assert.deepEqual(errors, [], 'console errors or uncaught exceptions');
  } finally {
    await page.close();
  }
}

export async function screenshot(page, name) {
  await mkdir(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
