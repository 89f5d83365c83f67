// End-to-end tests of dashboards (list, view, the JSON editor, every panel type) and of the
// load-test comparison, in chromium against the real binary with imported data. Run: npm run e2e
// (VITALS_E2E_UI=dist to test this checkout's ui/dist; see harness.mjs).

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { screenshot, startStack, until } from './harness.mjs';
import { withPage as harnessWithPage } from './harness.mjs';

/** A 400 (a refused save) is logged by the browser as a failed resource load. */
const BAD_REQUEST = /Failed to load resource: the server responded with a status of 400/;
const $ = (id) => `[data-testid="${id}"]`;

let vitals = null;
let browser = null;
let base = '';

/** Histogram buckets of `e2e_latency_seconds` and what each bucket alone gets per sample. */
const BUCKETS = [
  ['0.05', 5],
  ['0.1', 10],
  ['0.25', 20],
  ['0.5', 8],
  ['1', 3],
  ['+Inf', 1],
];
const QUEUES = { mail: 3, jobs: 12, video: 7 };
/** The two load-test runs: base (60 s, ending 8 min ago) and cand (60 s, ending 2 min ago), cand slower. */
const RUNS = [
  { run: 'base', endAgoS: 480, rps: 100, p: [0.02, 0.04, 0.05, 0.08, 0.2] },
  { run: 'cand', endAgoS: 120, rps: 80, p: [0.032, 0.064, 0.08, 0.128, 0.32] },
];

function lines(now) {
  const out = [];
  // 30 minutes of histogram counters, every 15 s.
  for (let i = 0; i <= 120; i++) {
    const t = now - (120 - i) * 15_000;
    let cum = 0;
    for (const [le, n] of BUCKETS) {
      cum += n * i;
      out.push(`e2e_latency_seconds_bucket{job="e2e",le="${le}"} ${cum} ${t}`);
    }
    out.push(`e2e_gauge_percent{job="e2e"} 72 ${t}`);
    for (const [queue, v] of Object.entries(QUEUES)) out.push(`e2e_queue_depth{job="e2e",queue="${queue}"} ${v} ${t}`);
  }
  // A server-side request counter over the last 10 minutes (what the load page draws beside a run).
  for (let i = 0; i <= 120; i++) out.push(`e2e_http_request_duration_seconds_count{job="e2e",handler="/x"} ${i * 500} ${now - (120 - i) * 5_000}`);
  // The load-test runs, one sample a second, as `vitals load --push` sends them.
  for (const r of RUNS) {
    const start = now - r.endAgoS * 1000 - 59_000;
    const labels = `job="vitals_load",run="${r.run}"`;
    for (let s = 0; s < 60; s++) {
      const t = start + s * 1000;
      out.push(`vitals_load_requests_total{${labels}} ${(s + 1) * r.rps} ${t}`);
      out.push(`vitals_load_errors_total{${labels}} 0 ${t}`);
      out.push(`vitals_load_bytes_received_total{${labels}} ${(s + 1) * r.rps * 512} ${t}`);
      out.push(`vitals_load_requests_per_second{${labels}} ${r.rps} ${t}`);
      out.push(`vitals_load_target{${labels}} 100 ${t}`);
      ['0.5', '0.9', '0.95', '0.99', '1'].forEach((q, k) => out.push(`vitals_load_latency_seconds{${labels},quantile="${q}"} ${r.p[k]} ${t}`));
    }
  }
  return out.join('\n') + '\n';
}

let stack = null;
before(async () => {
  stack = await startStack(async (v) => {
    await v.importText(lines(Date.now()));
    // A broken dashboard file in the default folder (dashboards/ in the storage folder).
    const dir = path.join(v.dir, 'data', 'dashboards');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'broken.yaml'), 'title: Broken\npanels:\n  - title: [unclosed\n');
  });
  ({ vitals, browser, base } = stack);
}, { timeout: 60_000 });

after(async () => {
  await stack?.stop();
}, { timeout: 30_000 });

/** Opens a page, runs `f(page)`, then checks that the browser logged no errors (harness.withPage). */
const withPage = (f, allow = []) => harnessWithPage(browser.context, f, allow);

const DASH_ID = 'e2e-dash';
const PANELS = [
  { title: 'Queue fill', type: 'gauge', expr: 'max(e2e_gauge_percent{job=~"$job"})', unit: 'percent', min: 0, max: 100, thresholds: [50, 90] },
  { title: 'Queues', type: 'table', expr: 'e2e_queue_depth{job=~"$job"}' },
  { title: 'Queue depth', type: 'bar', expr: 'sum by (queue) (e2e_queue_depth{job=~"$job"})', thresholds: [10] },
  { title: 'Latency buckets', type: 'heatmap', expr: 'sum by (le) (rate(e2e_latency_seconds_bucket{job=~"$job"}[1m]))', unit: 'seconds', wide: true },
];
const DASHBOARD = {
  title: 'E2E dashboard',
  description: 'made by the e2e test',
  tags: ['e2e'],
  variables: [{ name: 'job', label: 'job', default: 'e2e' }],
  panels: PANELS,
};

