// `/`: the state of everything at a glance, refreshed every 10 s.

import * as api from '../api';
import { Chart, color } from '../chart';
import { errText, h, isAbort, noData, replace, type Scope } from '../dom';
import { errorRatioExpr, matchRows, rowKey, rowMatchers, slowestExpr, topExpr, topRows, type Row } from '../endpoints';
import { formatLabels, formatValue, type Unit } from '../format';
import { firstValue, LiveFeed, liveAvailable, liveResolution } from '../live';
import { normalizeSlos } from '../model';
import { REFRESH_MS, type Page } from '../page';
import { bar, card, cardNoData, exploreHref, pageHeader, type Card } from '../widgets';

export const CPU_EXPR = '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))';
export const MEM_EXPR = '100 * (1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes))';
const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs|devtmpfs|nsfs|autofs"';
export const DISK_EXPR = `100 * max(1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}})`;

const SPARK_RANGE = 3600;
const SPARK_STEP = 30;
/** The step of the endpoint tables' sparklines (over the same hour). */
const ROW_SPARK_STEP = 60;

interface EndpointTableSpec {
  /** `slowest` or `errors`: the section's test id and the prefix of its table's and rows' ones. */
  id: string;
  title: string;
  /** The value per endpoint, over the series that also match `matchers`. */
  expr: (matchers?: string) => string;
  valueHeader: string;
  unit: Unit;
  stroke: string;
}

/**
 * A table of the top endpoints of `spec.expr` (an instant query) with a sparkline per row over the
 * last hour (one range query for all rows, restricted to their labels). `refresh` never throws:
 * a failed query shows "no data" (the table) or an empty sparkline. A row's chart is kept while
 * the endpoint stays in the table, so the sparkline does not blink on every refresh.
 */
function endpointTable(spec: EndpointTableSpec, scope: Scope) {
  const top = topExpr(spec.expr());
  const body = h('tbody');
  const el = h(
    'section',
    { class: 'panel', 'data-testid': spec.id },
    h('h2', null, h('a', { href: exploreHref(top), class: 'plain' }, spec.title)),
    h(
      'table',
      { class: 'table endpoints', 'data-testid': `${spec.id}-table` },
      h(
        'thead',
        null,
        h('tr', null, h('th', null, 'job'), h('th', null, 'handler'), h('th', { class: 'num' }, spec.valueHeader), h('th', { class: 'spark-cell' }, 'last hour')),
      ),
      body,
    ),
  );
  let charts = new Map<string, Chart>();
  /** Bumped by every refresh: an answer for an older one is dropped. */
  let gen = 0;
  const keepCharts = (keep: Map<string, Chart>) => {
    for (const [k, c] of charts) if (!keep.has(k)) c.destroy();
    charts = keep;
  };
  const showNoData = (reason?: unknown) => {
    keepCharts(new Map());
    replace(body, h('tr', null, h('td', { colspan: 4 }, noData(reason === undefined ? undefined : errText(reason)))));
  };
  const rowEl = (r: Row, chart: Chart) => {
    const { job, handler, ...rest } = r.labels;
    return h(
      'tr',
      { 'data-testid': `${spec.id}-row`, 'data-job': job ?? '', 'data-handler': handler ?? '', 'data-value': String(r.value) },
      h('td', null, job ?? ''),
      h(
        'td',
        null,
        h(
          'a',
          { href: exploreHref(spec.expr(rowMatchers([r.labels]))), class: 'plain', title: 'open in Explore' },
          h('code', null, handler ?? (Object.keys(rest).length ? formatLabels(rest) : '')),
        ),
      ),
      h('td', { class: 'num' }, formatValue(r.value, spec.unit)),
      h('td', { class: 'spark-cell' }, chart.el),
    );
  };

  const refresh = async (): Promise<void> => {
    const g = ++gen;
    let rows: Row[];
    try {
      rows = topRows(await api.queryVector(top, undefined, scope.signal));
    } catch (e) {
      if (!isAbort(e) && g === gen) showNoData(e);
      return;
    }
    if (g !== gen || scope.disposed) return;
    if (rows.length === 0) return showNoData();
    const keep = new Map<string, Chart>();
    const rowCharts = rows.map((r) => {
      const key = rowKey(r.labels);
      const chart =
        keep.get(key) ??
        charts.get(key) ??
        new Chart({ sparkline: true, height: 28, unit: spec.unit, testid: 'sparkline', seriesStyle: () => ({ stroke: spec.stroke }) });
      keep.set(key, chart);
      return chart;
    });
    replace(body, rows.map((r, i) => rowEl(r, rowCharts[i])));
    keepCharts(keep);

    const end = Math.floor(Date.now() / 1000);
    const labels = rows.map((r) => r.labels);
    let matrix: api.MatrixSeries[] = [];
    try {
      matrix = await api.queryMatrix(spec.expr(rowMatchers(labels)), end - SPARK_RANGE, end, ROW_SPARK_STEP, scope.signal);
    } catch (e) {
      if (isAbort(e)) return;
    }
    if (g !== gen || scope.disposed) return;
    matchRows(labels, matrix).forEach((s, i) => {
      if (s) rowCharts[i].setMatrix([s], { start: end - SPARK_RANGE, end });
      else rowCharts[i].message('no data');
    });
  };
  return { el, refresh, destroy: () => keepCharts(new Map()) };
}

