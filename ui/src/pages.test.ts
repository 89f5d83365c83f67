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
    const sel = $(root, 'dashboard-job') as HTMLSelectElement;
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
    expect($(root, 'slow-table')!.textContent).toContain('no data');
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
          if (q.startsWith('topk')) {
            return ok({ resultType: 'vector', result: [{ metric: { job: 'api', handler: '/slow' }, value: [1, '1.5'] }, { metric: { job: 'api', handler: '/fast' }, value: [1, '0.01'] }] });
          }
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
    expect($$(root, 'slow-row').map((r) => r.textContent)).toEqual(['api/slow1.5s', 'api/fast10ms']);
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
