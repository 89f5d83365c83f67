// `/dashboards?d=host&job=node&range=1h`: the built-in dashboards, refreshed every 10 s.

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, noData, replace, select } from '../dom';
import { ALL, DASHBOARDS, pickJob, substitute, type DashboardDef, type PanelDef } from '../dashboards';
import { formatValue } from '../format';
import { firstValue, LiveFeed, liveAvailable, liveResolution, type LiveEvent } from '../live';
import { REFRESH_MS, type Page } from '../page';
import { autoStep, parseDuration } from '../time';
import { exploreHref, pageHeader, rangePicker } from '../widgets';

interface LivePanel {
  def: PanelDef;
  refresh(vars: Record<string, string>, rangeSecs: number): Promise<void>;
  /** A pushed instant answer of the panel's expression. */
  push(d: api.QueryData, ev: LiveEvent, rangeSecs: number): void;
  setLive(on: boolean): void;
}

function panel(def: PanelDef, signal: AbortSignal, onDestroy: (f: () => void) => void, range: () => string): { el: HTMLElement; live: LivePanel } {
  const link = h('a', { class: 'panel-link small', title: 'open in Explore' }, '↗');
  const title = h('div', { class: 'panel-title' }, h('span', null, def.title), link);
  if (def.type === 'stat') {
    const value = h('div', { class: 'stat-value', 'data-testid': 'stat-value' }, '…');
    const el = h('section', { class: 'dash-panel stat', 'data-testid': 'panel', 'data-title': def.title, 'data-type': 'stat' }, title, value);
    return {
      el,
      live: {
        def,
        async refresh(vars) {
          const expr = substitute(def.expr, vars);
          link.setAttribute('href', exploreHref(expr, range()));
          try {
            const v = await api.queryScalar(expr, signal);
            replace(value, v === null ? noData() : formatValue(v, def.unit));
          } catch (e) {
            if (isAbort(e)) return;
            replace(value, noData(String(e)));
          }
        },
        push(d) {
          const v = firstValue(d);
          replace(value, v === null ? noData() : formatValue(v, def.unit));
        },
        setLive(on) {
          if (on) el.dataset.live = '1';
          else delete el.dataset.live;
        },
      },
    };
  }
  const chart = new Chart({ unit: def.unit, stacked: def.stacked, height: 220 });
  onDestroy(() => chart.destroy());
  const el = h('section', { class: 'dash-panel timeseries', 'data-testid': 'panel', 'data-title': def.title, 'data-type': 'timeseries' }, title, chart.el);
  return {
    el,
    live: {
      def,
      async refresh(vars, rangeSecs) {
        const expr = substitute(def.expr, vars);
        link.setAttribute('href', exploreHref(expr, range()));
        const end = Math.floor(Date.now() / 1000);
        try {
          chart.setMatrix(await api.queryMatrix(expr, end - rangeSecs, end, autoStep(rangeSecs), signal), { start: end - rangeSecs, end });
        } catch (e) {
          if (isAbort(e)) return;
          chart.message(`no data: ${String(e)}`, 'error');
        }
      },
      push(d, ev, rangeSecs) {
        chart.pushLive(d, ev, rangeSecs, liveResolution(autoStep(rangeSecs)));
      },
      setLive(on) {
        chart.setLive(on);
      },
    },
  };
}

export const dashboardsPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const params = new URLSearchParams(ctx.url.search);
  const dash: DashboardDef = DASHBOARDS.find((d) => d.id === params.get('d')) ?? DASHBOARDS[0];
  let range = parseDuration(params.get('range')) !== null ? params.get('range')! : '1h';
  let job = params.get('job') ?? '';

  const syncUrl = () => {
    const q = new URLSearchParams({ d: dash.id });
    if (job) q.set('job', job);
    if (range !== '1h') q.set('range', range);
    ctx.setUrl(`/dashboards?${q.toString()}`, true);
  };

  const tabs = h(
    'div',
    { class: 'tabs' },
    DASHBOARDS.map((d) =>
      h('a', { class: `tab${d.id === dash.id ? ' active' : ''}`, href: `/dashboards?d=${d.id}`, 'data-testid': `dashboard-${d.id}` }, d.title),
    ),
  );
  const jobSlot = h('label', null, '$job ', select([job || '…'], job || '…', () => {}, { disabled: true }));
  const grid = h('div', { class: 'dash-grid' });
  const live: LivePanel[] = [];
  for (const def of dash.panels) {
    const p = panel(def, scope.signal, (f) => scope.add(f), () => range);
    grid.append(p.el);
    live.push(p.live);
  }
  replace(
    root,
    pageHeader(
      'Dashboards',
      jobSlot,
      h('label', null, 'Range ', rangePicker(range, (v) => {
        range = v;
        syncUrl();
        stopLive();
        refresh();
      }, 'dashboard-range')),
    ),
    tabs,
    h('h2', { class: 'dash-title' }, dash.title),
    grid,
  );

  // After a load the panels follow the live stream; while it runs the 10 s refresh skips them, and
  // a new job or range starts over (load, then live).
  let feed: LiveFeed | null = null;
  let generation = 0;
  const stopLive = () => {
    feed?.close();
    feed = null;
    for (const p of live) p.setLive(false);
  };
  scope.add(stopLive);

  const startLive = (secs: number) => {
    if (feed || scope.disposed || !job || !liveAvailable()) return;
    const vars = { job };
    const f = new LiveFeed(
      live.map((p) => substitute(p.def.expr, vars)),
      {
        onResult: (i, d, ev) => {
          if (feed !== f || d instanceof api.ApiError) return;
          live[i]?.push(d, ev, secs);
        },
        onError: () => {
          if (feed !== f) return;
          feed = null;
          for (const p of live) p.setLive(false);
        },
      },
    );
    if (f.closed) return;
    feed = f;
    for (const p of live) p.setLive(true);
  };

  const refresh = () => {
    if (!job) return;
    const secs = parseDuration(range) ?? 3600;
    const my = ++generation;
    void Promise.all(live.map((p) => p.refresh({ job }, secs))).then(() => {
      if (my === generation) startLive(secs);
    });
  };

  // The $job variable: the jobs in the TSDB, the dashboard's default first choice.
  void (async () => {
    let jobs: string[] = [];
    try {
      jobs = (await api.labelValues('job', undefined, scope.signal)) ?? [];
    } catch (e) {
      if (isAbort(e)) return;
    }
    job = pickJob(jobs, job || null, dash.defaultJob);
    replace(
      jobSlot,
      '$job ',
      select(
        [...jobs.map((j): [string, string] => [j, j]), [ALL, 'All']],
        job,
        (v) => {
          job = v;
          syncUrl();
          stopLive();
          refresh();
        },
        { 'data-testid': 'dashboard-job', 'aria-label': 'job' },
      ),
    );
    syncUrl();
    refresh();
    scope.every(REFRESH_MS, () => {
      if (!feed) refresh();
    });
  })();
};
