// `/`: the state of everything at a glance, refreshed every 10 s.

import * as api from '../api';
import { Chart } from '../chart';
import { h, isAbort, noData, replace } from '../dom';
import { formatLabels, formatValue } from '../format';
import { firstValue, LiveFeed, liveAvailable, liveResolution } from '../live';
import { normalizeSlos } from '../model';
import { REFRESH_MS, type Page } from '../page';
import { bar, card, cardNoData, exploreHref, pageHeader, type Card } from '../widgets';

export const CPU_EXPR = '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))';
export const MEM_EXPR = '100 * (1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes))';
const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs|devtmpfs|nsfs|autofs"';
export const DISK_EXPR = `100 * max(1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}})`;
export const SLOWEST_EXPR =
  'topk(10, histogram_quantile(0.95, sum by (le, job, handler) (rate({__name__=~".+_request_duration_seconds_bucket"}[5m]))))';

const SPARK_RANGE = 3600;
const SPARK_STEP = 30;

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

  const slowBody = h('tbody');
  const slow = h(
    'section',
    { class: 'panel', 'data-testid': 'slowest' },
    h('h2', null, h('a', { href: exploreHref(SLOWEST_EXPR), class: 'plain' }, 'Slowest endpoints by p95 (5m)')),
    h(
      'table',
      { class: 'table', 'data-testid': 'slow-table' },
      h('thead', null, h('tr', null, h('th', null, 'job'), h('th', null, 'handler'), h('th', { class: 'num' }, 'p95'))),
      slowBody,
    ),
  );

  replace(
    root,
    pageHeader('Overview', h('span', { class: 'muted small' }, 'auto-refresh 10 s, host cards live')),
    h('div', { class: 'cards' }, targets.el, alerts.el, slos.el, cpu.el, mem.el, disk.el),
    slow,
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
    void guard(
      null,
      async () => {
        const v = await api.queryVector(SLOWEST_EXPR, undefined, sig);
        const rows = v
          .map((s) => ({ m: s.metric, v: parseFloat(s.value[1]) }))
          .filter((r) => Number.isFinite(r.v))
          .sort((a, b) => b.v - a.v);
        if (rows.length === 0) {
          replace(slowBody, h('tr', null, h('td', { colspan: 3 }, noData())));
          return;
        }
        replace(
          slowBody,
          rows.map((r) => {
            const { job, handler, ...rest } = r.m;
            return h(
              'tr',
              { 'data-testid': 'slow-row' },
              h('td', null, job ?? ''),
              h('td', null, h('code', null, handler ?? (Object.keys(rest).length ? formatLabels(rest) : ''))),
              h('td', { class: 'num' }, formatValue(r.v, 'seconds')),
            );
          }),
        );
      },
      () => replace(slowBody, h('tr', null, h('td', { colspan: 3 }, noData()))),
    );
  };
  refresh();
  scope.every(REFRESH_MS, refresh);
};
