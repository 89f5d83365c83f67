// @vitest-environment jsdom
// The pages mounted in a DOM against a stubbed fetch (uPlot is replaced: jsdom has no canvas).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('uplot', () => ({
  default: class {
    width = 600;
    height = 200;
    cursor = { idx: null };
    constructor(_opts: unknown, _data: unknown, el: HTMLElement) {
      const g = globalThis as { __uplots?: number };
      g.__uplots = (g.__uplots ?? 0) + 1;
      el.appendChild(document.createElement('canvas'));
    }
    setData() {}
    setSize() {}
    setSeries() {}
    setScale() {}
    destroy() {}
  },
}));

import { Scope } from './dom';
import { resetLiveFailures } from './live';
import type { PageContext } from './page';
import { alertsPage } from './pages/alerts';
import { dashboardsPage } from './pages/dashboards';
import { explorePage } from './pages/explore';
import { loadPage } from './pages/load';
import { overviewPage } from './pages/overview';
import { statusPage } from './pages/probes';
import { targetsPage } from './pages/targets';

type Handler = (url: URL, init?: RequestInit) => { status?: number; body: unknown } | undefined;

let calls: Array<{ url: URL; init?: RequestInit }> = [];
function stubFetch(handler: Handler) {
  calls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (u: string, init?: RequestInit) => {
      const url = new URL(u, 'http://vitals.test');
      calls.push({ url, init });
      const r = handler(url, init) ?? { status: 404, body: 'not found' };
      const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      return new Response(body, { status: r.status ?? 200 });
    }),
  );
}
const ok = (data: unknown) => ({ body: { status: 'success', data } });

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

let scope: Scope;
let setUrl: ReturnType<typeof vi.fn<PageContext['setUrl']>>;
function mount(page: (root: HTMLElement, ctx: PageContext) => void, path: string): HTMLElement {
  const root = document.createElement('main');
  document.body.replaceChildren(root);
  scope = new Scope();
  setUrl = vi.fn<PageContext['setUrl']>();
  page(root, { url: new URL(path, 'http://vitals.test'), scope, navigate: vi.fn(), setUrl });
  return root;
}
const $ = (root: ParentNode, id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const $$ = (root: ParentNode, id: string) => [...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];

beforeEach(() => {
  vi.stubGlobal('ResizeObserver', undefined);
  // jsdom has no canvas (heatmaps skip drawing without a context).
  HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement['getContext'];
});
afterEach(() => {
  scope?.dispose();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  resetLiveFailures();
  FakeEventSource.all = [];
});

/** A stand-in for the browser's EventSource, driven by the test. */
class FakeEventSource {
  static all: FakeEventSource[] = [];
  listeners = new Map<string, Array<(e: MessageEvent) => void>>();
  closed = false;
  constructor(public url: string) {
    FakeEventSource.all.push(this);
  }
  get queries(): string[] {
    return new URL(this.url, 'http://vitals.test').searchParams.getAll('query');
  }
  addEventListener(type: string, l: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data?: unknown) {
    for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data) } as MessageEvent);
  }
  /** Sends one result event for query `index` with a vector answer. */
  push(index: number, commitMs: number, samples: Array<[Record<string, string>, string]>, tMs = commitMs + 2) {
    this.emit('result', {
      index,
      initial: false,
      commit_ms: commitMs,
      t: tMs,
      response: { status: 'success', data: { resultType: 'vector', result: samples.map(([metric, v]) => ({ metric, value: [tMs / 1000, v] })) } },
    });
  }
}
const open = () => FakeEventSource.all.filter((s) => !s.closed);
const frame = () => new Promise((r) => setTimeout(r, 40));