describe('dashboards and load comparison in chromium', { timeout: 120_000 }, () => {
  test('the list shows the built-ins first and a broken file with its error', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/dashboards`);
      await page.locator($('dashboard-list')).waitFor({ timeout: 10_000 }).catch(() => {
        throw new Error('no dashboard list: the UI served predates it (rebuild the binary, or run with VITALS_E2E_UI=dist)');
      });
      const ids = await page.locator($('dashboard-row')).evaluateAll((rows) => rows.map((r) => [r.dataset.id, r.dataset.source]));
      assert.deepEqual(ids.slice(0, 2), [['host', 'builtin'], ['api', 'builtin']]);
      const broken = page.locator(`${$('dashboard-row')}[data-id="broken"]`);
      assert.match(await broken.locator($('dashboard-row-error')).textContent(), /broken\.yaml:\d+/);
      await screenshot(page, 'dashboards-list');
      // The host dashboard opens from the list.
      await page.locator(`${$('dashboard-row')}[data-id="host"] ${$('dashboard-link')}`).click();
      await page.waitForURL(/\/dashboards\/host/);
      await until('host panels', async () => (await page.locator($('panel')).count()) === 10, 5_000);
      const types = await page.locator($('panel')).evaluateAll((ps) => ps.map((p) => p.dataset.panelType));
      assert.deepEqual([...new Set(types)].sort(), ['stat', 'timeseries']);
      assert.equal(await page.locator('h1').textContent(), 'Host');
      const jobs = await page.locator($('dashboard-var-job')).evaluate((s) => [...s.options].map((o) => o.value));
      for (const j of ['e2e', 'vitals', 'vitals_load', '__all__']) assert.ok(jobs.includes(j), `no ${j} in ${jobs}`);
      await page.waitForTimeout(500);
      await screenshot(page, 'dashboard-host');
    });
  });

  test('a new dashboard is made in the editor: the server error shows, then it is saved, drawn and deleted', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/dashboards`);
      await page.locator($('dashboard-new')).click();
      await page.waitForURL(/\/dashboards\?new=1/);
      const editor = page.locator($('dashboard-editor'));
      await editor.waitFor();
      assert.equal(await page.locator($('dashboard-save')).isDisabled(), true, 'Save is enabled for a dashboard without an id');
      // A syntax error is caught here.
      await editor.fill('{"title": "x", "panels": [}');
      await page.locator($('dashboard-saveas-id')).fill(DASH_ID);
      await page.locator($('dashboard-saveas')).click();
      const err = page.locator($('dashboard-error'));
      await page.locator(`${$('dashboard-error')}[data-kind="json"]`).waitFor({ timeout: 3_000 });
      assert.match(await err.textContent(), /^invalid JSON at line 1 column 27/);
      await screenshot(page, 'dashboard-editor-json-error');
      // A bad expression: the server's error, next to the editor.
      const bad = { ...DASHBOARD, panels: [...PANELS.slice(0, 3), { ...PANELS[3], expr: 'sum by (le) (rate(e2e_latency_seconds_bucket[1m])' }] };
      await editor.fill(JSON.stringify(bad, null, 2));
      await page.locator($('dashboard-saveas')).click();
      await page.locator(`${$('dashboard-error')}[data-kind="server"]`).waitFor({ timeout: 5_000 });
      assert.match(await err.textContent(), /^bad_data: panels\[3\]\.expr: /);
      assert.equal((await vitals.fetch(`/api/v1/dashboards/${DASH_ID}`)).status, 404, 'the refused dashboard was saved');
      await screenshot(page, 'dashboard-editor-error');

      // The good one: saved, then shown at /dashboards/<id>.
      await editor.fill(JSON.stringify(DASHBOARD, null, 2));
      await page.locator($('dashboard-apply')).click();
      await until('the preview', async () => (await page.locator($('panel')).count()) === 4, 5_000);
      await page.waitForTimeout(300);
      await screenshot(page, 'dashboard-editor-preview');
      await page.locator($('dashboard-saveas')).click();
      await page.waitForURL(new RegExp(`/dashboards/${DASH_ID}`), { timeout: 5_000 });
      const saved = await vitals.json(`/api/v1/dashboards/${DASH_ID}`);
      assert.deepEqual({ ...saved, id: undefined, source: undefined, readonly: undefined }, { ...DASHBOARD, id: undefined, source: undefined, readonly: undefined });
      assert.equal(saved.source, 'file');
      assert.equal(saved.readonly, false);

      // After a reload: every panel drawn with its type; the heatmap has the buckets.
      await page.reload();
      const panel = (type) => page.locator(`${$('panel')}[data-panel-type="${type}"]`);
      await panel('heatmap').waitFor({ timeout: 10_000 });
      assert.deepEqual(await page.locator($('panel')).evaluateAll((ps) => ps.map((p) => p.dataset.panelType)), ['gauge', 'table', 'bar', 'heatmap']);
      assert.equal(await page.locator($('dashboard-var-job')).inputValue(), 'e2e');
      const hm = panel('heatmap').locator($('heatmap'));
      await until('heatmap buckets', async () => (await hm.getAttribute('data-buckets')) === String(BUCKETS.length), 8_000);
      const steps = Number(await hm.getAttribute('data-steps'));
      assert.ok(steps > 50, `only ${steps} heatmap steps`);
      await until('the gauge value', async () => (await panel('gauge').locator($('gauge')).getAttribute('data-value')) === '72', 5_000);
      assert.equal(await panel('gauge').locator($('gauge')).getAttribute('data-level'), '1');
      await until('3 table rows', async () => (await panel('table').locator($('table-row')).count()) === 3, 5_000);
      await until('3 bars', async () => (await panel('bar').locator($('bar-row')).count()) === 3, 5_000);
      assert.equal(await panel('bar').locator($('bars')).getAttribute('data-series'), '3');
      await page.waitForTimeout(300);
      await screenshot(page, 'dashboard-created');

      // Edit: a bad expression through Save shows the server's error; the file is unchanged.
      await page.locator($('dashboard-edit')).click();
      await editor.waitFor();
      const text = await editor.inputValue();
      await editor.fill(text.replace('max(e2e_gauge_percent{job=~\\"$job\\"})', 'max(e2e_gauge_percent{job=~\\"$nope\\"})'));
      await page.locator($('dashboard-save')).click();
      await page.locator(`${$('dashboard-error')}[data-kind="server"]`).waitFor({ timeout: 5_000 });
      assert.match(await err.textContent(), /^bad_data: panels\[0\]\.expr: \$nope is not a variable/);
      assert.deepEqual((await vitals.json(`/api/v1/dashboards/${DASH_ID}`)).panels, PANELS);
      await screenshot(page, 'dashboard-edit-error');

      // Delete (after confirming): gone from the API and the list.
      page.once('dialog', (d) => d.accept());
      await page.locator($('dashboard-delete')).click();
      await page.waitForURL(/\/dashboards$/, { timeout: 5_000 });
      await page.locator($('dashboard-list')).waitFor();
      assert.equal(await page.locator(`${$('dashboard-row')}[data-id="${DASH_ID}"]`).count(), 0);
      assert.equal((await vitals.fetch(`/api/v1/dashboards/${DASH_ID}`)).status, 404);
    }, [BAD_REQUEST]);
  });

  test('load: a run beside a server metric, compared with a baseline run', async () => {
    await withPage(async (page) => {
      await page.goto(`${base}/load`);
      const rows = page.locator($('load-run-row'));
      await until('both runs listed', async () => (await rows.count()) === 2, 10_000);
      assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => r.dataset.run)), ['cand', 'base']);
      // The latest run is shown; choose the other as its baseline.
      await page.locator($('load-baseline')).selectOption('base');
      const table = page.locator(`${$('load-compare')}[data-baseline="base"]`);
      await table.waitFor({ timeout: 5_000 });
      assert.equal(await table.getAttribute('data-run'), 'cand');
      assert.equal(await page.locator($('load-compare-run')).textContent(), 'cand');
      assert.equal(await page.locator($('load-compare-baseline')).textContent(), 'base (baseline)');
      const got = await page.locator($('load-compare-row')).evaluateAll((rs) =>
        rs.map((r) => [r.dataset.key, r.dataset.verdict, r.querySelector('[data-testid="load-compare-change"]')?.textContent]),
      );
      assert.deepEqual(got, [
        ['p50', 'worse', '+60%'],
        ['p90', 'worse', '+60%'],
        ['p95', 'worse', '+60%'],
        ['p99', 'worse', '+60%'],
        ['max', 'worse', '+60%'],
        ['rps', 'worse', '−20%'],
      ]);
      assert.match(page.url(), /baseline=base/);
      // The latency chart: 4 quantiles and the baseline's p95; the server metric over the same range.
      const latency = page.locator(`${$('load-latency')} ${$('chart')}`);
      await until('latency series', async () => (await latency.getAttribute('data-series')) === '5', 5_000);
      const server = page.locator(`${$('load-server')} ${$('chart')}`);
      await until('the server metric', async () => Number(await server.getAttribute('data-points')) > 0, 5_000);
      assert.equal(await server.getAttribute('data-series'), '1');
      await page.waitForTimeout(300);
      await screenshot(page, 'load-compare');
    });
  });
});