export const overviewPage: Page = (root, ctx) => {
  const { scope } = ctx;
  const targets = card('Targets', 'card-targets', '/targets');
  const alerts = card('Alerts', 'card-alerts', '/alerts');
  const slos = card('SLO error budgets', 'card-slos', '/slos');
  const cpu = card('Host CPU', 'card-cpu', exploreHref(CPU_EXPR));
  const mem = card('Host memory', 'card-memory', exploreHref(MEM_EXPR));
  const disk = card('Host disk (fullest)', 'card-disk', exploreHref(DISK_EXPR));
  const cpuChart = new Chart({ sparkline: true, unit: 'percent' });
  const memChart = new Chart({ sparkline: true, unit: 'percent' });
  scope.add(() => cpuChart.destroy());
  scope.add(() => memChart.destroy());
  cpu.extra.append(cpuChart.el);
  mem.extra.append(memChart.el);

  const slowest = endpointTable(
    { id: 'slowest', title: 'Slowest endpoints by p95 (5m)', expr: slowestExpr, valueHeader: 'p95', unit: 'seconds', stroke: color(3) },
    scope,
  );
  const errors = endpointTable(
    { id: 'errors', title: 'Highest error ratios (5xx, 5m)', expr: errorRatioExpr, valueHeader: '5xx', unit: 'percentunit', stroke: color(1) },
    scope,
  );
  scope.add(() => slowest.destroy());
  scope.add(() => errors.destroy());

  replace(
    root,
    pageHeader('Overview', h('span', { class: 'muted small' }, 'auto-refresh 10 s, host cards live')),
    h('div', { class: 'cards' }, targets.el, alerts.el, slos.el, cpu.el, mem.el, disk.el),
    h('div', { class: 'endpoint-tables' }, slowest.el, errors.el),
  );

  const sig = scope.signal;
  // Each part loads on its own: a failing one shows "no data" and the others go on.
  const guard = async (c: Card | null, f: () => Promise<void>, onFail?: (e: unknown) => void) => {
    try {
      await f();
    } catch (e) {
      if (isAbort(e) || scope.disposed) return;
      if (c) cardNoData(c, e);
      onFail?.(e);
    }
  };

  const stat = async (c: Card, expr: string, chart: Chart | null) => {
    const v = await api.queryScalar(expr, sig);
    if (v === null) {
      cardNoData(c);
    } else {
      replace(c.value, formatValue(v, 'percent'));
    }
    if (chart) {
      const end = Math.floor(Date.now() / 1000);
      try {
        const m = await api.queryMatrix(expr, end - SPARK_RANGE, end, SPARK_STEP, sig);
        chart.setMatrix(m, { start: end - SPARK_RANGE, end });
        replace(c.sub, 'last hour');
      } catch (e) {
        if (isAbort(e)) return;
        chart.message('no data');
      }
    }
  };

  // The host cards (values and sparklines) follow the live stream once their first load is done;
  // while it runs the 10 s refresh leaves them alone, after it failed the refresh loads them again.
  let feed: LiveFeed | null = null;
  scope.add(() => feed?.close());
  const startLive = () => {
    if (feed || scope.disposed || !liveAvailable()) return;
    const cards = [cpu, mem, disk];
    const charts = [cpuChart, memChart, null];
    const f = new LiveFeed([CPU_EXPR, MEM_EXPR, DISK_EXPR], {
      onResult: (i, d, ev) => {
        if (feed !== f || d instanceof api.ApiError) return;
        const v = firstValue(d);
        if (v === null) cardNoData(cards[i]);
        else replace(cards[i].value, formatValue(v, 'percent'));
        const chart = charts[i];
        if (chart) {
          chart.pushLive(d, ev, SPARK_RANGE, liveResolution(SPARK_STEP));
          replace(cards[i].sub, 'last hour');
        }
      },
      onError: () => {
        if (feed !== f) return;
        feed = null;
        cpuChart.setLive(false);
        memChart.setLive(false);
      },
    });
    if (f.closed) return;
    feed = f;
    cpuChart.setLive(true);
    memChart.setLive(true);
  };

  const refresh = () => {
    void guard(targets, async () => {
      const d = await api.targets(sig);
      const list = d?.activeTargets ?? [];
      const up = list.filter((t) => t.health === 'up').length;
      const down = list.filter((t) => t.health === 'down').length;
      const unknown = list.length - up - down;
      replace(
        targets.value,
        h('span', { class: 'good' }, `${up} up`),
        ' · ',
        h('span', { class: down ? 'bad' : 'muted' }, `${down} down`),
      );
      replace(targets.sub, `${list.length} targets${unknown ? `, ${unknown} not scraped yet` : ''}`);
    });
    void guard(alerts, async () => {
      const d = await api.alerts(sig);
      const list = d?.alerts ?? [];
      const firing = list.filter((a) => a.state === 'firing');
      const pending = list.filter((a) => a.state === 'pending').length;
      replace(alerts.value, h('span', { class: firing.length ? 'bad' : 'good' }, `${firing.length} firing`));
      replace(alerts.sub, `${pending} pending`);
      const names = [...new Set(firing.map((a) => a.labels?.alertname ?? '?'))].slice(0, 5);
      replace(alerts.extra, names.length ? h('ul', { class: 'mini' }, names.map((n) => h('li', null, n))) : null);
    });
    void guard(slos, async () => {
      const list = normalizeSlos(await api.slos(sig));
      if (list.length === 0) {
        replace(slos.value, h('span', { class: 'muted' }, 'none'));
        replace(slos.sub, 'no SLOs configured');
        replace(slos.extra);
        return;
      }
      const worst = list.reduce<number | null>(
        (m, s) => (s.budgetRemaining === null ? m : m === null ? s.budgetRemaining : Math.min(m, s.budgetRemaining)),
        null,
      );
      replace(
        slos.value,
        worst === null ? noData() : h('span', { class: worst > 0.2 ? 'good' : worst > 0 ? 'warn' : 'bad' }, `${formatValue(worst, 'percentunit')} left`),
      );
      replace(slos.sub, `lowest of ${list.length} SLO${list.length === 1 ? '' : 's'}`);
      replace(
        slos.extra,
        h(
          'ul',
          { class: 'mini' },
          list.slice(0, 5).map((s) =>
            h('li', { 'data-testid': 'slo-budget' }, h('span', { class: 'mini-name' }, s.name), bar(s.budgetRemaining), formatValue(s.budgetRemaining, 'percentunit')),
          ),
        ),
      );
    });
    if (!feed) {
      void Promise.all([
        guard(cpu, () => stat(cpu, CPU_EXPR, cpuChart), () => cpuChart.message('no data')),
        guard(mem, () => stat(mem, MEM_EXPR, memChart), () => memChart.message('no data')),
        guard(disk, () => stat(disk, DISK_EXPR, null)),
      ]).then(startLive);
    }
    void slowest.refresh();
    void errors.refresh();
  };
  refresh();
  scope.every(REFRESH_MS, refresh);
};