describe('explore page', () => {
  it('runs the query from the URL and draws one series per result', async () => {
    stubFetch((url) => {
      if (url.pathname === '/api/v1/query_range') {
        return ok({
          resultType: 'matrix',
          result: [
            { metric: { job: 'a' }, values: [[10, '1'], [20, '2']] },
            { metric: { job: 'b' }, values: [[20, '3'], [30, '4']] },
          ],
        });
      }
      return undefined;
    });
    const root = mount(explorePage, '/explore?expr=up&range=1h&step=10s');
    await flush();
    const q = calls.find((c) => c.url.pathname === '/api/v1/query_range')!;
    expect(q.url.searchParams.get('query')).toBe('up');
    expect(q.url.searchParams.get('step')).toBe('10');
    expect(Number(q.url.searchParams.get('end')) - Number(q.url.searchParams.get('start'))).toBe(3600);
    const chart = $(root, 'chart')!;
    expect(chart.dataset.series).toBe('2');
    expect(chart.dataset.points).toBe('3');
    expect($$(root, 'legend-item').map((e) => e.querySelector('.legend-name')!.textContent)).toEqual(['{job="a"}', '{job="b"}']);
    expect($(root, 'explore-error')).toBeNull();
  });

  it('shows the API error under the editor as errorType: error', async () => {
    stubFetch(() => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error: unexpected end of input' } }));
    const root = mount(explorePage, '/explore?expr=sum(');
    await flush();
    expect($(root, 'explore-error')!.textContent).toBe('bad_data: parse error: unexpected end of input');
    expect($(root, 'chart')!.dataset.series).toBe('0');
  });

  it('updates the URL when a query runs from the button', async () => {
    stubFetch(() => ok({ resultType: 'matrix', result: [] }));
    const root = mount(explorePage, '/explore');
    const input = $(root, 'explore-input') as HTMLTextAreaElement;
    input.value = 'rate(x[5m])';
    ($(root, 'explore-range') as HTMLSelectElement).value = '6h';
    $(root, 'explore-run')!.click();
    await flush();
    expect(setUrl).toHaveBeenLastCalledWith('/explore?expr=rate%28x%5B5m%5D%29&range=6h', false);
  });

  it('shows the table view with an instant query', async () => {
    stubFetch((url) =>
      url.pathname === '/api/v1/query' ? ok({ resultType: 'vector', result: [{ metric: { __name__: 'up', job: 'a' }, value: [1, '1'] }] }) : undefined,
    );
    const root = mount(explorePage, '/explore?expr=up&tab=table');
    await flush();
    expect($$(root, 'table-row').map((r) => r.textContent)).toEqual(['up{job="a"}1']);
  });

  it('autocompletes label names after `{` and values after `="`', async () => {
    stubFetch((url) => {
      if (url.pathname === '/api/v1/labels') return ok(['__name__', 'instance', 'job']);
      if (url.pathname === '/api/v1/label/job/values') return ok(['node', 'vitals']);
      return undefined;
    });
    const root = mount(explorePage, '/explore');
    const input = $(root, 'explore-input') as HTMLTextAreaElement;
    input.value = 'up{';
    input.setSelectionRange(3, 3);
    input.dispatchEvent(new Event('input'));
    await flush();
    const labelCall = calls.find((c) => c.url.pathname === '/api/v1/labels')!;
    expect(labelCall.url.searchParams.getAll('match[]')).toEqual(['up']);
    expect($$(root, 'completion-item').map((e) => e.textContent)).toEqual(['l__name__', 'linstance', 'ljob']);
    // Choose "job" with the keyboard.
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(input.value).toBe('up{job=""');
    await flush();
    expect($$(root, 'completion-item').map((e) => e.textContent)).toEqual(['vnode', 'vvitals']);
    const valueCall = calls.find((c) => c.url.pathname === '/api/v1/label/job/values')!;
    expect(valueCall.url.searchParams.getAll('match[]')).toEqual(['up']);
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Tab' }));
    expect(input.value).toBe('up{job="node"');
  });
});

describe('live charts', () => {
  const nowS = () => Math.floor(Date.now() / 1000);
  const rangeAnswer = (n: number) => {
    const end = nowS();
    return ok({
      resultType: 'matrix',
      result: ['a', 'b'].map((h) => ({ metric: { handler: h }, values: Array.from({ length: n }, (_, i): [number, string] => [end - (n - 1 - i) * 15, String(i)]) })),
    });
  };

  it('explore subscribes after the range query and appends pushed points', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => (url.pathname === '/api/v1/query_range' ? rangeAnswer(4) : undefined));
    const root = mount(explorePage, '/explore?expr=sum%20by%20(handler)(x)&range=1h');
    await flush();
    const chart = $(root, 'chart')!;
    expect(chart.dataset.points).toBe('4');
    expect(chart.dataset.live).toBe('1');
    expect(open().map((s) => s.queries)).toEqual([['sum by (handler)(x)']]);
    expect($(root, 'explore-live')!.textContent).toContain('live');

    const plots = (globalThis as { __uplots?: number }).__uplots ?? 0;
    const t = Date.now() + 5000;
    open()[0].push(0, t, [[{ handler: 'a' }, '10'], [{ handler: 'b' }, '20']]);
    await frame();
    // The same series: the plot is kept (setData), not made again.
    expect((globalThis as { __uplots?: number }).__uplots).toBe(plots);
    expect(chart.dataset.points).toBe('5');
    expect(chart.dataset.series).toBe('2');
    expect(chart.dataset.lastPushMs).toBe(String(t));
    expect($$(root, 'legend-item').map((e) => e.querySelector('.legend-value')!.textContent)).toEqual(['10', '20']);

    // A new label set becomes a new series.
    open()[0].push(0, t + 2000, [[{ handler: 'c' }, '30']]);
    await frame();
    expect(chart.dataset.series).toBe('3');
    expect(chart.dataset.points).toBe('6');
  });

  it('explore closes the stream when the query is run again and when the page is left', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => (url.pathname === '/api/v1/query_range' ? rangeAnswer(2) : undefined));
    const root = mount(explorePage, '/explore?expr=x&range=1h');
    await flush();
    const first = open()[0];
    expect(first).toBeDefined();
    ($(root, 'explore-input') as HTMLTextAreaElement).value = 'y';
    $(root, 'explore-run')!.click();
    await flush();
    expect(first.closed).toBe(true);
    expect(open().map((s) => s.queries)).toEqual([['y']]);
    scope.dispose();
    expect(open()).toEqual([]);
  });

  it('explore does not follow a range with an explicit end', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => (url.pathname === '/api/v1/query_range' ? rangeAnswer(2) : undefined));
    const root = mount(explorePage, '/explore?expr=x&range=1h&end=1700000000');
    await flush();
    expect(FakeEventSource.all).toEqual([]);
    expect($(root, 'chart')!.dataset.live).toBeUndefined();
  });

  it('explore falls back to polling every 10 s when the stream fails', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => (url.pathname === '/api/v1/query_range' ? rangeAnswer(3) : undefined));
    const root = mount(explorePage, '/explore?expr=x&range=1h');
    await flush();
    open()[0].emit('error');
    const chart = $(root, 'chart')!;
    expect(chart.dataset.live).toBeUndefined();
    expect(open()).toEqual([]);
    expect($(root, 'explore-live')!.textContent).toContain('refresh 10 s');
    const before = calls.filter((c) => c.url.pathname === '/api/v1/query_range').length;
    vi.advanceTimersByTime(10_000);
    await flush();
    expect(calls.filter((c) => c.url.pathname === '/api/v1/query_range').length).toBe(before + 1);
    // Live was tried a moment ago: it stays on polling.
    expect(open()).toEqual([]);
  });

  it('the overview host cards follow the stream', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => {
      if (url.pathname === '/api/v1/query') return ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '40'] }] });
      if (url.pathname === '/api/v1/query_range') return ok({ resultType: 'matrix', result: [{ metric: {}, values: [[nowS() - 30, '1'], [nowS(), '2']] }] });
      if (url.pathname === '/api/v1/targets') return ok({ activeTargets: [] });
      return undefined;
    });
    const root = mount(overviewPage, '/');
    await flush();
    expect(open().length).toBe(1);
    expect(open()[0].queries.length).toBe(3);
    const cpuChart = $($(root, 'card-cpu')!, 'chart')!;
    expect(cpuChart.dataset.live).toBe('1');
    open()[0].push(0, Date.now() + 3000, [[{}, '55.5']]);
    open()[0].push(2, Date.now() + 3000, [[{}, '77']]);
    await frame();
    expect($(root, 'card-cpu-value')!.textContent).toBe('55.5%');
    expect($(root, 'card-disk-value')!.textContent).toBe('77%');
    expect(cpuChart.dataset.points).toBe('3');
  });

  it('dashboard panels follow the stream and restart it for another job', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => {
      if (url.pathname === '/api/v1/label/job/values') return ok(['node', 'other']);
      if (url.pathname === '/api/v1/query') return ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }] });
      if (url.pathname === '/api/v1/query_range') return ok({ resultType: 'matrix', result: [{ metric: { mode: 'user' }, values: [[nowS(), '2']] }] });
      return undefined;
    });
    const root = mount(dashboardsPage, '/dashboards?d=host');
    await flush();
    const panels = $$(root, 'panel');
    expect(open().length).toBe(1);
    const qs = open()[0].queries;
    expect(qs.length).toBe(panels.length);
    expect(qs[0]).toContain('job=~"node"');
    const statIdx = panels.findIndex((p) => p.dataset.type === 'stat');
    const tsIdx = panels.findIndex((p) => p.dataset.type === 'timeseries');
    open()[0].push(statIdx, Date.now() + 1000, [[{}, '12']]);
    open()[0].push(tsIdx, Date.now() + 1000, [[{ mode: 'user' }, '3']]);
    await frame();
    expect($(panels[statIdx], 'stat-value')!.textContent).toBe('12%');
    const chart = $(panels[tsIdx], 'chart')!;
    expect(chart.dataset.live).toBe('1');
    expect(chart.dataset.points).toBe('2');
    const first = open()[0];
    const sel = $(root, 'dashboard-var-job') as HTMLSelectElement;
    sel.value = 'other';
    sel.dispatchEvent(new Event('change'));
    await flush();
    expect(first.closed).toBe(true);
    expect(open().length).toBe(1);
    expect(open()[0].queries[0]).toContain('job=~"other"');
  });
});

