// End-to-end tests of the web UI in a real browser (Debian's chromium through playwright-core)
// against the real vitals binary, started here with known rules, a probe and imported data.
// Run: npm run e2e (see harness.mjs for the environment variables).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { artifactsDir, exposition, newPage, screenshot, startStack, until } from './harness.mjs';
import { withPage as harnessWithPage } from './harness.mjs';

const HANDLERS = ['/a', '/b', '/c'];
const REQUESTS = 'e2e_requests_total';
const LIVE = 'e2e_live_metric';
/**
 * Standard HTTP metrics for the overview's endpoint tables, over the last 30 minutes (a sample every
 * 15 s): per endpoint the requests per step of each code (or status) and, for a histogram, the
 * bucket (upper bound) all of them fall in. `web` counts by `status`, `rpc` has only a duration
 * histogram's `_count` (with a code): the error ratio falls back to it.
 */
const HTTP = [
  { name: 'http_requests_total', job: 'api', handler: '/a', codes: { 200: 9, 500: 1 }, le: '2.5' },
  { name: 'http_requests_total', job: 'api', handler: '/b', codes: { 200: 3, 500: 1 }, le: '0.5' },
  { name: 'http_requests_total', job: 'api', handler: '/c', codes: { 200: 10, 500: 0 }, le: '0.1' },
  { name: 'web_requests_total', job: 'web', handler: '/w', codes: { 200: 1, 503: 1 }, codeLabel: 'status' },
  { name: 'rpc_request_duration_seconds_count', job: 'rpc', handler: '/r', codes: { 200: 17, 500: 3 } },
];
const BUCKETS = ['0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
/** The error ratios (highest first) and p95s (slowest first, from linear interpolation in the bucket). */
const EXPECTED_ERRORS = [['web', '/w', 0.5], ['api', '/b', 0.25], ['rpc', '/r', 0.15], ['api', '/a', 0.1], ['api', '/c', 0]];
const EXPECTED_SLOWEST = [['api', '/a', 1 + 1.5 * 0.95], ['api', '/b', 0.25 + 0.25 * 0.95], ['api', '/c', 0.1 * 0.95]];

/** The exposition text of `HTTP`, ending at `endMs`. */
function httpMetrics(endMs) {
  const span = { endMs, spanMs: 30 * 60_000, stepMs: 15_000 };
  let text = '';
  for (const e of HTTP) {
    let total = 0;
    for (const [code, perStep] of Object.entries(e.codes)) {
      total += perStep;
      const labels = { job: e.job, handler: e.handler, [e.codeLabel ?? 'code']: code };
      text += exposition(e.name, [labels], { ...span, value: (i) => i * perStep }).text;
    }
    if (!e.le) continue;
    for (const le of BUCKETS) {
      const count = le === '+Inf' || Number(le) >= Number(e.le) ? total : 0;
      text += exposition('http_request_duration_seconds_bucket', [{ job: e.job, handler: e.handler, le }], { ...span, value: (i) => i * count }).text;
    }
  }
  return text;
}

/** A 400 from an invalid query is logged by the browser as a failed resource load. */
const BAD_REQUEST = /Failed to load resource: the server responded with a status of 400/;

let vitals = null;
let browser = null;
/** Where the browser loads the UI from: vitals itself, or the ui/dist proxy. */
let base = '';
let imported = { requests: 0 };

const $ = (id) => `[data-testid="${id}"]`;

let stack = null;
before(async () => {
  stack = await startStack(async (v) => {
    const now = Date.now();
    // 3 series, one sample every 15 s over the last hour (up to now), increasing.
    const req = exposition(REQUESTS, HANDLERS.map((handler) => ({ handler })), { endMs: now, spanMs: 59 * 60_000, stepMs: 15_000, value: (i) => i * 10 });
    await v.importText(req.text);
    imported.requests = req.samplesPerSeries;
    // The live metric: the last 10 minutes, ending a few seconds ago.
    await v.importText(exposition(LIVE, [{ source: 'e2e' }], { endMs: now - 5_000, spanMs: 10 * 60_000, stepMs: 15_000, value: (i) => i }).text);
    await v.importText(httpMetrics(now));
  });
  ({ vitals, browser, base } = stack);
}, { timeout: 60_000 });

after(async () => {
  await stack?.stop();
  if (stack) console.log(`screenshots in ${artifactsDir}`);
}, { timeout: 30_000 });

/** Opens a page, runs `f(page)`, then checks that the browser logged no errors (harness.withPage). */
const withPage = (f, allow = []) => harnessWithPage(browser.context, f, allow);

// A hang must not keep the run (and the vitals it started) going: the suite has 110 s.
describe('vitals UI in chromium', { timeout: 110_000 }, () => {
  test('every page opens without console errors (screenshots of each)', async () => {
    const pages = [
      ['overview', '/', 'overview'],
      ['explore', `/explore?expr=${encodeURIComponent(REQUESTS)}&range=1h`, 'explore'],
      ['alerts', '/alerts', 'alerts'],
      ['targets', '/targets', 'targets'],
      ['probes', '/probes', 'probes'],
      ['status', '/status', 'status'],
      ['slos', '/slos', 'slos'],
      ['dashboards', '/dashboards', 'dashboards'],
      ['dashboards-host', '/dashboards/host', 'dashboards'],
      ['dashboards-api', '/dashboards/api', 'dashboards'],
      ['load', '/load', 'load'],
      ['notfound', '/no-such-page', 'notfound'],
    ];
    const problems = [];
    for (const [name, path, testid] of pages) {
      const { page, errors } = await newPage(browser.context);
      try {
        await page.goto(base + path);
        await page.locator($(`page-${testid}`)).waitFor({ timeout: 10_000 });
        // Let the page's first requests finish and draw.
        await page.waitForTimeout(800);
        await screenshot(page, `page-${name}`);
        for (const e of errors) problems.push(`${path}: ${e}`);
      } finally {
        await page.close();
      }
    }
    assert.deepEqual(problems, []);
  });

  test('the nav bar switches pages without a reload', async () => {
    await withPage(async (page) => {
      await page.goto(base + '/');
      await page.locator($('page-overview')).waitFor();
      await page.evaluate(() => ((window).__e2eSamePage = true));
      for (const p of ['explore', 'alerts', 'targets', 'probes', 'slos', 'dashboards', 'load', 'overview']) {
        await page.locator($(`nav-${p}`)).click();
        await page.locator($(`page-${p}`)).waitFor({ timeout: 5_000 });
      }
      assert.equal(await page.evaluate(() => (window).__e2eSamePage === true), true, 'a nav click reloaded the page');
    });
  });

  test('overview: the slowest endpoints and the highest error ratios, each with a sparkline', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/`);
      const rowsOf = (table) =>
        page.$$eval(`${$(`${table}-row`)}`, (rows) =>
          rows.map((r) => ({
            job: r.dataset.job,
            handler: r.dataset.handler,
            value: Number(r.dataset.value),
            text: r.querySelector('td.num')?.textContent,
            points: Number(r.querySelector('[data-testid="sparkline"]')?.dataset.points ?? -1),
          })),
        );
      // The imported endpoints (the self-scrape adds vitals' own handlers), in table order.
      const ours = (rows, expected) => rows.filter((r) => expected.some(([job, handler]) => r.job === job && r.handler === handler));
      const drawn = async (table, expected) =>
        until(`${table}: ${expected.length} rows with sparklines`, async () => {
          const rows = ours(await rowsOf(table), expected);
          return rows.length === expected.length && rows.every((r) => r.points > 0) ? rows : null;
        }, 15_000, 200);

      const errors = await drawn('errors', EXPECTED_ERRORS);
      assert.deepEqual(errors.map((r) => [r.job, r.handler]), EXPECTED_ERRORS.map(([job, handler]) => [job, handler]));
      errors.forEach((r, i) => assert.ok(Math.abs(r.value - EXPECTED_ERRORS[i][2]) < 1e-6, `${r.handler}: ${r.value}`));
      assert.deepEqual(errors.map((r) => r.text), ['50%', '25%', '15%', '10%', '0%']);
      const slowest = await drawn('slowest', EXPECTED_SLOWEST);
      assert.deepEqual(slowest.map((r) => r.handler), EXPECTED_SLOWEST.map(([, handler]) => handler));
      slowest.forEach((r, i) => assert.ok(Math.abs(r.value - EXPECTED_SLOWEST[i][2]) < 1e-3, `${r.handler}: ${r.value}`));
      // Both tables are sorted as a whole, and a sparkline covers the 30 minutes of data at a 60 s
      // step (a point per step once the 5m rate has two samples).
      for (const table of ['errors', 'slowest']) {
        const values = (await rowsOf(table)).map((r) => r.value);
        assert.deepEqual(values, [...values].sort((a, b) => b - a), `${table} is sorted`);
      }
      for (const r of [...errors, ...slowest]) assert.ok(r.points >= 25 && r.points <= 32, `${r.job}${r.handler}: ${r.points} points`);
      await screenshot(page, 'overview-endpoints');
    });
  });

  test('explore: the graph has every series and point of query_range, the table one row per series', async () => {
    await withPage(async (page) => {
      // Hold the live stream back so that the chart shows exactly the range query's answer; it is
      // let through at the end.
      const held = [];
      const isLive = (url) => url.pathname === '/api/v1/live';
      await page.route(isLive, (route) => held.push(route));
      const firstRun = page.waitForResponse((r) => r.url().includes('/api/v1/query_range'));
      await page.goto(`${base}/explore?expr=${encodeURIComponent(REQUESTS)}&range=1h`);
      const chart = page.locator(`${$('page-explore')} ${$('chart')}`);
      await chart.waitFor();
      await firstRun;
      // Run it (again) from the button and take the request that run made.
      const reqP = page.waitForRequest((r) => r.url().includes('/api/v1/query_range'));
      const resP = page.waitForResponse((r) => r.url().includes('/api/v1/query_range'));
      await page.locator($('explore-run')).click();
      const req = await reqP;
      await resP;
      const u = new URL(req.url());
      assert.equal(u.searchParams.get('query'), REQUESTS);
      assert.equal(Number(u.searchParams.get('end')) - Number(u.searchParams.get('start')), 3600);
      // Every imported sample is stored.
      const counts = await vitals.json(`/api/v1/query?query=${encodeURIComponent(`count_over_time(${REQUESTS}[1h])`)}`);
      assert.deepEqual(counts.result.map((r) => Number(r.value[1])), HANDLERS.map(() => imported.requests));
      const data = await vitals.json(u.pathname + u.search);
      assert.equal(data.resultType, 'matrix');
      assert.equal(data.result.length, 3);
      const timestamps = new Set(data.result.flatMap((s) => s.values.map(([t]) => t)));
      await page.waitForFunction(
        ([sel, n]) => document.querySelector(sel)?.getAttribute('data-points') === String(n),
        [`${$('page-explore')} ${$('chart')}`, timestamps.size],
        { timeout: 5_000 },
      ).catch(() => {});
      assert.equal(await chart.getAttribute('data-series'), '3');
      assert.equal(Number(await chart.getAttribute('data-points')), timestamps.size);
      // 59 minutes of 15 s samples seen with the auto step (14 s): most of the hour has points.
      assert.ok(timestamps.size > 200, `only ${timestamps.size} points`);
      assert.equal(await page.locator($('legend-item')).count(), 3);
      await screenshot(page, 'explore-graph');

      await page.locator($('explore-tab-table')).click();
      await page.locator($('explore-table')).waitFor();
      await until('3 table rows', async () => (await page.locator($('table-row')).count()) === 3, 5_000);
      const rows = await page.locator($('table-row')).allTextContents();
      for (const h of HANDLERS) assert.ok(rows.some((r) => r.includes(`handler="${h}"`)), `no row for ${h}: ${rows.join(' | ')}`);
      assert.match(page.url(), /tab=table/);
      await screenshot(page, 'explore-table');
      await page.unroute(isLive);
      for (const r of held) await r.continue().catch(() => {});
    });
  });

  test('explore: an invalid query shows the error under the editor', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/explore`);
      const input = page.locator($('explore-input'));
      await input.fill('sum(rate(e2e_requests_total[5m])');
      await page.locator($('explore-run')).click();
      const err = page.locator($('explore-error'));
      await err.waitFor({ timeout: 5_000 });
      const text = await err.textContent();
      assert.match(text, /^bad_data: /);
      // Right under the editor, before the toolbar and the result.
      const placed = await page.evaluate(() => {
        const e = document.querySelector('[data-testid="explore-error"]');
        const editor = document.querySelector('.explore-editor');
        return !!e && !!editor && editor.nextElementSibling?.contains(e) === true;
      });
      assert.ok(placed, 'the error is not right under the editor');
      assert.equal(await page.locator($('chart')).getAttribute('data-series'), '0');
      await screenshot(page, 'explore-error');
    }, [BAD_REQUEST]);
  });

  test('alerts: the firing alert is listed; a silence is created from it and expired', async () => {
    await until('E2EAlwaysFiring firing in /api/v1/alerts', async () => {
      const d = await vitals.json('/api/v1/alerts');
      return d.alerts.some((a) => a.labels.alertname === 'E2EAlwaysFiring' && a.state === 'firing');
    }, 15_000, 200);
    await withPage(async (page) => {
      await page.goto(`${base}/alerts`);
      const row = page.locator(`${$('alert-row')}[data-state="firing"]`, { hasText: 'E2EAlwaysFiring' });
      await row.waitFor({ timeout: 10_000 });
      assert.match(await row.textContent(), /e2e alert that always fires/);
      await row.locator($('alert-silence')).click();
      const form = page.locator($('silence-form'));
      await form.waitFor();
      const names = await form.locator($('matcher-name')).evaluateAll((els) => els.map((e) => e.value));
      assert.deepEqual(names.sort(), ['alertname', 'severity']);
      await form.locator($('silence-duration')).fill('1h');
      await form.locator($('silence-createdby')).fill('e2e');
      await form.locator($('silence-comment')).fill('silenced by the e2e test');
      await form.locator($('silence-submit')).click();
      const created = page.locator($('silence-created'));
      await created.waitFor({ timeout: 5_000 });
      const id = (await created.textContent()).match(/Silence (\S+) created/)?.[1];
      assert.ok(id, `no silence id in "${await created.textContent()}"`);

      const silenceRow = page.locator(`${$('silence-row')}[data-id="${id}"]`);
      await silenceRow.waitFor({ timeout: 5_000 });
      assert.equal(await silenceRow.getAttribute('data-state'), 'active');
      // The alert shows as silenced (Alertmanager's view, read again after the silence was made).
      await page.locator(`${$('alert-row')}[data-silenced="1"]`, { hasText: 'E2EAlwaysFiring' }).waitFor({ timeout: 5_000 });
      const list = await vitals.json('/api/v2/silences');
      const s = list.find((x) => x.id === id);
      assert.ok(s, 'the silence is not in GET /api/v2/silences');
      assert.equal(s.status.state, 'active');
      assert.equal(s.createdBy, 'e2e');
      assert.equal(s.comment, 'silenced by the e2e test');
      assert.ok(s.matchers.some((m) => m.name === 'alertname' && m.value === 'E2EAlwaysFiring' && !m.isRegex));
      assert.ok(Math.abs(Date.parse(s.endsAt) - Date.parse(s.startsAt) - 3600_000) < 5_000, `${s.startsAt} → ${s.endsAt}`);
      await screenshot(page, 'alerts-silenced');

      await silenceRow.locator($('silence-expire')).click();
      // Expired silences are hidden unless asked for.
      await silenceRow.waitFor({ state: 'detached', timeout: 5_000 });
      const one = await vitals.json(`/api/v2/silence/${id}`);
      assert.equal(one.status.state, 'expired');
      await page.locator($('silences-show-expired')).check();
      await page.locator(`${$('silence-row')}[data-id="${id}"][data-state="expired"]`).waitFor({ timeout: 5_000 });
      await screenshot(page, 'alerts-expired');
    });
  });

  test('rules: the alerting and the recording rule are loaded and healthy', async () => {
    const d = await until('both rules evaluated', async () => {
      const r = await vitals.json('/api/v1/rules');
      const rules = r.groups.flatMap((g) => g.rules);
      return rules.length === 2 && rules.every((x) => x.health === 'ok') ? rules : null;
    }, 10_000, 200);
    assert.deepEqual(d.map((r) => r.type).sort(), ['alerting', 'recording']);
  });

  test('live: overview sparklines and dashboard panels follow the stream', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/`);
      const live = (sel) =>
        page.waitForFunction((s) => [...document.querySelectorAll(s)].some((e) => e.dataset.live === '1' && e.dataset.lastPushMs), sel, { timeout: 5_000 });
      await live(`${$('card-cpu')} ${$('chart')}`);
      await live(`${$('card-memory')} ${$('chart')}`);
      await page.goto(`${base}/dashboards/api?var-job=vitals`);
      await live(`${$('panel')}[data-type="timeseries"] ${$('chart')}`);
      const stats = await page.locator(`${$('panel')}[data-type="stat"][data-live="1"]`).count();
      assert.equal(stats, 4);
      // Leaving the page closes the stream: the next page has no live chart left over.
      await page.locator($('nav-targets')).click();
      await page.locator($('page-targets')).waitFor();
      assert.equal(await page.locator('[data-live="1"]').count(), 0);
      await screenshot(page, 'dashboards-live');
    });
  });

  test('live: when the stream fails Explore falls back to polling every 10 s', async () => {
    // The browser reports the refused stream on the console; that is expected here.
    const allow = [/Failed to load resource/, /EventSource/];
    await withPage(async (page) => {
      await page.route((url) => url.pathname === '/api/v1/live', (route) =>
        route.fulfill({ status: 503, contentType: 'application/json', body: '{"status":"error","errorType":"unavailable","error":"e2e"}' }),
      );
      const ranges = [];
      page.on('request', (r) => {
        if (r.url().includes('/api/v1/query_range')) ranges.push(Date.now());
      });
      await page.goto(`${base}/explore?expr=${encodeURIComponent(REQUESTS)}&range=1h`);
      const chart = page.locator(`${$('page-explore')} ${$('chart')}`);
      await page.locator($('explore-live'), { hasText: 'refresh 10 s' }).waitFor({ timeout: 5_000 });
      assert.equal(await chart.getAttribute('data-live'), null);
      assert.equal(await chart.getAttribute('data-series'), '3');
      await until('a second range query from polling', () => ranges.length >= 2, 13_000, 100);
      const gap = ranges[1] - ranges[0];
      assert.ok(gap >= 9_000 && gap <= 12_500, `polled after ${gap} ms`);
      assert.equal(await chart.getAttribute('data-series'), '3');
    }, allow);
  });

  test('targets: the self-scrape target is up', async () => {
    await until('the target up in /api/v1/targets', async () => {
      const d = await vitals.json('/api/v1/targets');
      return d.activeTargets.some((t) => t.health === 'up');
    }, 15_000, 200);
    await withPage(async (page) => {
      await page.goto(`${base}/targets`);
      const row = page.locator(`${$('target-row')}[data-health="up"]`, { hasText: `127.0.0.1:${vitals.port}/metrics` });
      await row.waitFor({ timeout: 10_000 });
      assert.equal(await page.locator($('target-pool')).getAttribute('data-pool'), 'vitals');
      assert.equal((await row.locator($('target-error')).textContent()).trim(), '');
      await screenshot(page, 'targets');
    });
  });

  test('probes: the probe of /-/healthy is listed and up; /status shows it without the nav', async () => {
    await until('the probe has run', async () => {
      const d = await vitals.json('/api/v1/probes');
      return d.probes?.some((p) => p.check === 'e2e-self' && p.last?.success === true);
    }, 15_000, 200);
    await withPage(async (page) => {
      await page.goto(`${base}/probes`);
      const row = page.locator(`${$('probe-row')}[data-state="up"]`, { hasText: 'e2e-self' });
      await row.waitFor({ timeout: 10_000 });
      assert.match(await row.textContent(), new RegExp(`127\\.0\\.0\\.1:${vitals.port}/-/healthy`));
      await screenshot(page, 'probes');

      await page.goto(`${base}/status`);
      await page.locator($('page-status')).waitFor();
      await page.locator(`${$('probe-row')}[data-state="up"]`).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator($('nav')).count(), 0, '/status has a nav bar');
      assert.equal(await page.locator($('status-banner')).textContent(), 'All systems operational');
      // The public page does not show targets.
      assert.doesNotMatch(await page.locator($('page-status')).textContent(), /healthy/);
      await screenshot(page, 'status');
    });
  });

  test('live: a sample imported while Explore is open shows up within 2 s without a reload', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/explore?expr=${LIVE}&range=1h`);
      await page.evaluate(() => ((window).__e2eSamePage = true));
      const sel = `${$('page-explore')} ${$('chart')}`;
      const chart = page.locator(sel);
      await chart.waitFor();
      await page
        .waitForFunction((s) => document.querySelector(s)?.dataset.live === '1' && !!document.querySelector(s)?.dataset.lastPushMs, sel, { timeout: 5_000 })
        .catch(() => {
          throw new Error(
            'the Explore chart never got data-live="1" and data-last-push-ms: the UI served does not have live updates ' +
              '(the binary embeds an older UI: rebuild it, or run with VITALS_E2E_UI=dist to test ui/dist)',
          );
        });
      const before = Number(await chart.getAttribute('data-points'));
      const t0 = Date.now();
      await vitals.importText(`${LIVE}{source="e2e"} 777 ${t0}\n`);
      const answered = Date.now();
      const shown = await page
        .waitForFunction(
          ([s, n]) => {
            const el = document.querySelector(s);
            const v = [...document.querySelectorAll('.legend-value')].map((e) => e.textContent);
            return el && Number(el.dataset.points) > n && v.includes('777') ? { points: Number(el.dataset.points), push: Number(el.dataset.lastPushMs) } : null;
          },
          [sel, before],
          { timeout: 2_000, polling: 10 },
        )
        .then((h) => h.jsonValue())
        .catch(async () => {
          throw new Error(
            `no new point within 2 s: data-points ${before} → ${await chart.getAttribute('data-points')}, ` +
              `legend ${JSON.stringify(await page.locator('.legend-value').allTextContents())}`,
          );
        });
      const drawn = Date.now();
      assert.ok(shown.points > before);
      assert.ok(shown.push >= t0, `data-last-push-ms ${shown.push} is before the import (${t0})`);
      assert.equal(await page.evaluate(() => (window).__e2eSamePage === true), true, 'the page reloaded');
      console.log(
        `live: import answered in ${answered - t0} ms; new point on screen ${drawn - t0} ms after the import started ` +
          `(its commit at +${shown.push - t0} ms); data-points ${before} → ${shown.points}`,
      );
      await screenshot(page, 'explore-live');
    });
  });
});