describe('overview page', () => {
  it('shows "no data" in every card when the API fails, without breaking', async () => {
    stubFetch(() => ({ status: 500, body: { status: 'error', errorType: 'internal', error: 'down' } }));
    const root = mount(overviewPage, '/');
    await flush();
    for (const id of ['card-targets', 'card-alerts', 'card-slos', 'card-cpu', 'card-memory', 'card-disk']) {
      expect($(root, id), id).not.toBeNull();
      expect($(root, `${id}-value`)!.textContent, id).toBe('no data');
    }
    expect($(root, 'slowest-table')!.textContent).toContain('no data');
    expect($(root, 'errors-table')!.textContent).toContain('no data');
  });

  it('fills the cards from the API', async () => {
    stubFetch((url) => {
      const q = url.searchParams.get('query') ?? '';
      switch (url.pathname) {
        case '/api/v1/targets':
          return ok({ activeTargets: [{ health: 'up' }, { health: 'up' }, { health: 'down' }] });
        case '/api/v1/alerts':
          return ok({ alerts: [{ labels: { alertname: 'X' }, annotations: {}, state: 'firing' }] });
        case '/api/v1/slos':
          return ok({ slos: [{ name: 's', objective: 0.99, errorBudgetRemaining: 0.5 }] });
        case '/api/v1/query':
          if (q.startsWith('topk')) return ok({ resultType: 'vector', result: [] });
          return ok({ resultType: 'vector', result: [{ metric: {}, value: [1, q.includes('node_cpu') ? '12.5' : '40'] }] });
        case '/api/v1/query_range':
          return ok({ resultType: 'matrix', result: [{ metric: {}, values: [[1, '1'], [2, '2']] }] });
      }
      return undefined;
    });
    const root = mount(overviewPage, '/');
    await flush();
    expect($(root, 'card-targets-value')!.textContent).toBe('2 up · 1 down');
    expect($(root, 'card-alerts-value')!.textContent).toBe('1 firing');
    expect($(root, 'card-cpu-value')!.textContent).toBe('12.5%');
    expect($(root, 'card-memory-value')!.textContent).toBe('40%');
    expect($(root, 'card-slos-value')!.textContent).toBe('50% left');
    expect($(root, 'card-cpu')!.querySelector('[data-testid="chart"]')!.getAttribute('data-points')).toBe('2');
    // No HTTP metrics: both tables say so.
    expect($(root, 'slowest-table')!.textContent).toContain('no data');
    expect($(root, 'errors-table')!.textContent).toContain('no data');
  });

  it('lists the slowest endpoints and the highest error ratios with a sparkline per row', async () => {
    const vec = (rows: Array<[string, string, string]>) =>
      ok({ resultType: 'vector', result: rows.map(([job, handler, v]) => ({ metric: { job, handler }, value: [1, v] })) });
    const series = (job: string, handler: string, n: number) => ({ metric: { job, handler }, values: Array.from({ length: n }, (_, i) => [1000 + 60 * i, '0.5']) });
    stubFetch((url) => {
      const q = url.searchParams.get('query') ?? '';
      const slow = q.includes('histogram_quantile');
      const errors = q.includes('_requests_total');
      if (url.pathname === '/api/v1/query' && q.startsWith('topk')) {
        if (slow) return vec([['api', '/fast', '0.01'], ['api', '/slow', '1.5'], ['api', '/empty', 'NaN']]);
        if (errors) return vec([['api', '/a', '0.1'], ['web', '/w', '0.5'], ['api', '/b', '0.25']]);
      }
      if (url.pathname === '/api/v1/query_range' && (slow || errors)) {
        // All series of the rows' job and handler values; the page keeps the rows' own.
        return ok({
          resultType: 'matrix',
          result: slow
            ? [series('api', '/slow', 60), series('api', '/fast', 30), series('api', '/other', 10)]
            : [series('web', '/w', 60), series('api', '/a', 20), series('web', '/a', 5)],
        });
      }
      return { status: 500, body: { status: 'error', errorType: 'internal', error: 'not here' } };
    });
    const root = mount(overviewPage, '/');
    await flush();
    const slowRows = $$(root, 'slowest-row');
    expect(slowRows.map((r) => r.textContent)).toEqual(['api/slow1.5s', 'api/fast10ms']);
    expect(slowRows.map((r) => $(r, 'sparkline')!.dataset.points)).toEqual(['60', '30']);
    const errRows = $$(root, 'errors-row');
    expect(errRows.map((r) => [r.dataset.job, r.dataset.handler, r.textContent])).toEqual([
      ['web', '/w', 'web/w50%'],
      ['api', '/b', 'api/b25%no data'],
      ['api', '/a', 'api/a10%'],
    ]);
    // /b has no series in the range answer: its sparkline says "no data".
    expect(errRows.map((r) => $(r, 'sparkline')!.dataset.points)).toEqual(['60', '0', '20']);

    // One range query per table, restricted to the rows' labels.
    const ranges = calls.filter((c) => c.url.pathname === '/api/v1/query_range').map((c) => c.url.searchParams.get('query')!);
    const slowRange = ranges.filter((q) => q.includes('histogram_quantile'));
    const errRange = ranges.filter((q) => q.includes('_requests_total'));
    expect(slowRange.length).toBe(1);
    expect(errRange.length).toBe(1);
    expect(slowRange[0]).toContain('job=~"api",handler=~"/fast|/slow"}');
    expect(slowRange[0]).not.toContain('topk');
    expect(errRange[0]).toContain('job=~"api|web",handler=~"/a|/b|/w"}');
    const step = calls.find((c) => c.url.searchParams.get('query') === slowRange[0])!.url.searchParams;
    expect(Number(step.get('end')) - Number(step.get('start'))).toBe(3600);
    expect(step.get('step')).toBe('60');
    // Each handler links to Explore with its own expression.
    const href = new URL(slowRows[0].querySelector('a')!.href);
    expect(href.searchParams.get('expr')).toContain('job=~"api",handler=~"/slow"}');
  });
});

describe('alerts page', () => {
  it('lists alerts with silenced state and posts a silence prefilled from an alert', async () => {
    let posted: unknown = null;
    stubFetch((url, init) => {
      if (url.pathname === '/api/v1/alerts') {
        return ok({ alerts: [{ labels: { alertname: 'HighLatency', job: 'api' }, annotations: { summary: 'p95 high' }, state: 'firing', activeAt: new Date().toISOString(), value: '0.9' }] });
      }
      if (url.pathname === '/api/v2/alerts') return { body: [] };
      if (url.pathname === '/api/v2/silences' && init?.method === 'POST') {
        posted = JSON.parse(init.body as string);
        return { body: { silenceID: 'new-id' } };
      }
      if (url.pathname === '/api/v2/silences') {
        return {
          body: [{ id: 's1', matchers: [{ name: 'job', value: 'x', isRegex: false, isEqual: true }], startsAt: '2024-01-01T00:00:00Z', endsAt: '2999-01-01T00:00:00Z', createdBy: 'bob', comment: 'maint', status: { state: 'active' } }],
        };
      }
      if (url.pathname === '/api/v2/silence/s1' && init?.method === 'DELETE') return { body: '' };
      return undefined;
    });
    const root = mount(alertsPage, '/alerts');
    await flush();
    const rows = $$(root, 'alert-row');
    expect(rows.length).toBe(1);
    expect(rows[0].dataset.state).toBe('firing');
    expect($$(root, 'silence-row').map((r) => r.dataset.id)).toEqual(['s1']);

    $(rows[0], 'alert-silence')!.click();
    const form = $(root, 'silence-form') as HTMLFormElement;
    expect(form).not.toBeNull();
    expect($$(form, 'matcher-name').map((e) => (e as HTMLInputElement).value)).toEqual(['alertname', 'job']);
    expect(($(form, 'silence-duration') as HTMLInputElement).value).toBe('2h');
    // Without a comment the form refuses.
    ($(form, 'silence-createdby') as HTMLInputElement).value = 'alice';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    await flush();
    expect($(root, 'silence-error')!.textContent).toMatch(/comment/);
    expect(posted).toBeNull();
    ($(form, 'silence-comment') as HTMLTextAreaElement).value = 'looking into it';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    await flush();
    expect(posted).toMatchObject({
      matchers: [
        { name: 'alertname', value: 'HighLatency', isRegex: false, isEqual: true },
        { name: 'job', value: 'api', isRegex: false, isEqual: true },
      ],
      createdBy: 'alice',
      comment: 'looking into it',
    });
    const p = posted as { startsAt: string; endsAt: string };
    expect(Date.parse(p.endsAt) - Date.parse(p.startsAt)).toBe(2 * 3600 * 1000);
    expect($(root, 'silence-created')!.textContent).toContain('new-id');

    $(root, 'silence-expire')!.click();
    await flush();
    expect(calls.some((c) => c.url.pathname === '/api/v2/silence/s1' && c.init?.method === 'DELETE')).toBe(true);
  });
});

describe('targets and status pages', () => {
  it('groups targets by pool', async () => {
    stubFetch(() =>
      ok({
        activeTargets: [
          { labels: { job: 'node' }, scrapePool: 'node', scrapeUrl: 'http://a/metrics', health: 'up', lastError: '', lastScrape: new Date().toISOString(), lastScrapeDuration: 0.01 },
          { labels: { job: 'api' }, scrapePool: 'api', scrapeUrl: 'http://b/metrics', health: 'down', lastError: 'connection refused', lastScrape: new Date().toISOString(), lastScrapeDuration: 0.5 },
        ],
      }),
    );
    const root = mount(targetsPage, '/targets');
    await flush();
    expect($$(root, 'target-pool').map((e) => e.dataset.pool)).toEqual(['api', 'node']);
    expect($$(root, 'target-row').map((e) => e.dataset.health)).toEqual(['down', 'up']);
    expect($(root, 'target-error')!.textContent).toBe('connection refused');
  });

  it('renders the public status page without targets or causes', async () => {
    stubFetch(() =>
      ok({
        probes: [
          { check: 'web', target: 'https://secret.internal', module: 'http_2xx', last: { success: true, durationSeconds: 0.1, time: new Date().toISOString(), failure: '' }, uptime: { '24h': 100 }, incidents: [] },
          { check: 'db', target: '10.0.0.1:5432', module: 'tcp', last: { success: false, durationSeconds: 1, time: new Date().toISOString(), failure: 'refused' }, uptime: { '24h': 90 }, incidents: [{ start: new Date().toISOString(), end: null, cause: 'refused' }] },
        ],
      }),
    );
    const root = mount(statusPage, '/status');
    await flush();
    expect($(root, 'status-banner')!.textContent).toBe('1 of 2 checks down');
    expect($$(root, 'probe-row').map((e) => e.dataset.state)).toEqual(['up', 'down']);
    expect($$(root, 'probe-uptime').map((e) => e.querySelector('.uptime-main')!.textContent)).toEqual(['100%', '90%']);
    expect(root.textContent).not.toContain('secret.internal');
    expect(root.textContent).not.toContain('refused');
  });
});

describe('dashboards page', () => {
  const nowS = () => Math.floor(Date.now() / 1000);
  const HOST = {
    id: 'host',
    source: 'builtin',
    readonly: true,
    title: 'Host (from the API)',
    variables: [{ name: 'job', label: 'job', default: 'node' }],
    panels: [
      { title: 'CPU', type: 'stat', unit: 'percent', expr: 'cpu{job=~"$job"}' },
      { title: 'Load', type: 'timeseries', expr: 'load{job=~"$job"}' },
    ],
  };
  const MIXED = {
    id: 'mixed',
    source: 'file',
    readonly: false,
    title: 'Mixed',
    description: 'every panel type',
    variables: [{ name: 'env', query: 'up{job="x"}' }],
    panels: [
      { title: 'G', type: 'gauge', expr: 'g{env=~"$env"}', min: 0, max: 100, thresholds: [50, 80] },
      { title: 'T', type: 'table', expr: 't' },
      { title: 'B', type: 'bar', expr: 'b' },
      { title: 'H', type: 'heatmap', expr: 'sum by (le) (rate(h_bucket[5m]))' },
    ],
  };
  const api = (extra: Handler = () => undefined): Handler => (url, init) => {
    const r = extra(url, init);
    if (r) return r;
    if (url.pathname === '/api/v1/dashboards') {
      return ok([
        { id: 'host', title: 'Host', source: 'builtin', readonly: true },
        { id: 'api', title: 'API performance', source: 'builtin', readonly: true },
        { id: 'mixed', title: 'Mixed', source: 'file', readonly: false, file: '/d/mixed.json' },
        { id: 'broken', title: null, source: 'file', readonly: false, file: '/d/broken.yaml', error: '/d/broken.yaml:3: did not find expected key' },
      ]);
    }
    if (url.pathname === '/api/v1/dashboards/host') return ok(HOST);
    if (url.pathname === '/api/v1/dashboards/mixed') return ok(MIXED);
    if (url.pathname === '/api/v1/label/job/values') return ok(['node', 'other']);
    if (url.pathname === '/api/v1/query') {
      const q = url.searchParams.get('query')!;
      if (q.startsWith('up{')) return ok({ resultType: 'vector', result: [{ metric: { env: 'prod' }, value: [1, '1'] }, { metric: { env: 'dev' }, value: [1, '1'] }] });
      if (q.startsWith('g{')) return ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '90'] }] });
      if (q === 't' || q === 'b') {
        return ok({ resultType: 'vector', result: [{ metric: { __name__: 'x', a: '1' }, value: [1, '3'] }, { metric: { __name__: 'x', a: '2' }, value: [1, '6'] }] });
      }
      return ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '42'] }] });
    }
    if (url.pathname === '/api/v1/query_range') {
      const q = url.searchParams.get('query')!;
      if (q.includes('h_bucket')) {
        const t = nowS();
        const series = (le: string, vs: number[]) => ({ metric: { le }, values: vs.map((v, i) => [t - 20 + i * 10, String(v)]) });
        return ok({ resultType: 'matrix', result: [series('0.1', [1, 2, 3]), series('0.5', [4, 4, 5]), series('+Inf', [5, 6, 7])] });
      }
      return ok({ resultType: 'matrix', result: [{ metric: { i: 'a' }, values: [[nowS(), '2']] }] });
    }
    return undefined;
  };

  it('lists the dashboards of the API, a broken file with its error', async () => {
    stubFetch(api());
    const root = mount(dashboardsPage, '/dashboards');
    await flush();
    const rows = $$(root, 'dashboard-row');
    expect(rows.map((r) => r.dataset.id)).toEqual(['host', 'api', 'mixed', 'broken']);
    expect(rows.map((r) => r.dataset.source)).toEqual(['builtin', 'builtin', 'file', 'file']);
    expect($(rows[3], 'dashboard-row-error')!.textContent).toBe('/d/broken.yaml:3: did not find expected key');
    expect($(rows[2], 'dashboard-link')!.getAttribute('href')).toBe('/dashboards/mixed');
    expect($(root, 'dashboards-fallback')).toBeNull();
  });

  it('falls back to the TS-defined built-ins when the API is not there', async () => {
    stubFetch(() => ({ status: 404, body: 'not found' }));
    const root = mount(dashboardsPage, '/dashboards');
    await flush();
    expect($$(root, 'dashboard-row').map((r) => r.dataset.id)).toEqual(['host', 'api']);
    expect($(root, 'dashboards-fallback')).not.toBeNull();
  });

  it('draws a dashboard from the API, its variable from the label values and the URL', async () => {
    stubFetch(api());
    const root = mount(dashboardsPage, '/dashboards/host?var-job=other');
    await flush();
    expect(root.querySelector('h1')!.textContent).toBe('Host (from the API)');
    const panels = $$(root, 'panel');
    expect(panels.map((p) => p.dataset.panelType)).toEqual(['stat', 'timeseries']);
    const sel = $(root, 'dashboard-var-job') as HTMLSelectElement;
    expect(sel.value).toBe('other');
    expect([...sel.options].map((o) => o.textContent)).toEqual(['node', 'other', 'All']);
    const q = calls.filter((c) => c.url.pathname === '/api/v1/query').map((c) => c.url.searchParams.get('query'));
    expect(q).toContain('cpu{job=~"other"}');
    expect($(panels[0], 'stat-value')!.textContent).toBe('42%');
    // All is `.+`, and the URL keeps the choice.
    sel.value = '__all__';
    sel.dispatchEvent(new Event('change'));
    await flush();
    expect(setUrl).toHaveBeenLastCalledWith('/dashboards/host?var-job=__all__', true);
    expect(calls.some((c) => c.url.searchParams.get('query') === 'cpu{job=~".+"}')).toBe(true);
    // Built-ins are read-only: Save is disabled, Delete hidden.
    $(root, 'dashboard-edit')!.click();
    await flush();
    expect(($(root, 'dashboard-save') as HTMLButtonElement).disabled).toBe(true);
    expect($(root, 'dashboard-delete')!.hidden).toBe(true);
    expect(JSON.parse(($(root, 'dashboard-editor') as HTMLTextAreaElement).value).panels.length).toBe(2);
  });

  it('takes the older ?d=host&job= links', async () => {
    stubFetch(api());
    const root = mount(dashboardsPage, '/dashboards?d=host&job=node');
    await flush();
    expect(setUrl).toHaveBeenCalledWith('/dashboards/host?var-job=node', true);
    expect(($(root, 'dashboard-var-job') as HTMLSelectElement).value).toBe('node');
  });

  it('uses the TS definition of a built-in when the API is not there', async () => {
    stubFetch((url) => (url.pathname.startsWith('/api/v1/dashboards') ? { status: 404, body: 'not found' } : api()(url)));
    const root = mount(dashboardsPage, '/dashboards/api');
    await flush();
    expect(root.querySelector('h1')!.textContent).toBe('API performance');
    expect($$(root, 'panel').length).toBe(8);
    expect($(root, 'dashboards-fallback')).not.toBeNull();
  });

  it('draws gauge, table, bar and heatmap panels; a query variable takes its label from the answer', async () => {
    stubFetch(api());
    const root = mount(dashboardsPage, '/dashboards/mixed');
    await flush();
    const sel = $(root, 'dashboard-var-env') as HTMLSelectElement;
    expect([...sel.options].map((o) => o.value)).toEqual(['dev', 'prod', '__all__']);
    expect(sel.value).toBe('dev');
    const panels = $$(root, 'panel');
    expect(panels.map((p) => p.dataset.panelType)).toEqual(['gauge', 'table', 'bar', 'heatmap']);
    const gauge = $(panels[0], 'gauge')!;
    expect(gauge.dataset.value).toBe('90');
    expect(gauge.dataset.level).toBe('2');
    expect(gauge.dataset.color).toBe('#dc2626');
    expect($$(panels[1], 'table-row').map((r) => r.textContent)).toEqual(['x13', 'x26']);
    expect([...panels[1].querySelectorAll('th')].map((t) => t.textContent)).toEqual(['name', 'a', 'value']);
    expect($$(panels[2], 'bar-row').length).toBe(2);
    expect($(panels[2], 'bars')!.dataset.series).toBe('2');
    const hm = $(panels[3], 'heatmap')!;
    expect(hm.dataset.buckets).toBe('3');
    expect(hm.dataset.steps).toBe('3');
  });

  it('heatmap panels follow the live stream: a push updates the newest column or opens the next', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch(api());
    const root = mount(dashboardsPage, '/dashboards/mixed');
    await flush();
    const panel = $$(root, 'panel').find((p) => p.dataset.panelType === 'heatmap')!;
    const hm = $(panel, 'heatmap')!;
    expect(hm.dataset.steps).toBe('3');
    expect(open().length).toBe(1);
    const idx = open()[0].queries.findIndex((q) => q.includes('h_bucket'));
    expect(idx).toBeGreaterThanOrEqual(0);
    const now = Date.now();
    open()[0].push(idx, now, [[{ le: '0.1' }, '9'], [{ le: '+Inf' }, '12']], now + 60_000);
    await frame();
    expect(panel.dataset.live).toBe('1');
    expect(hm.dataset.steps).toBe('4');
    expect(panel.dataset.lastPushMs).toBe(String(now));
    // A second push at the same time updates that column instead of adding one.
    open()[0].push(idx, now + 1, [[{ le: '0.1' }, '10'], [{ le: '+Inf' }, '12']], now + 60_000);
    await frame();
    expect(hm.dataset.steps).toBe('4');
  });

  it('a heatmap whose range query failed is started again by the live pushes', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    stubFetch((url) => (url.pathname === '/api/v1/query_range' && url.searchParams.get('query')!.includes('h_bucket') ? { status: 503, body: { status: 'error', errorType: 'timeout', error: 'slow' } } : api()(url)));
    const root = mount(dashboardsPage, '/dashboards/mixed');
    await flush();
    const panel = $$(root, 'panel').find((p) => p.dataset.panelType === 'heatmap')!;
    const hm = $(panel, 'heatmap')!;
    expect(hm.dataset.steps).toBe('0');
    const idx = open()[0].queries.findIndex((q) => q.includes('h_bucket'));
    const now = Date.now();
    open()[0].push(idx, now, [[{ le: '0.1' }, '1'], [{ le: '+Inf' }, '2']]);
    await frame();
    expect(hm.dataset.steps).toBe('1');
    expect(hm.dataset.buckets).toBe('2');
  });

  it('edits: a JSON syntax error is shown at once, the server error next to the editor, Save as goes to the new id', async () => {
    let put: { url: URL; body: string } | null = null;
    stubFetch(
      api((url, init) => {
        if (init?.method === 'PUT') {
          put = { url, body: String(init.body) };
          const d = JSON.parse(String(init.body));
          if (d.panels.some((p: { expr: string }) => p.expr.includes('sum('))) {
            return { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'panels[0].expr: unexpected end of input' } };
          }
          return ok({ id: url.pathname.split('/').pop() });
        }
        return undefined;
      }),
    );
    const nav = vi.fn();
    const root = document.createElement('main');
    document.body.replaceChildren(root);
    scope = new Scope();
    setUrl = vi.fn<PageContext['setUrl']>();
    dashboardsPage(root, { url: new URL('/dashboards/mixed?edit=1', 'http://vitals.test'), scope, navigate: nav, setUrl });
    await flush();
    const ta = $(root, 'dashboard-editor') as HTMLTextAreaElement;
    expect($(root, 'dashboard-editor-panel')!.hidden).toBe(false);
    // A syntax error: shown without asking the server.
    ta.value = '{"title": "x", "panels": [}';
    $(root, 'dashboard-save')!.click();
    await flush();
    expect($(root, 'dashboard-error')!.dataset.kind).toBe('json');
    expect($(root, 'dashboard-error')!.textContent).toMatch(/^invalid JSON/);
    expect(put).toBeNull();
    // The server's error.
    ta.value = JSON.stringify({ title: 'x', panels: [{ title: 'a', type: 'stat', expr: 'sum(' }] });
    $(root, 'dashboard-save')!.click();
    await flush();
    expect(put!.url.pathname).toBe('/api/v1/dashboards/mixed');
    expect($(root, 'dashboard-error')!.dataset.kind).toBe('server');
    expect($(root, 'dashboard-error')!.textContent).toBe('bad_data: panels[0].expr: unexpected end of input');
    // Apply previews without saving.
    put = null;
    ta.value = JSON.stringify({ title: 'Preview', panels: [{ title: 'only', type: 'bar', expr: 'b' }] });
    $(root, 'dashboard-apply')!.click();
    await flush();
    expect(put).toBeNull();
    expect($$(root, 'panel').map((p) => p.dataset.title)).toEqual(['only']);
    // Quick edit of a panel changes the JSON.
    $(root, 'panel-edit')!.click();
    ($(root, 'quick-title') as HTMLInputElement).value = 'renamed';
    ($(root, 'quick-type') as HTMLSelectElement).value = 'table';
    $(root, 'quick-apply')!.click();
    await flush();
    expect(JSON.parse(ta.value).panels[0]).toEqual({ title: 'renamed', type: 'table', expr: 'b' });
    expect($$(root, 'panel').map((p) => p.dataset.panelType)).toEqual(['table']);
    // Save as: a bad id is refused here; a good one is saved and opened.
    ($(root, 'dashboard-saveas-id') as HTMLInputElement).value = 'no spaces';
    $(root, 'dashboard-saveas')!.click();
    await flush();
    expect($(root, 'dashboard-error')!.textContent).toMatch(/id must be/);
    ($(root, 'dashboard-saveas-id') as HTMLInputElement).value = 'copy-1';
    $(root, 'dashboard-saveas')!.click();
    await flush();
    expect(put!.url.pathname).toBe('/api/v1/dashboards/copy-1');
    expect(JSON.parse(put!.body).title).toBe('Preview');
    expect(nav).toHaveBeenCalledWith('/dashboards/copy-1');
  });

  it('deletes a file dashboard after confirming', async () => {
    let deleted = '';
    stubFetch(
      api((url, init) => {
        if (init?.method === 'DELETE') {
          deleted = url.pathname;
          return ok({ id: 'mixed' });
        }
        return undefined;
      }),
    );
    vi.stubGlobal('confirm', vi.fn(() => true));
    const nav = vi.fn();
    const root = document.createElement('main');
    document.body.replaceChildren(root);
    scope = new Scope();
    setUrl = vi.fn<PageContext['setUrl']>();
    dashboardsPage(root, { url: new URL('/dashboards/mixed', 'http://vitals.test'), scope, navigate: nav, setUrl });
    await flush();
    $(root, 'dashboard-edit')!.click();
    expect($(root, 'dashboard-delete')!.hidden).toBe(false);
    $(root, 'dashboard-delete')!.click();
    await flush();
    expect(deleted).toBe('/api/v1/dashboards/mixed');
    expect(nav).toHaveBeenCalledWith('/dashboards');
  });
});

describe('load page', () => {
  const T0 = 1_700_000_000;
  /** Raw samples (an instant query of a range selector) of two runs, 10 s each. */
  const answer = (q: string) => {
    const run = /run="([^"]+)"/.exec(q)?.[1];
    const base = run === 'base';
    const start = base ? T0 : T0 + 100;
    const secs = Array.from({ length: 10 }, (_, i) => start + i);
    if (q.startsWith('vitals_load_requests_total[')) {
      return ['base', 'new'].map((r, k) => ({ metric: { __name__: 'vitals_load_requests_total', run: r }, values: Array.from({ length: 10 }, (_, i) => [(k ? T0 + 100 : T0) + i, String(i * 100)]) }));
    }
    if (q.startsWith('vitals_load_latency_seconds{')) {
      return [['0.5', 0.01], ['0.9', 0.02], ['0.95', 0.03], ['0.99', 0.05], ['1', 0.1]].map(([quantile, v]) => ({
        metric: { quantile: String(quantile), run: run! },
        values: secs.map((t) => [t, String((v as number) * (base ? 1 : 1.5))]),
      }));
    }
    if (q.startsWith('vitals_load_requests_per_second{')) return [{ metric: { run: run! }, values: secs.map((t) => [t, base ? '100' : '98']) }];
    if (q.startsWith('vitals_load_requests_total{')) return [{ metric: { run: run! }, values: secs.map((t, i) => [t, String(i * 100)]) }];
    return [];
  };

  it('compares a run with a baseline run', async () => {
    stubFetch((url) => {
      if (url.pathname === '/api/v1/query') return ok({ resultType: 'matrix', result: answer(url.searchParams.get('query')!) });
      if (url.pathname === '/api/v1/query_range') {
        const q = url.searchParams.get('query')!;
        if (q.includes('quantile="0.95"') && q.includes('run="base"')) {
          return ok({ resultType: 'matrix', result: [{ metric: { quantile: '0.95', run: 'base' }, values: [[T0 + 1, '0.03'], [T0 + 5, '0.03']] }] });
        }
        return ok({ resultType: 'matrix', result: [{ metric: { quantile: '0.5' }, values: [[T0 + 101, '0.015']] }] });
      }
      return undefined;
    });
    const root = mount(loadPage, '/load?baseline=base');
    await flush();
    expect($$(root, 'load-run-row').map((r) => r.dataset.run)).toEqual(['new', 'base']);
    const table = $(root, 'load-compare')!;
    expect(table.dataset.run).toBe('new');
    expect(table.dataset.baseline).toBe('base');
    expect($(root, 'load-compare-baseline')!.textContent).toBe('base (baseline)');
    const rows = $$(root, 'load-compare-row');
    expect(rows.map((r) => r.dataset.key)).toEqual(['p50', 'p90', 'p95', 'p99', 'max', 'rps']);
    expect(rows.map((r) => r.dataset.verdict)).toEqual(['worse', 'worse', 'worse', 'worse', 'worse', 'same']);
    expect($(rows[2], 'load-compare-change')!.textContent).toBe('+50%');
    expect($(rows[5], 'load-compare-change')!.textContent).toBe('−2%');
    // The raw samples of each run are asked for at its end, over its span.
    const raw = calls.map((c) => c.url.searchParams.get('query')).filter((q) => q?.startsWith('vitals_load_latency_seconds{run="base"}['));
    expect(raw).toEqual(['vitals_load_latency_seconds{run="base"}[10s]']);
    // The baseline p95 is drawn on the run's time axis (shifted by 100 s: its T0+1 meets the run's T0+101).
    const latency = $($(root, 'load-latency')!, 'chart')!;
    expect(latency.dataset.series).toBe('2');
    expect(latency.dataset.points).toBe('2');
    // The server metric: its own chart, over the same range.
    const serverCall = calls.find((c) => c.url.pathname === '/api/v1/query_range' && c.url.searchParams.get('query')!.includes('_request_duration_seconds_count'))!;
    const latencyCall = calls.find((c) => c.url.pathname === '/api/v1/query_range' && c.url.searchParams.get('query')!.includes('quantile=~'))!;
    expect(serverCall.url.searchParams.get('start')).toBe(latencyCall.url.searchParams.get('start'));
    expect(serverCall.url.searchParams.get('end')).toBe(latencyCall.url.searchParams.get('end'));
    // Another expression from the input.
    ($(root, 'load-server-expr') as HTMLTextAreaElement).value = 'up';
    $(root, 'load-server-run')!.click();
    await flush();
    expect(calls.some((c) => c.url.searchParams.get('query') === 'up')).toBe(true);
    expect(setUrl).toHaveBeenLastCalledWith('/load?run=new&baseline=base&server=up', true);
  });
});
